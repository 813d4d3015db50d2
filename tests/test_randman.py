"""Randman: determinism for a seed, the statistics the description promises, bad input."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from sc_neurocore.tasks.randman import RandmanConfig, make_randman, spike_raster

SMALL = dict(classes=3, units=6, steps=40, dim=2, samples_per_class=50)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again = make_randman(**SMALL, seed=5), make_randman(**SMALL, seed=5)
    other = make_randman(**SMALL, seed=6)
    assert torch.equal(first.times, again.times) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.times, other.times)


def test_one_spike_time_per_unit_inside_the_window() -> None:
    data = make_randman(**SMALL, window=30)
    assert data.times.shape == (150, 6) and data.times.dtype == torch.int64
    assert int(data.times.min()) == 0 and int(data.times.max()) == 29
    raster = spike_raster(data.times, 40)
    assert raster.shape == (40, 150, 6)
    assert torch.equal(raster.sum(0), torch.ones(150, 6))  # exactly one spike per unit
    assert float(raster[30:].sum()) == 0.0


def test_each_class_is_min_max_normalised_per_unit() -> None:
    data = make_randman(**SMALL)
    for label in range(3):
        times = data.times[data.labels == label]
        assert len(times) == 50
        assert torch.equal(times.min(0).values, torch.zeros(6, dtype=torch.int64))
        assert torch.equal(times.max(0).values, torch.full((6,), 39))


def test_more_samples_extend_the_same_manifolds() -> None:
    """The manifold coefficients do not depend on the number of samples."""
    few = make_randman(**{**SMALL, "samples_per_class": 50, "dim": 1})
    many = make_randman(**{**SMALL, "samples_per_class": 400, "dim": 1})

    # The class means of the spike times agree far better than those of two different seeds.
    def means(data):  # type: ignore[no-untyped-def]
        return torch.stack([data.times[data.labels == c].double().mean(0) for c in range(3)])

    other = make_randman(**{**SMALL, "samples_per_class": 400, "dim": 1, "seed": 9})
    assert (means(few) - means(many)).abs().mean() < (means(other) - means(many)).abs().mean()


def test_smoothness_nearby_points_give_nearby_times() -> None:
    """Larger alpha damps the high frequencies: samples close on one unit are close on all."""

    def jumps(alpha: float) -> float:
        data = make_randman(
            classes=2, units=8, steps=1000, dim=1, alpha=alpha, samples_per_class=400, frequencies=8
        )
        times = data.times[data.labels == 0].double()
        ordered = times[times[:, 0].argsort()]  # walk along the manifold by the first unit
        return float((ordered[1:, 1:] - ordered[:-1, 1:]).abs().mean())

    assert jumps(3.0) < jumps(0.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("classes", 1, "classes"),
        ("units", 0, "units"),
        ("alpha", -1.0, "alpha"),
        ("seed", -3, "seed"),
        ("window", 41, "window"),
        ("dim", True, "dim"),
    ],
)
def test_bad_configuration_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RandmanConfig(**{**SMALL, field: value})


def test_config_is_recorded_exactly() -> None:
    data = make_randman(**SMALL, seed=2)
    assert data.config.as_dict() == dataclasses.asdict(RandmanConfig(**SMALL, seed=2))
    with pytest.raises(TypeError, match="either a config"):
        make_randman(data.config, seed=3)


def test_raster_rejects_out_of_range_times() -> None:
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        spike_raster(torch.tensor([[10]]), 10)
    with pytest.raises(TypeError, match="int64"):
        spike_raster(torch.tensor([[1.0]]), 10)
