"""NIR 1.0's convolution, pooling, delay, flatten, scale and threshold nodes, imported
through a file and checked against tests/nir_reference.py (NumPy, from NIR's equations);
their export from this project's modules; the time-step warning."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sc_neurocore.interchange.nir_import import NIRSpecWarning, NIRTimeStepWarning
from sc_neurocore.interchange.nir_layers import AvgPool2d, SumPool2d
from sc_neurocore.neurons.cells import IFCell, LIFCell

from .nir_reference import simulate
from .optional import require

nir = require("nir")
from sc_neurocore.nir import from_nir, to_nir  # noqa: E402

DT = 1e-3
STEPS, BATCH = 6, 2


def _graph(nodes: dict, shape, out_shape, type_check: bool = True):
    """Input -> nodes in order -> Output."""
    named = {
        "input": nir.Input(np.array(shape)),
        **nodes,
        "output": nir.Output(np.array(out_shape)),
    }
    names = list(named)
    edges = list(zip(names[:-1], names[1:]))
    return nir.NIRGraph(nodes=named, edges=edges, type_check=type_check)


def _through_file(graph, tmp_path: Path):
    nir.write(tmp_path / "graph.nir", graph)
    return tmp_path / "graph.nir"


def _run(path, x: np.ndarray, dt: float = DT) -> np.ndarray:
    with torch.no_grad():
        return from_nir(path, dt=dt, dtype=torch.float64)(torch.from_numpy(x)).numpy()


def _conv_cases():
    for dims, padding, groups, dilation, stride in itertools.product(
        (1, 2), (0, 1, (1, 2), "valid", "same"), (1, 2), (1, 2), (1, 2)
    ):
        if padding == "same" and stride != 1 or dims == 1 and isinstance(padding, tuple):
            continue
        yield dims, padding, groups, dilation, stride


@pytest.mark.parametrize("dims, padding, groups, dilation, stride", list(_conv_cases()))
def test_convolutions_follow_the_reference(dims, padding, groups, dilation, stride, tmp_path):
    rng = np.random.default_rng(0)
    channels, out_channels, size = 4, 6, (7, 9)[:dims]
    kernel = (3, 2)[:dims]
    weight = rng.normal(size=(out_channels, channels // groups, *kernel))
    conv = (nir.Conv1d if dims == 1 else nir.Conv2d)(
        size[0] if dims == 1 else size,
        weight,
        stride,
        padding,
        dilation,
        groups,
        rng.normal(size=out_channels),
    )
    # nir 1.0.8 types a grouped convolution's input as weight.shape[1] = C_in/groups
    # channels, so its own type check rejects the graph; the import warns and goes on.
    # Its output size uses weight.shape[2] for every dim (this kernel is 3x2): the size
    # comes from the formula.
    out = [
        n if padding == "same" else (n + 2 * p - dilation * (k - 1) - 1) // stride + 1
        for n, k, p in zip(
            size, kernel, np.broadcast_to(0 if padding == "valid" else padding, dims)
        )
    ]
    graph = _graph(
        {"conv": conv}, (channels, *size), (out_channels, *out), groups == 1 and dims == 1
    )
    x = rng.normal(size=(STEPS, BATCH, channels, *size))
    want, _ = simulate(graph, x, DT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NIRSpecWarning)
        got = _run(_through_file(graph, tmp_path), x)
    # a file whose types nir.read gets wrong fails its type check: a warning, then import
    spec = [str(w.message) for w in caught if w.category is NIRSpecWarning]
    assert all("type check" in message for message in spec)
    assert spec or groups == 1
    assert got.shape == want.shape == (STEPS, BATCH, out_channels, *out)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["SumPool2d", "AvgPool2d"])
@pytest.mark.parametrize(
    "kernel, stride, padding", [(2, 2, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0))]
)
def test_pools_follow_the_reference(kind, kernel, stride, padding, tmp_path):
    rng = np.random.default_rng(1)
    pair = lambda v: np.broadcast_to(np.asarray(v), (2,)).copy()  # noqa: E731
    pool = getattr(nir, kind)(pair(kernel), pair(stride), pair(padding))
    shape = (3, 7, 8)
    out = [
        (n + 2 * p - k) // s + 1
        for n, k, s, p in zip(shape[1:], pair(kernel), pair(stride), pair(padding))
    ]
    graph = _graph({"pool": pool}, shape, (3, *out), type_check=False)
    x = (rng.random((STEPS, BATCH, *shape)) < 0.4).astype(np.float64)  # spikes
    want, _ = simulate(graph, x, DT)
    got = _run(_through_file(graph, tmp_path), x)
    assert got.shape == want.shape == (STEPS, BATCH, 3, *out)
    if kind == "SumPool2d":
        assert np.array_equal(got, want), "a sum of spikes is an exact count"
    else:
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)


def _sinabs_style_cnn(rng: np.random.Generator, pool: str):
    """Conv2d -> IF -> pool -> Conv2d -> IF -> Flatten -> Affine -> IF, step-based (r=1)."""
    pair = lambda v: np.array([v, v])  # noqa: E731
    conv1 = nir.Conv2d((8, 8), rng.normal(0.3, 0.6, (4, 1, 3, 3)), 1, 1, 1, 1, np.zeros(4))
    conv2 = nir.Conv2d(
        (4, 4), rng.normal(0.2, 0.5, (6, 4, 3, 3)), 1, 0, 1, 1, rng.normal(0, 0.1, 6)
    )
    if_node = lambda shape: nir.IF(r=np.ones(shape), v_threshold=np.ones(shape))  # noqa: E731
    nodes = {
        "conv1": conv1,
        "if1": if_node((4, 8, 8)),
        "pool": getattr(nir, pool)(pair(2), pair(2), pair(0)),
        "conv2": conv2,
        "if2": if_node((6, 2, 2)),
        "flat": nir.Flatten({"input": np.array([6, 2, 2])}, 0, -1),
        "fc": nir.Affine(rng.normal(0.1, 0.4, (5, 24)), rng.normal(0, 0.1, 5)),
        "if3": if_node((5,)),
    }
    return _graph(nodes, (1, 8, 8), (5,))


@pytest.mark.parametrize("pool", ["SumPool2d", "AvgPool2d"])
def test_a_sinabs_style_cnn_runs_at_dt_1_as_the_reference(pool: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    graph = _sinabs_style_cnn(rng, pool)
    x = (rng.random((20, BATCH, 1, 8, 8)) < 0.5).astype(np.float64)
    want, _ = simulate(graph, x, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NIRTimeStepWarning)  # dt=1: the producer's own step
        got = _run(_through_file(graph, tmp_path), x, dt=1.0)
    assert np.array_equal(got, want)
    assert 0 < want.sum() < want.size
    with pytest.warns(NIRTimeStepWarning, match="node 'if1'.*dt=0.001.*dt=1"):
        from_nir(graph, dt=DT)


def _lif(n: int, r: float, threshold: float):
    """n LIF neurons with tau = 5 steps, resting and resetting at 0."""
    return nir.LIF(
        tau=np.full(n, 5 * DT),
        r=np.full(n, r),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, threshold),
        v_reset=np.zeros(n),
    )


def test_delays_shift_each_element_by_whole_steps(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lags = np.array([0, 1, 2, 5, 3, 1])
    lif = _lif(6, r=2.0, threshold=0.5)
    nodes = {
        "fc": nir.Affine(rng.normal(0.5, 0.5, (6, 3)), np.zeros(6)),
        "delay": nir.Delay(lags * DT),
    }
    graph = _graph({**nodes, "lif": lif}, (3,), (6,))
    x = (rng.random((12, BATCH, 3)) < 0.6).astype(np.float64)
    want, _ = simulate(graph, x, DT)
    got = _run(_through_file(graph, tmp_path), x)
    assert np.array_equal(got, want)
    assert 0 < want.sum() < want.size
    # the delay alone: element i is the input lags[i] steps earlier, zero before
    alone = _run(
        _graph({"delay": nir.Delay(lags * DT)}, (6,), (6,)), np.arange(12 * 6.0).reshape(12, 1, 6)
    )
    for i, lag in enumerate(lags):
        assert np.array_equal(alone[lag:, 0, i], np.arange(12 * 6.0).reshape(12, 6)[: 12 - lag, i])
        assert not alone[:lag, 0, i].any()


def test_fractional_and_negative_delays_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"whole number of steps of dt=0.001.*0.0015"):
        from_nir(_graph({"delay": nir.Delay(np.array([0.001, 0.0015]))}, (2,), (2,)), dt=DT)
    with pytest.raises(ValueError, match="delay=.*-0.001"):
        from_nir(_graph({"delay": nir.Delay(np.array([-0.001, 0.0]))}, (2,), (2,)), dt=DT)
    with pytest.raises(ValueError, match="padding='same' with stride"):
        conv = nir.Conv2d(None, np.ones((1, 1, 3, 3)), 2, "same", 1, 1, np.zeros(1))
        from_nir(_graph({"conv": conv}, (1, 6, 6), (1, 6, 6), type_check=False), dt=DT)


def test_the_pools_delay_and_padding_forms_export_from_modules(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding="same"),
        IFCell(0.8, reset="zero"),
        torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(4, 4, 3, padding="valid", groups=2, dilation=1),
        LIFCell(0.9, 0.4, reset="zero"),
        SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        torch.nn.Flatten(),
    ).double()
    graph = to_nir(model, dt=DT, input_shape=(1, 10, 10))
    kinds = [type(node).__name__ for node in graph.nodes.values()]
    assert kinds[1:-1] == ["Conv2d", "IF", "AvgPool2d", "Conv2d", "LIF", "SumPool2d", "Flatten"]
    assert graph.nodes["conv2d0"].padding == "same" and graph.nodes["conv2d3"].groups == 2
    imported = from_nir(_through_file(graph, tmp_path), dt=DT, dtype=torch.float64)
    x = (torch.rand(8, BATCH, 1, 10, 10, generator=torch.Generator().manual_seed(4)) < 0.5).double()
    with torch.no_grad():
        got = imported(x)
    want = []
    state: dict[int, tuple] = {}
    with torch.no_grad():
        for step in x:
            value = step
            for index, layer in enumerate(model):
                if isinstance(layer, (IFCell, LIFCell)):
                    value, *rest = layer(value, *state.get(index, ()))
                    state[index] = tuple(rest)
                else:
                    value = layer(value)
            want.append(value)
    assert torch.equal(got, torch.stack(want))
    assert 0 < int(got.sum())
    with pytest.raises(TypeError, match="ceil_mode=False"):
        to_nir(torch.nn.AvgPool2d(2, ceil_mode=True), dt=DT, input_shape=(1, 4, 4))
    assert isinstance(imported.node("avgpool2d2"), AvgPool2d)


def test_a_fed_back_affine_adds_its_bias_from_the_first_step() -> None:
    """All NIR nodes start at t=0: an Affine on a recurrent edge outputs its bias before
    any spike (snnTorch's RLeaky files rely on it)."""
    rng = np.random.default_rng(6)
    lif = _lif(4, r=5.0, threshold=0.4)
    nodes = {
        "input": nir.Input(np.array([3])),
        "fc": nir.Linear(rng.normal(0, 0.3, (4, 3))),
        "lif": lif,
        "w_rec": nir.Affine(rng.normal(0, 0.3, (4, 4)), np.array([0.5, -0.2, 0.3, 0.4])),
        "output": nir.Output(np.array([4])),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    x = np.zeros((10, BATCH, 3))  # no input at all: only the bias drives the neurons
    want, _ = simulate(graph, x, DT)
    got = _run(graph, x)
    assert np.array_equal(got, want)
    assert want.any(), "with no input, only the bias makes them fire"
