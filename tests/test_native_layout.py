"""The compiled fused LIF sizes its chunks from the core's L2 cache (sysfs), with a fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from sc_neurocore.kernels.native import lif


@pytest.mark.parametrize(
    ("text", "size"), [("2048K", 2 << 20), ("1M", 1 << 20), ("512", 512), ("?K", None)]
)
def test_cache_size_parses_sysfs_sizes(text: str, size: int | None) -> None:
    assert lif.cache_size(text + "\n") == size


def _index(root: Path, name: str, level: int, kind: str, size: str) -> None:
    (root / name).mkdir()
    for field, value in (("level", str(level)), ("type", kind), ("size", size)):
        (root / name / field).write_text(value + "\n")


def test_private_cache_is_the_level_2_entry(tmp_path: Path) -> None:
    _index(tmp_path, "index0", 1, "Data", "48K")
    _index(tmp_path, "index1", 1, "Instruction", "32K")
    _index(tmp_path, "index2", 2, "Unified", "2048K")
    _index(tmp_path, "index3", 3, "Unified", "307200K")
    assert lif.private_cache_bytes(tmp_path) == 2 << 20
    assert lif.private_cache_bytes(tmp_path / "missing") is None


def test_chunks_fit_the_cache_and_the_kernel_limit() -> None:
    assert 1 << 18 <= lif.CHUNK_BYTES <= 1 << 22
    l2 = lif.private_cache_bytes()
    if l2 is not None:
        assert lif.CHUNK_BYTES <= l2
