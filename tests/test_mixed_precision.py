"""Mixed precision as PyTorch users train: autocast, torch's promotion for state, GradScaler.

Every cell, fused layer, ``SpikingNet``, a ``from_nir`` module and the ``--task`` classifier
take one training step under autocast (CPU bf16 here; CUDA fp16/bf16 where a CUDA device
exists), with an fp32 state fed bf16/fp16 input and the reverse; their gradients are compared
with an fp32 run.  The tolerance is stated once: the relative L2 error of the first layer's
weight gradient, ``GRAD_TOLERANCE[dtype]``: 0.15 for bf16 (8 significant bits), 0.05 for fp16
(11).  Measured (torch 2.13, CPU): at most 0.017 (bf16) and 0.003 (fp16) for the LIF-type
cells and the fused layers; the exponential cells (ExpIF, AdEx), whose upswing amplifies a
rounding, reach 0.10 and 0.04; a spike that flips because its membrane rounded across the
threshold moves a gradient by more than the rounding itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import sc_neurocore
from sc_neurocore.kernels.autocast import POLICIES
from sc_neurocore.neurons import cells as cell_module
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
from sc_neurocore.neurons.recurrent import RecurrentLIFCell, RecurrentSynapticCell
from sc_neurocore.neurons.synaptic import SynapticLIF
from sc_neurocore.training import SpikingNet

#: Relative L2 error of the first layer's weight gradient against the fp32 run.
GRAD_TOLERANCE = {torch.bfloat16: 0.15, torch.float16: 0.05}
STEPS, BATCH, UNITS = 12, 6, 16
CUDA_MISSING = "needs a CUDA device: torch.cuda.is_available() is False"
HALF = [torch.bfloat16, torch.float16]


def _cells() -> list[Callable[[], nn.Module]]:
    plain = [getattr(cell_module, name) for name in cell_module.__all__]
    recurrent = [lambda: RecurrentLIFCell(UNITS), lambda: RecurrentSynapticCell(UNITS)]
    return [*plain, *recurrent, LeakyIntegratorCell]


CELLS = _cells()
CELL_IDS = [*cell_module.__all__, "RecurrentLIFCell", "RecurrentSynapticCell", "LeakyIntegrator"]


def _data(device: str = "cpu") -> Tensor:
    generator = torch.Generator().manual_seed(3)
    return (torch.rand(STEPS, BATCH, UNITS, generator=generator) * 0.8).to(device)


def _relative_error(got: Tensor, want: Tensor) -> float:
    return float((got.double() - want.double()).norm() / want.double().norm().clamp_min(1e-30))


def _step_cell(cell: nn.Module, currents: Tensor, state: tuple[Tensor, ...] | None) -> Tensor:
    """Step ``cell`` over time; a loss from its spikes (or membrane) and final state."""
    inputs = (currents, currents * 0.5) if isinstance(cell, cell_module.AlphaCell) else (currents,)
    recurrent = isinstance(cell, (RecurrentLIFCell, RecurrentSynapticCell))
    weights = torch.linspace(-1.0, 2.0, currents.shape[-1], device=currents.device)
    loss = currents.new_zeros((), dtype=torch.float32)
    states = tuple(state or ())
    for t in range(currents.shape[0]):
        out = cell(*(x[t] for x in inputs), *states)
        if isinstance(cell, LeakyIntegratorCell):
            states = (out,)
            loss = loss + (out.float() * weights).sum()
            continue
        states = tuple(out) if recurrent else tuple(out[1:])
        loss = loss + (out[0].float() * weights).sum()
    return loss + sum(s.float().pow(2).mean() for s in states)


def _initial_state(cell: nn.Module, x: Tensor, dtype: torch.dtype) -> tuple[Tensor, ...]:
    inputs = (x[0], x[0]) if isinstance(cell, cell_module.AlphaCell) else (x[0],)
    with torch.no_grad():
        out = cell(*inputs)
    count = 1 if isinstance(cell, LeakyIntegratorCell) else len(out) - 1
    recurrent = isinstance(cell, (RecurrentLIFCell, RecurrentSynapticCell))
    return tuple(torch.zeros_like(x[0], dtype=dtype) for _ in range(count + recurrent))


def _cell_gradient(
    make: Callable[[], nn.Module], x: Tensor, amp: torch.dtype | None, state: torch.dtype | None
) -> Tensor:
    torch.manual_seed(0)
    layer, cell = nn.Linear(UNITS, UNITS).to(x.device), make().to(x.device)
    initial = None if state is None else _initial_state(cell, x, state)
    with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        loss = _step_cell(cell, layer(x), initial)
    loss.backward()
    assert layer.weight.grad is not None and bool(torch.isfinite(layer.weight.grad).all())
    return layer.weight.grad


@pytest.mark.parametrize("amp", HALF, ids=str)
@pytest.mark.parametrize("make", CELLS, ids=CELL_IDS)
def test_every_cell_trains_under_autocast_with_an_fp32_state(make, amp: torch.dtype) -> None:
    x = _data()
    want = _cell_gradient(make, x, None, None)
    got = _cell_gradient(make, x, amp, torch.float32)
    assert _relative_error(got, want) < GRAD_TOLERANCE[amp]


@pytest.mark.parametrize("state", HALF, ids=str)
@pytest.mark.parametrize("make", CELLS, ids=CELL_IDS)
def test_every_cell_promotes_a_half_state_fed_fp32_input(make, state: torch.dtype) -> None:
    """The reverse: fp32 input, bf16/fp16 state; the state comes back fp32 (promotion)."""
    x = _data()
    want = _cell_gradient(make, x, None, None)
    got = _cell_gradient(make, x, None, state)
    assert _relative_error(got, want) < GRAD_TOLERANCE[state]


def test_the_issue_snippet_trains() -> None:
    """The loop of issue 24: an fp32 membrane fed bf16 currents; it stays fp32."""
    x = _data()
    fc, cell = nn.Linear(UNITS, UNITS), cell_module.LIFCell()
    optimizer = torch.optim.SGD(fc.parameters(), lr=0.5)
    before = fc.weight.detach().clone()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = torch.zeros(BATCH, UNITS)
        total = torch.zeros(())
        for t in range(STEPS):
            s, v = cell(fc(x[t]), v)
            assert s.dtype == torch.bfloat16 and v.dtype == torch.float32
            total = total + s.float().sum() + v.pow(2).mean()
    total.backward()
    optimizer.step()
    assert not torch.equal(fc.weight, before)


FUSED = {
    "LIF": lambda: LIF(learn_beta=True, learn_threshold=True),
    "SynapticLIF": lambda: SynapticLIF(learn_alpha=True),
    "LeakyIntegrator": lambda: LeakyIntegrator(learn_beta=True),
}


def _fused_gradient(
    name: str, x: Tensor, amp: torch.dtype | None, state: torch.dtype | None
) -> tuple[Tensor, ...]:
    torch.manual_seed(0)
    layer, neuron = nn.Linear(UNITS, UNITS).to(x.device), FUSED[name]().to(x.device)
    initial = None if state is None else torch.zeros(BATCH, UNITS, dtype=state, device=x.device)
    weights = torch.linspace(-1.0, 2.0, UNITS, device=x.device)
    with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        current = layer(x)
        if name == "LeakyIntegrator":
            out = neuron(current, initial)
            loss = (out.float() * weights).sum() + out[-1].float().pow(2).mean()
        else:
            args = (initial, initial) if name == "SynapticLIF" else (initial,)
            spikes, *states = neuron(current, *args)
            if state is not None:
                assert spikes.dtype == current.dtype
                assert all(s.dtype == torch.promote_types(current.dtype, state) for s in states)
            loss = (spikes.float() * weights).sum() + states[-1].float().pow(2).mean()
    loss.backward()
    grads = (layer.weight.grad, *(p.grad for p in neuron.parameters()))
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    return grads  # type: ignore[return-value]


@pytest.mark.parametrize("amp", HALF, ids=str)
@pytest.mark.parametrize("state", [None, torch.float32], ids=["state-None", "state-fp32"])
@pytest.mark.parametrize("name", FUSED)
def test_every_fused_layer_trains_under_autocast(name: str, state, amp: torch.dtype) -> None:
    x = _data()
    want = _fused_gradient(name, x, None, None)
    got = _fused_gradient(name, x, amp, state)
    assert _relative_error(got[0], want[0]) < GRAD_TOLERANCE[amp]
    for mine, reference in zip(got[1:], want[1:]):  # the learned decay and threshold
        assert _relative_error(mine, reference) < 2 * GRAD_TOLERANCE[amp]


@pytest.mark.parametrize("state", HALF, ids=str)
@pytest.mark.parametrize("name", FUSED)
def test_every_fused_layer_promotes_a_half_state_fed_fp32_input(name: str, state) -> None:
    x = _data()
    want = _fused_gradient(name, x, None, None)
    got = _fused_gradient(name, x, None, state)
    assert _relative_error(got[0], want[0]) < GRAD_TOLERANCE[state]


def _net_gradient(fused: bool, x: Tensor, amp: torch.dtype | None) -> Tensor:
    torch.manual_seed(0)
    net = SpikingNet(UNITS, 24, 5, n_layers=3, fused=fused, learn_beta=True).to(x.device)
    with torch.autocast(x.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        counts, membrane = net(x)
        loss = nn.functional.cross_entropy(counts + membrane.float(), torch.arange(BATCH) % 5)
    loss.backward()
    grad = net.layers[0].weight.grad
    assert grad is not None and bool(torch.isfinite(grad).all())
    return grad


@pytest.mark.parametrize("amp", HALF, ids=str)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "stepped"])
def test_spiking_net_trains_under_autocast(fused: bool, amp: torch.dtype) -> None:
    x = _data()
    got, want = _net_gradient(fused, x, amp), _net_gradient(fused, x, None)
    assert _relative_error(got, want) < GRAD_TOLERANCE[amp]


#: A loss scale under which this small net's fp16 gradients stay finite (4096 overflows the
#: output layer's fp16 bias gradient: GradScaler then halves the scale and skips the step).
SCALE = 2.0**8


def test_grad_scaler_with_fp16_through_the_fused_backward() -> None:
    """fp16 autocast + GradScaler: scaled gradients flow through the fused LIF's backward,
    unscale to the fp32 run's, and the optimizer steps."""
    x = _data()
    want = _net_gradient(True, x, None)
    torch.manual_seed(0)
    net = SpikingNet(UNITS, 24, 5, n_layers=3, fused=True, learn_beta=True)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=SCALE)
    with torch.autocast("cpu", dtype=torch.float16):
        counts, membrane = net(x)
        loss = nn.functional.cross_entropy(counts + membrane.float(), torch.arange(BATCH) % 5)
    scaler.scale(loss).backward()
    scaled = net.layers[0].weight.grad.clone()
    scaler.unscale_(optimizer)
    torch.testing.assert_close(scaled / SCALE, net.layers[0].weight.grad)
    assert _relative_error(net.layers[0].weight.grad, want) < GRAD_TOLERANCE[torch.float16]
    before = net.layers[0].weight.detach().clone()
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == SCALE and not torch.equal(net.layers[0].weight, before)


def test_a_from_nir_module_trains_under_autocast() -> None:
    nir = pytest.importorskip("nir")
    import numpy as np

    from sc_neurocore.nir import from_nir

    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(np.array([UNITS])),
        "affine": nir.Affine(weight=rng.normal(0, 0.5, (UNITS, UNITS)), bias=np.full(UNITS, 0.2)),
        "lif": nir.LIF(
            tau=np.full(UNITS, 5e-3),
            r=np.full(UNITS, 2.0),
            v_leak=np.zeros(UNITS),
            v_threshold=np.full(UNITS, 0.3),
        ),
        "output": nir.Output(np.array([UNITS])),
    }
    edges = [("input", "affine"), ("affine", "lif"), ("lif", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    x = _data()

    def gradient(amp: torch.dtype | None) -> Tensor:
        module = from_nir(graph, dt=1e-3)
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            out = module(x)
            loss = (out.float() * torch.linspace(-1.0, 2.0, UNITS)).sum()
        loss.backward()
        weights = [p for p in module.parameters() if p.dim() == 2]
        assert weights and weights[0].grad is not None
        return weights[0].grad

    want = gradient(None)
    assert float(want.abs().sum()) > 0
    assert _relative_error(gradient(torch.bfloat16), want) < GRAD_TOLERANCE[torch.bfloat16]


def test_the_task_classifier_trains_under_autocast() -> None:
    from sc_neurocore.tasks.classifier import ClassifierConfig, SpikingClassifier

    x = _data()
    targets = torch.arange(BATCH) % 3

    def gradient(amp: torch.dtype | None) -> Tensor:
        torch.manual_seed(0)
        surrogate = sc_neurocore.get_surrogate("atan")
        model = SpikingClassifier(UNITS, 3, surrogate, ClassifierConfig(hidden=32))
        with torch.autocast("cpu", dtype=amp or torch.float32, enabled=amp is not None):
            membrane, _ = model(x)
            loss = nn.functional.cross_entropy(membrane.float().amax(0), targets)
        loss.backward()
        assert model.input.weight.grad is not None
        return model.input.weight.grad

    want = gradient(None)
    assert _relative_error(gradient(torch.bfloat16), want) < GRAD_TOLERANCE[torch.bfloat16]


def test_every_operator_of_the_project_has_an_autocast_policy() -> None:
    for name in ("atan", "fast_sigmoid"):
        sc_neurocore.get_surrogate(name, "custom_op")  # defines the operator
    LIF()(torch.zeros(2, 1, 3))  # defines the generated lif operator the fused layer runs
    namespaces = ("sc_neurocore", "sc_neurocore_neuron")
    defined = [
        f"{space}::{name}"
        for space in namespaces
        for name in getattr(torch.ops, space)
        if isinstance(getattr(getattr(torch.ops, space), name), torch._ops.OpOverloadPacket)
    ]
    assert "sc_neurocore_neuron::lif" in defined and "sc_neurocore::atan_backward" in defined
    for qualified in defined:
        assert qualified in POLICIES, qualified
        space, name = qualified.split("::")
        op = getattr(getattr(torch.ops, space), name).default
        assert op.has_kernel_for_dispatch_key(torch._C.DispatchKey.AutocastCPU), qualified


@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_MISSING)
@pytest.mark.parametrize("amp", HALF, ids=str)
@pytest.mark.parametrize("name", FUSED)
def test_cuda_autocast_trains_every_fused_layer(name: str, amp: torch.dtype) -> None:
    x = _data("cuda")
    want = _fused_gradient(name, x, None, None)
    got = _fused_gradient(name, x, amp, torch.float32)
    assert _relative_error(got[0], want[0]) < GRAD_TOLERANCE[amp]


@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_MISSING)
@pytest.mark.parametrize("make", CELLS[:3], ids=CELL_IDS[:3])
def test_cuda_autocast_trains_cells_with_an_fp32_state(make) -> None:
    x = _data("cuda")
    want = _cell_gradient(make, x, None, None)
    got = _cell_gradient(make, x, torch.float16, torch.float32)
    assert _relative_error(got, want) < GRAD_TOLERANCE[torch.float16]


@pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_MISSING)
def test_cuda_grad_scaler_with_fp16_spiking_net() -> None:
    x = _data("cuda")
    net = SpikingNet(UNITS, 24, 5, fused=True).cuda()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        counts, membrane = net(x)
        target = torch.arange(BATCH, device="cuda") % 5
        loss = nn.functional.cross_entropy(counts + membrane.float(), target)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    assert all(math.isfinite(float(p.detach().sum())) for p in net.parameters())


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_triton_kernels_keep_an_fp32_state_fed_half_input(monkeypatch, dtype) -> None:
    """The CUDA kernels (here under Triton's CPU interpreter) read an fp32 v0 unrounded and
    return v_T in fp32, exactly as the compiled C kernels do."""
    from .conftest import interpret_triton

    generator = torch.Generator().manual_seed(5)
    x = (torch.randn(6, 2, 40, generator=generator) * 0.6 + 0.3).to(dtype).requires_grad_()
    v0 = (torch.rand(2, 40, generator=generator) * 0.9).requires_grad_()
    layer = LIF(beta=0.9, threshold=0.8)
    want_spikes, want_v = layer(x, v0)
    want = torch.autograd.grad(want_v.sum() + want_spikes.float().sum(), (x, v0))
    interpret_triton(monkeypatch)
    spikes, v = layer(x, v0)
    assert v.dtype == torch.float32 and torch.equal(spikes, want_spikes) and torch.equal(v, want_v)
    got = torch.autograd.grad(v.sum() + spikes.float().sum(), (x, v0))
    for mine, theirs in zip(got, want):
        torch.testing.assert_close(mine, theirs, rtol=1e-2, atol=1e-2)
