"""What the NIR modules share: the metadata key, the warning, the optional import."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["METADATA_KEY", "NIRMetadataWarning", "import_nir", "same_neuron_parameters"]

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


#: The parameters of NIR's neuron nodes (those a node has are compared).
NEURON_FIELDS = ("tau", "tau_mem", "tau_syn", "r", "w_in", "v_threshold", "v_reset", "v_leak")


def same_neuron_parameters(node: Any, again: Any) -> bool:
    """Whether ``again`` (a module's re-export) has ``node``'s neuron parameters, to float
    rounding: the test that a node still is what its metadata describes."""
    return all(
        np.allclose(getattr(again, field), getattr(node, field), rtol=1e-6, atol=1e-12)
        for field in NEURON_FIELDS
        if hasattr(node, field)
    )
