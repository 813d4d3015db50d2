"""What the NIR modules share: the metadata key, the warning, the optional import."""

from __future__ import annotations

from typing import Any

__all__ = ["METADATA_KEY", "NIRMetadataWarning", "import_nir"]

#: The key of this project's entry in a NIR node's ``metadata``.
METADATA_KEY = "sc_neurocore"


class NIRMetadataWarning(UserWarning):
    """Something NIR cannot represent was carried in a node's metadata instead."""


def import_nir() -> Any:
    try:
        import nir
    except ImportError as error:  # pragma: no cover - the extra is installed in CI
        raise ImportError(
            "NIR support needs the 'nir' package: pip install nir (the 'nir' extra)"
        ) from error
    return nir
