"""This distribution's own checks on top of the conformance kit (which pyproject.toml loads)."""

from __future__ import annotations

import sc_neurocore_extra_neurons as plugin
import torch

import sc_neurocore
from sc_neurocore.neurons import Neuron

NAMES = [spec.name for spec in plugin.NEURONS]


def test_every_neuron_is_registered_from_this_distribution() -> None:
    assert set(NAMES) <= set(sc_neurocore.list_neurons())
    for spec in plugin.NEURONS:
        assert sc_neurocore.get_neuron_spec(spec.name) is spec


def test_the_soma_sees_the_input_only_through_the_dendrite() -> None:
    x = torch.full((20, 1, 3), 0.6, dtype=torch.float64)
    cut, _ = Neuron("two_compartment", g=0.0).double()(x)
    coupled, final = Neuron("two_compartment").double()(x)
    assert not cut.any() and coupled.any()
    assert float(final["d"].min()) > 0


def test_a_spike_blocks_the_next_input() -> None:
    x = torch.full((30, 1, 1), 0.8, dtype=torch.float64)
    spikes, _ = Neuron("refractory_lif", rho=0.0).double()(x)
    plain, _ = Neuron("lif").double()(x)
    fired = spikes.flatten().nonzero().flatten().tolist()
    assert fired and all(b - a >= 2 for a, b in zip(fired, fired[1:]))
    assert spikes.sum() < plain.sum()  # the refractory neuron fires less on the same drive
