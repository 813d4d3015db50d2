"""``SpikingNet(neuron=...)``: hidden layers from any registered neuron spec, fused."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons import Neuron
from sc_neurocore.neurons.cells import LIFCell

SPIKING = [n for n in sc_neurocore.list_neurons() if sc_neurocore.get_neuron_spec(n).spiking]


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_neuron_lif_is_the_default_network(reset: str) -> None:
    """The lif spec's layers give the stepped LIFCell network's outputs, and the same
    state_dict keys (a model trained one way loads the other)."""
    torch.manual_seed(0)
    default = SpikingNet(5, 7, 3, n_layers=3, reset=reset, v_reset=-0.1).double()
    spec_net = SpikingNet(5, 7, 3, n_layers=3, reset=reset, v_reset=-0.1, neuron="lif").double()
    with torch.no_grad():  # strong enough weights that the output layer fires
        for layer in default.layers:
            layer.weight.mul_(4)
    spec_net.load_state_dict(default.state_dict())
    assert all(isinstance(n, LIFCell) for n in default.neurons)
    assert all(isinstance(n, Neuron) for n in spec_net.neurons[:-1])
    assert all(n.runs[0] == "fused" for n in spec_net.neurons[:-1])
    x = (torch.rand(9, 4, 5, dtype=torch.float64) < 0.6).double() * 1.5
    counts, membrane = spec_net(x)
    want_counts, want_membrane = default(x)
    assert 0 < int(counts.sum()) < counts.numel() * x.shape[0]  # some spikes, not all
    torch.testing.assert_close(counts, want_counts, rtol=0, atol=0)
    torch.testing.assert_close(membrane, want_membrane)


@pytest.mark.parametrize("neuron", SPIKING)
def test_every_spiking_neuron_builds_a_network_that_learns(neuron: str) -> None:
    torch.manual_seed(1)
    net = SpikingNet(6, 8, 3, neuron=neuron, learn_threshold=True)
    hidden = net.neurons[0]
    assert isinstance(hidden, Neuron) and hidden.spec.name == neuron
    assert hidden.learn == (("threshold",) if "threshold" in hidden.spec.param_names else ())
    counts, membrane = net(torch.rand(6, 2, 6) * 2)
    (counts.sum() + membrane.sum()).backward()
    grad = net.layers[0].weight.grad
    assert grad is not None and bool(torch.isfinite(grad).all())


def test_neuron_params_reach_the_spec() -> None:
    net = SpikingNet(4, 5, 2, neuron="alif", beta=0.8, neuron_params={"rho": 0.95})
    hidden = net.neurons[0]
    assert hidden.param("rho") == 0.95 and hidden.param("beta") == 0.8


def test_bad_neuron_options_name_the_argument() -> None:
    with pytest.raises(ValueError, match="'li' does not spike"):
        SpikingNet(4, 5, 2, neuron="li")
    with pytest.raises(ValueError, match="neuron_params names 'nope'"):
        SpikingNet(4, 5, 2, neuron="alif", neuron_params={"nope": 1.0})
    with pytest.raises(ValueError, match="neuron_params=.*needs neuron="):
        SpikingNet(4, 5, 2, neuron_params={"rho": 1.0})
    with pytest.raises(LookupError, match="unknown neuron 'no_such'"):
        SpikingNet(4, 5, 2, neuron="no_such")
