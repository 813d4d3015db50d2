"""Every way a caller can keep a fused layer's output storage alive after dropping the
tensor: the pool must never hand that storage out again (docs/trust.md)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch

import sc_neurocore
from sc_neurocore.kernels import buffers as _buffers
from sc_neurocore.neurons.fused import LIF

from .test_fused_buffers import pooling  # noqa: F401  (autouse here too: pooling on, cache emptied)

SHAPE = (16, 8, 4096)  # 2 MiB of float32: pooled


def _typed_storage(spikes: torch.Tensor) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # TypedStorage is deprecated, still legal
        return spikes.storage()


def _as_tensor(storage: Any, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(0, dtype=like.dtype).set_(storage, 0, like.shape, like.stride())


#: name -> (keep what from the spikes, read the kept bytes back as the spikes' tensor)
HOLDERS: dict[str, tuple[Callable[[torch.Tensor], Any], Callable[[Any, torch.Tensor], Any]]] = {
    "untyped_storage()": (lambda s: s.untyped_storage(), _as_tensor),
    "storage()": (_typed_storage, _as_tensor),
    "storage() in a list": (lambda s: [_typed_storage(s)], lambda k, s: _as_tensor(k[0], s)),
    "_typed_storage()": (lambda s: s._typed_storage(), _as_tensor),
    "view": (lambda s: s.view(-1), lambda k, s: k.view(s.shape)),
    "slice": (lambda s: s[2:], lambda k, s: torch.cat([torch.full_like(s[:2], torch.nan), k])),
    "numpy()": (lambda s: s.numpy(), lambda k, s: torch.from_numpy(k)),
    "memoryview": (
        lambda s: memoryview(s.numpy()),
        lambda k, s: torch.frombuffer(k, dtype=s.dtype).view(s.shape),
    ),
    "set_ on another tensor": (
        lambda s: torch.empty(0).set_(s.untyped_storage(), 0, s.shape, s.stride()),
        lambda k, s: k,
    ),
    "dlpack": (lambda s: torch.utils.dlpack.to_dlpack(s), lambda k, s: torch.from_dlpack(k)),
    "detach()": (lambda s: s.detach(), lambda k, s: k),
    "as_strided": (lambda s: s.as_strided(s.shape, s.stride()), lambda k, s: k),
}


def _inputs(seed: int) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed)) * 0.7 + 0.3


@pytest.mark.parametrize("way", sorted(HOLDERS))
def test_storage_a_caller_keeps_is_never_written_over(way: str) -> None:
    keep, read = HOLDERS[way]
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("atan"))
    spikes = layer(_inputs(1))[0]
    expected = spikes.clone()
    kept = keep(spikes)
    like = torch.empty_like(spikes)
    del spikes
    for seed in range(2, 2 + _buffers.POOL_SLOTS):  # more calls than the pool has slots
        later = layer(_inputs(seed))[0]
        assert not torch.equal(later, expected)
        del later
    got = read(kept, like)
    mask = ~torch.isnan(got)
    torch.testing.assert_close(got[mask], expected[mask], rtol=0, atol=0)


def test_storage_given_back_is_reused() -> None:
    """The checks must not turn pooling off: a storage nobody keeps comes back."""
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("atan"))
    spikes = layer(_inputs(1))[0]
    storage = spikes.untyped_storage()
    address = storage.data_ptr()
    del spikes, storage
    assert layer(_inputs(2))[0].data_ptr() == address
