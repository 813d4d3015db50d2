"""The fused layers fuse a surrogate only when they recognise its type, never its attributes."""

from __future__ import annotations

import functools

import pytest
import torch

import sc_neurocore
from sc_neurocore.training import LIF, atan_surrogate, atan_surrogate_legacy


def _doubled_spike(x: torch.Tensor) -> torch.Tensor:
    return 2.0 * atan_surrogate(x)


def test_a_wraps_wrapper_that_changes_the_spike_runs_stepwise() -> None:
    # functools.wraps copies every attribute of the call form (its name, its path, its spec
    # accessors); a layer that looked at attributes would fuse the plain surrogate instead.
    wrapper = functools.wraps(atan_surrogate)(_doubled_spike)
    layer = LIF(beta=0.9, surrogate_fn=wrapper)
    assert not layer.fused
    x = torch.rand(6, 2, 3) * 2
    spikes, _ = layer(x)
    assert set(spikes.unique().tolist()) <= {0.0, 2.0} and spikes.max() == 2.0


@pytest.mark.parametrize(
    "fn",
    [
        atan_surrogate,
        atan_surrogate_legacy,
        functools.partial(atan_surrogate, alpha=3.0),
        sc_neurocore.get_surrogate("atan", alpha=3.0),
    ],
    ids=["call form", "pinned call form", "partial", "get_surrogate"],
)
def test_registered_surrogates_are_fused(fn: object) -> None:
    layer = LIF(beta=0.9, surrogate_fn=fn)  # type: ignore[arg-type]
    assert layer.fused
    x = torch.rand(6, 2, 3) * 2
    fused, _ = layer(x)
    reference = LIF(beta=0.9, surrogate_fn=lambda v: fn(v))  # type: ignore[operator]
    assert not reference.fused
    assert torch.equal(fused, reference(x)[0])
