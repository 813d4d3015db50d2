"""NIR import checked against an independent NumPy simulation of NIR's equations, per
node type and for random parameters; export -> file -> import round trips that give the
same spikes and gradients; metadata, warnings and errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import sc_neurocore
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons.base import RESET_MODES
from sc_neurocore.neurons.cells import IFCell, LIFCell, SynapticCell
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.integrator import LeakyIntegratorCell
from sc_neurocore.neurons.recurrent import RecurrentLIFCell
from sc_neurocore.neurons.synaptic import SynapticLIF

from .nir_reference import simulate
from .optional import require  # noqa: E402

nir = require("nir")
from sc_neurocore.nir import NIRMetadataWarning, from_nir, to_nir  # noqa: E402

DT = 1e-3
STEPS, BATCH, N_IN, N = 25, 3, 4, 6


def _neuron(kind: str, rng: np.random.Generator):
    """A NIR neuron node of ``kind`` with random parameters that make it fire sometimes."""
    tau = rng.uniform(2 * DT, 20 * DT, N)
    common = dict(v_threshold=rng.uniform(0.2, 1.0, N), v_reset=rng.uniform(-0.3, 0.1, N))
    if kind == "LIF":
        return nir.LIF(
            tau=tau, r=rng.uniform(0.5, 3, N), v_leak=rng.uniform(-0.1, 0.2, N), **common
        )
    if kind == "LI":
        return nir.LI(tau=tau, r=rng.uniform(0.5, 3, N), v_leak=rng.uniform(-0.1, 0.2, N))
    if kind == "IF":
        return nir.IF(r=rng.uniform(50, 300, N), **common)
    if kind == "I":
        return nir.I(r=rng.uniform(50, 300, N))
    cuba = dict(tau_syn=rng.uniform(2 * DT, 10 * DT, N), tau_mem=tau, r=rng.uniform(1, 4, N))
    cuba.update(v_leak=rng.uniform(-0.1, 0.2, N), w_in=rng.uniform(0.5, 2, N))
    if kind == "CubaLIF":
        return nir.CubaLIF(**cuba, **common)
    return nir.CubaLI(**cuba)


def _chain(*nodes):
    named = {"input": nir.Input(np.array([N_IN]))}
    edges, previous = [], "input"
    for index, node in enumerate(nodes):
        named[f"n{index}"] = node
        edges.append((previous, f"n{index}"))
        previous = f"n{index}"
    named["output"] = nir.Output(np.array([N]))
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=named, edges=edges)


def _affine(rng: np.random.Generator, n_in: int = N_IN):
    return nir.Affine(weight=rng.normal(0, 1.2, (N, n_in)), bias=rng.normal(0.3, 0.2, N))


def _input(rng: np.random.Generator) -> np.ndarray:
    return (rng.random((STEPS, BATCH, N_IN)) < 0.5).astype(np.float64)


def _run(module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.double()(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["LIF", "LI", "IF", "I", "CubaLIF", "CubaLI"])
def test_imported_neurons_follow_the_nir_equations(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    graph = _chain(_affine(rng), _neuron(kind, rng))
    x = _input(rng)
    want, history = simulate(graph, x, DT)
    module = from_nir(graph, dt=DT, dtype=torch.float64)
    got = _run(module, x)
    if kind in ("LIF", "IF", "CubaLIF"):
        assert np.array_equal(got, want), "spikes differ"
        assert 0 < want.sum() < want.size, "the random parameters should fire some neurons"
        # the membrane, stepped through the imported node itself
        neuron, state = module.node("n1"), ()
        currents = _run(module.node("n0"), x)
        for t, current in enumerate(torch.from_numpy(currents)):
            with torch.no_grad():
                _, *state = neuron(current, *state)
            np.testing.assert_allclose(
                state[-1].numpy(), history["n1"][t]["v"], rtol=1e-10, atol=1e-12
            )
    else:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_scale_threshold_linear_and_recurrent_edges_follow_the_reference() -> None:
    rng = np.random.default_rng(5)
    nodes = {
        "input": nir.Input(np.array([N_IN])),
        "w": nir.Linear(weight=rng.normal(0, 1, (N, N_IN))),
        "scale": nir.Scale(scale=rng.uniform(0.5, 2, N)),
        "lif": _neuron("LIF", rng),
        "w_rec": nir.Linear(weight=rng.normal(0, 0.5, (N, N))),
        "threshold": nir.Threshold(threshold=rng.uniform(-0.5, 0.5, N)),
        "output": nir.Output(np.array([N])),
    }
    edges = [("input", "w"), ("w", "scale"), ("scale", "lif"), ("lif", "w_rec"), ("w_rec", "lif")]
    edges += [("w_rec", "threshold"), ("threshold", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    x = _input(rng) * 3
    want, _ = simulate(graph, x, DT)
    got = _run(from_nir(graph, dt=DT, dtype=torch.float64), x)
    assert np.array_equal(got, want)
    assert 0 < want.sum() < want.size


def test_exp_discretisation_is_the_exact_solution_for_a_held_input() -> None:
    rng = np.random.default_rng(3)
    node = _neuron("LI", rng)
    graph = _chain(nir.Linear(weight=np.eye(N, N_IN)), node)
    x = np.ones((STEPS, 1, N_IN))
    got = _run(from_nir(graph, dt=DT, method="exp", dtype=torch.float64), x)
    t = DT * np.arange(1, STEPS + 1)[:, None]
    drive = node.v_leak + node.r * np.eye(N, N_IN).sum(1)
    exact = drive * (1 - np.exp(-t / node.tau))
    np.testing.assert_allclose(got[:, 0], exact, rtol=1e-10, atol=1e-12)


def _models() -> dict[str, tuple[torch.nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    atan = sc_neurocore.get_surrogate("fast_sigmoid", slope=20.0)
    models = {
        f"spiking_net_{reset}": SpikingNet(N_IN, 7, 3, reset=reset, threshold=0.6)
        for reset in RESET_MODES
    }
    models["spiking_net_fused"] = SpikingNet(N_IN, 7, 3, fused=True, learn_beta=True)
    models["sequential"] = torch.nn.Sequential(
        torch.nn.Linear(N_IN, 6),
        LIFCell(0.8, 0.5, atan, reset="zero", v_reset=-0.2, learn_threshold=True),
        torch.nn.Linear(6, 5, bias=False),
        SynapticCell(0.7, 0.85, 0.4, reset="subtract"),
        torch.nn.Linear(5, 5),
        IFCell(0.7, reset="none"),
        torch.nn.Linear(5, 4),
        LIF(0.9, torch.linspace(0.3, 0.6, 4), reset="zero"),
    )
    models["fused_synaptic_and_readout"] = torch.nn.Sequential(
        torch.nn.Linear(N_IN, 6),
        SynapticLIF(0.7, 0.8, 0.3, reset="zero", learn_alpha=True),
        torch.nn.Linear(6, 3),
        LeakyIntegratorCell(0.9),
    )
    models["recurrent"] = torch.nn.Sequential(
        torch.nn.Linear(N_IN, 5), RecurrentLIFCell(5, 0.85, 0.5)
    )
    models["conv"] = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1),
        LIFCell(0.9, 0.5, reset="zero"),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4 * 4, 4),
        LIFCell(0.9, 0.5, reset="zero"),
    )
    models["conv1d"] = torch.nn.Sequential(
        torch.nn.Conv1d(2, 3, 3, stride=2, padding=1),
        LIFCell(0.9, 0.4, reset="zero"),
        torch.nn.Flatten(),
        torch.nn.Linear(3 * 4, 4),
        LIFCell(0.9, 0.4, reset="zero"),
    )
    shapes = {"conv": (2, 4, 4), "conv1d": (2, 8)}
    return {name: (model.double(), shapes.get(name, (N_IN,))) for name, model in models.items()}


def _reference_outputs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The original module's output-layer spikes per step, stepped by hand."""
    if isinstance(model, SpikingNet):
        counts, _ = model(x)
        return counts
    state: dict[int, tuple] = {}
    outputs = []
    for step in x.unbind(0):
        value = step
        for index, layer in enumerate(model):
            if isinstance(layer, LeakyIntegratorCell):
                value = layer(value, *state.get(index, ()))
                state[index] = (value,)
            elif isinstance(layer, LIF) and not isinstance(layer, SynapticLIF):
                spikes, v = layer(value.unsqueeze(0), *state.get(index, ()))
                value, state[index] = spikes[0], (v,)
            elif isinstance(layer, SynapticLIF):
                i0, v0 = state.get(index, (None, None))
                spikes, i_t, v_t = layer(value.unsqueeze(0), i0, v0)
                value, state[index] = spikes[0], (i_t, v_t)
            elif isinstance(layer, (LIFCell, SynapticCell, IFCell)):
                value, *rest = layer(value, *state.get(index, ()))
                state[index] = (
                    tuple(rest) if not isinstance(layer, RecurrentLIFCell) else (value, *rest)
                )
            else:
                value = layer(value)
        outputs.append(value)
    return torch.stack(outputs)


@pytest.mark.parametrize("name", list(_models()))
def test_round_trip_through_a_file_keeps_spikes_and_gradients(name: str, tmp_path: Path) -> None:
    model, shape = _models()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRMetadataWarning)
        graph = to_nir(model, dt=DT, input_shape=shape)
    nir.write(tmp_path / "model.nir", graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NIRMetadataWarning)  # every cell restored as exported
        imported = from_nir(tmp_path / "model.nir", dt=DT, dtype=torch.float64)
    x = (
        torch.rand(STEPS, BATCH, *shape, generator=torch.Generator().manual_seed(1)) < 0.5
    ).double()
    x_a, x_b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    want = _reference_outputs(model, x_a)
    got = imported(x_b)
    got = got.sum(0) if isinstance(model, SpikingNet) else got
    if name.endswith("readout"):  # an LI membrane: the decay is 1 - dt/tau, rounded
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    else:
        assert torch.equal(got, want)
        assert 0 < int(want.gt(0).sum()) < want.numel(), "some outputs should fire, not all"
    weights = torch.linspace(-1, 1, want.numel(), dtype=want.dtype).view_as(want)
    (grad_a,) = torch.autograd.grad((want * weights).sum(), x_a)
    (grad_b,) = torch.autograd.grad((got * weights).sum(), x_b)
    assert bool(grad_a.ne(0).any())
    torch.testing.assert_close(grad_b, grad_a, rtol=1e-9, atol=1e-12)


def test_imported_nodes_keep_the_metadata_warning_free_when_nothing_changed() -> None:
    graph = to_nir(torch.nn.Sequential(torch.nn.Linear(N_IN, 4), LIFCell(reset="zero")), dt=DT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_nir(graph, dt=DT)
    with pytest.warns(NIRMetadataWarning, match="differ from its sc_neurocore metadata"):
        from_nir(graph, dt=2 * DT)  # another dt: the node's own parameters run


def test_unrepresentable_things_warn_or_are_refused() -> None:
    with pytest.warns(NIRMetadataWarning, match="reset='subtract'"):
        graph = to_nir(torch.nn.Sequential(torch.nn.Linear(N_IN, 4), LIFCell()), dt=DT)
    assert graph.nodes["lif1"].metadata["sc_neurocore"]["reset"] == "subtract"
    with pytest.warns(NIRMetadataWarning, match="not a registered surrogate"):
        to_nir(
            torch.nn.Sequential(
                torch.nn.Linear(N_IN, 4), LIFCell(surrogate_fn=torch.sigmoid, reset="zero")
            ),
            dt=DT,
        )
    with pytest.raises(TypeError, match="has no NIR node"):
        to_nir(torch.nn.Sequential(torch.nn.Linear(N_IN, 4), torch.nn.ReLU()), dt=DT)
    with pytest.raises(ValueError, match="dt must be a positive"):
        to_nir(torch.nn.Linear(N_IN, 4), dt=0)
    with pytest.raises(ValueError, match="input_shape"):
        to_nir(LIFCell(), dt=DT)
    with pytest.raises(ValueError, match="fractional delay"):
        nodes = {"input": nir.Input(np.array([N])), "delay": nir.Delay(delay=np.full(N, 0.4 * DT))}
        nodes["output"] = nir.Output(np.array([N]))
        edges = [("input", "delay"), ("delay", "output")]
        from_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT)
