"""The compiled neuron kernels size its chunks from the core's L2 cache (sysfs), with a fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from sc_neurocore.kernels.native import runtime


@pytest.mark.parametrize(
    ("text", "size"), [("2048K", 2 << 20), ("1M", 1 << 20), ("512", 512), ("?K", None)]
)
def test_cache_size_parses_sysfs_sizes(text: str, size: int | None) -> None:
    assert runtime.cache_size(text + "\n") == size


def _index(root: Path, name: str, level: int, kind: str, size: str) -> None:
    (root / name).mkdir()
    for field, value in (("level", str(level)), ("type", kind), ("size", size)):
        (root / name / field).write_text(value + "\n")


def test_private_cache_is_the_level_2_entry(tmp_path: Path) -> None:
    _index(tmp_path, "index0", 1, "Data", "48K")
    _index(tmp_path, "index1", 1, "Instruction", "32K")
    _index(tmp_path, "index2", 2, "Unified", "2048K")
    _index(tmp_path, "index3", 3, "Unified", "307200K")
    assert runtime.private_cache_bytes(tmp_path) == 2 << 20
    assert runtime.private_cache_bytes(tmp_path / "missing") is None


def test_chunks_fit_the_cache_and_the_kernel_limit() -> None:
    assert 1 << 18 <= runtime.CHUNK_BYTES <= 1 << 22
    l2 = runtime.private_cache_bytes()
    if l2 is not None:
        assert runtime.CHUNK_BYTES <= l2


@pytest.mark.parametrize("element_size", [4, 8])
@pytest.mark.parametrize("steps", [1, 3, 25, 100, 200, 500, 5000])
def test_chunks_suit_the_c_loop_and_the_cache(steps: int, element_size: int) -> None:
    """A chunk is a multiple of 16 neurons within the C loop's 4096, one time step of it
    spans a row of ROW_BYTES, and its history fits CHUNK_BYTES whenever such a row allows."""
    chunk = runtime.chunk_neurons(steps, element_size)
    low, high = runtime.ROW_BYTES
    row = chunk * element_size
    assert chunk % 16 == 0 and 16 <= chunk <= 4096
    assert low <= row <= high and row & (row - 1) == 0
    assert steps * row <= runtime.CHUNK_BYTES or row == low
    assert row == high or steps * row * 2 > runtime.CHUNK_BYTES
