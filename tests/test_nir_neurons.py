"""Neuron specs through NIR: every registered neuron and reset survives ``to_nir`` ->
``nir.write`` -> ``nir.read`` -> ``from_nir`` exactly (spec, params, learned params,
surrogate, outputs), the built-ins NIR has a node for are written as that node (and the
node alone, read as any NIR producer's, runs the same steps), the rest as a stand-in."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import sc_neurocore
from sc_neurocore.core.neuron_spec import RESET_MODES
from sc_neurocore.interchange.nir_export import NIRMetadataWarning, to_nir
from sc_neurocore.interchange.nir_import import from_nir
from sc_neurocore.interchange.nir_modules import ContinuousNeuron, NeuronNode
from sc_neurocore.interchange.nir_neurons import NIR_NODES
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons import Neuron

from .optional import require

nir = require("nir")
DT = 1e-3
VARIANTS = [
    (name, reset)
    for name in sc_neurocore.list_neurons()
    for reset in (RESET_MODES if sc_neurocore.get_neuron_spec(name).spiking else ("subtract",))
]


def _model(name: str, reset: str) -> nn.Sequential:
    """Linear -> Neuron(name) in float64, a per-neuron learned first param."""
    torch.manual_seed(sum(map(ord, name + reset)))
    spec = sc_neurocore.get_neuron_spec(name)
    first, default = spec.params[0]
    per_neuron = default * (1 + 0.05 * torch.linspace(-1, 1, 4, dtype=torch.float64))
    surrogate = sc_neurocore.get_surrogate("superspike", beta=7.0)
    layer = Neuron(name, surrogate, reset=reset, learn=(first,), **{first: per_neuron})
    scale = 20.0 if name == "izhikevich" else 1.5  # millivolts per step for izhikevich
    linear = nn.Linear(5, 4).double()
    with torch.no_grad():
        linear.weight.mul_(scale)
    return nn.Sequential(linear, layer.double())


def _run(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    return model[1](model[0](x))[0]


def _written_and_read(graph: object, path: Path) -> object:
    nir.write(path, graph)
    return nir.read(path)


def _neuron_node(graph: object) -> object:
    (node,) = [n for k, n in graph.nodes.items() if k not in ("input", "output", "affine0")]
    return node


@pytest.mark.parametrize(("name", "reset"), VARIANTS)
def test_every_neuron_round_trips_exactly(name: str, reset: str, tmp_path: Path) -> None:
    model = _model(name, reset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = to_nir(model, dt=DT)
    node = _neuron_node(graph)
    expected = NIR_NODES.get(name) or ("Threshold" if model[1].spec.spiking else "Identity")
    assert type(node).__name__ == expected
    carried = name not in NIR_NODES or (model[1].spec.spiking and reset != "zero")
    assert any(issubclass(w.category, NIRMetadataWarning) for w in caught) == carried
    imported = from_nir(_written_and_read(graph, tmp_path / "n.nir"), dt=DT, dtype=torch.float64)
    (layer,) = [m for m in imported.nodes.values() if isinstance(m, NeuronNode)]
    original = model[1]
    assert layer.spec == original.spec and hash(layer.spec) == hash(original.spec)
    assert layer.learn == original.learn
    for param in original.spec.param_names:
        torch.testing.assert_close(
            torch.as_tensor(layer.param(param)),
            torch.as_tensor(original.param(param)),
            rtol=0,
            atol=0,
        )
    assert layer.surrogate_fn.spec.name == "superspike" and layer.surrogate_fn.params["beta"] == 7.0
    x = torch.rand(12, 3, 5, dtype=torch.float64)
    want = _run(model, x)
    with torch.no_grad():
        got = imported(x)
    torch.testing.assert_close(got, want.detach(), rtol=0, atol=0, equal_nan=True)
    again = _neuron_node(to_nir(imported, dt=DT))
    assert type(again).__name__ == expected
    assert again.metadata["sc_neurocore"]["spec"] == node.metadata["sc_neurocore"]["spec"]


@pytest.mark.parametrize("name", list(NIR_NODES))
def test_the_nir_node_alone_runs_the_same_steps(name: str) -> None:
    """Without this project's metadata (as another tool reads it) the node is NIR's own
    model discretised by the same rules, and gives the layer's outputs."""
    spiking = sc_neurocore.get_neuron_spec(name).spiking
    model = _model(name, "zero" if spiking else "subtract")
    graph = to_nir(model, dt=DT)
    for node in graph.nodes.values():
        node.metadata = {}
    imported = from_nir(graph, dt=DT, dtype=torch.float64)
    assert any(isinstance(m, ContinuousNeuron) for m in imported.nodes.values())
    x = torch.rand(12, 3, 5, dtype=torch.float64)
    want = _run(model, x).detach()
    with torch.no_grad():
        got = imported(x)
    if spiking:
        assert torch.equal(got, want) and 0 < int(want.sum()) < want.numel()
    else:
        torch.testing.assert_close(got, want)


def test_a_spiking_net_of_spec_neurons_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = SpikingNet(5, 6, 3, neuron="alif", beta=0.85).double()
    with pytest.warns(NIRMetadataWarning, match="'alif' has no NIR node"):
        graph = to_nir(net, dt=DT)
    imported = from_nir(_written_and_read(graph, tmp_path / "net.nir"), dt=DT, dtype=torch.float64)
    hidden = [m for m in imported.nodes.values() if isinstance(m, NeuronNode)]
    assert [m.spec.name for m in hidden] == ["alif"] and hidden[0].param("beta") == 0.85
    x = (torch.rand(10, 2, 5, dtype=torch.float64) < 0.5).double() * 2
    with torch.no_grad():
        counts, _ = net(x)
        spikes = imported(x)
    torch.testing.assert_close(spikes.sum(0), counts, rtol=0, atol=0)
