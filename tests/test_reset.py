"""Reset modes: the cells' equations, stepwise vs fused parity for every registered
surrogate x reset mode on both kernel families, SpikingNet, and argument errors."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core import neuron_spec
from sc_neurocore.kernels.native.runtime import set_native_enabled
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons import cells, recurrent
from sc_neurocore.neurons.base import RESET_MODES
from sc_neurocore.neurons.cells import IFCell, LIFCell
from sc_neurocore.neurons.fused import LIF, compiled_kernel_status, fused_kernel

from .conftest import interpret_triton

SURROGATES = sc_neurocore.list_surrogates()
SPIKING_CELLS = [getattr(module, name) for module in (cells, recurrent) for name in module.__all__]


def _kernels() -> list[str]:
    status = compiled_kernel_status("atan")
    families = ["native", "torch"] if status == "compiled" else ["torch"]
    try:
        import triton  # noqa: F401  (CPU: the Triton interpreter runs the kernels)
    except ImportError:
        return families
    return [*families, "triton"]


def _inputs(seed: int = 0, steps: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 3, 5, generator=generator, dtype=torch.float64) * 0.8 + 0.35
    v0 = torch.randn(3, 5, generator=generator, dtype=torch.float64) * 0.4
    return x, v0


def test_the_three_modes_are_the_specs() -> None:
    assert RESET_MODES == neuron_spec.RESET_MODES == ("subtract", "zero", "none")
    lif = sc_neurocore.get_neuron_spec("lif")
    assert [lif.with_reset(mode).reset.get("v") for mode in RESET_MODES] == [
        "v - s*threshold",
        "v*(1 - s) + s*v_reset",
        None,
    ]


@pytest.mark.parametrize("v_reset", [0.0, -0.3])
def test_lifcell_zero_reset_is_the_issue_equation(v_reset: float) -> None:
    beta, threshold = 0.8, 0.7
    cell = LIFCell(beta, threshold, reset="zero", v_reset=v_reset).double()
    x, v0 = _inputs()
    v, v_ref = v0, v0.clone()
    for current in x:
        spike, v = cell(current, v)
        v_ref = torch.add(current, v_ref, alpha=beta)  # beta*v + I, rounded as the cell
        s_ref = v_ref > threshold
        v_ref = torch.where(s_ref, torch.tensor(v_reset, dtype=v_ref.dtype), v_ref)
        assert torch.equal(spike, s_ref.double())
        assert torch.equal(v, v_ref)


def test_none_reset_keeps_the_membrane() -> None:
    x, v0 = _inputs()
    spike, v = IFCell(0.5, reset="none").double()(x[0], v0)
    assert bool(spike.any())
    assert torch.equal(v, v0 + x[0])


@pytest.mark.parametrize("cell_type", SPIKING_CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("reset", RESET_MODES)
def test_every_cell_takes_every_reset(cell_type: type, reset: str) -> None:
    extra = (4,) if cell_type.__name__.startswith("Recurrent") else ()
    cell = cell_type(*extra, threshold=0.3, reset=reset, v_reset=-0.1).double()
    assert cell.reset == reset and cell.v_reset == -0.1
    current = torch.full((2, 4), 10.0, dtype=torch.float64)
    inputs = (current, torch.zeros_like(current)) if cell_type is cells.AlphaCell else (current,)
    spike, *state = cell(*inputs)
    assert bool(spike.all())
    at_v_reset = [bool(torch.all(part == -0.1)) for part in state]
    assert any(at_v_reset) == (reset == "zero")
    if reset != "subtract":
        assert f"reset={reset!r}" in repr(cell)


@pytest.mark.parametrize("bad", ["reset", "Zero", None, 0])
def test_an_unknown_reset_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="reset must be one of"):
        LIFCell(reset=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reset must be one of"):
        SpikingNet(3, 4, 2, reset=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="v_reset"):
        LIFCell(reset="zero", v_reset="0")  # type: ignore[arg-type]


def _step(cell: torch.nn.Module, x: torch.Tensor, v0: torch.Tensor):
    v, spikes = v0, []
    for current in x.unbind(0):
        spike, v = cell(current, v)
        spikes.append(spike)
    return torch.stack(spikes), v


def _run(module, x, v0, parameters):
    x = x.clone().requires_grad_(True)
    v0 = v0.clone().requires_grad_(True)
    spikes, v = module(x, v0)
    weights = torch.linspace(-1.0, 2.0, spikes.numel(), dtype=x.dtype).view_as(spikes)
    loss = (spikes * weights).sum() + (v * v.detach().cos()).sum()
    return spikes, v, torch.autograd.grad(loss, [x, v0, *parameters])


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("reset", RESET_MODES)
@pytest.mark.parametrize("name", SURROGATES)
def test_fused_matches_stepwise_for_every_surrogate_and_reset(
    name: str, reset: str, kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = sc_neurocore.get_spec(name)
    surrogate = sc_neurocore.get_surrogate(name, **{k: d * 1.2 for k, d in spec.params})
    # per-neuron beta and v_reset exercise the per-neuron kernels; threshold stays learned
    options = dict(beta=0.85, threshold=0.8, surrogate_fn=surrogate, learn_beta=True)
    options.update(learn_threshold=True, reset=reset, v_reset=torch.linspace(-0.4, 0.2, 5))
    fused, cell = LIF(**options).double(), LIFCell(**options).double()
    cell.load_state_dict(fused.state_dict())
    assert fused.fused
    if kernel == "triton":  # through the operator: the reset's generated kernels
        interpret_triton(monkeypatch)
        assert fused_kernel(name)[0] == "triton"
    previous = set_native_enabled(kernel == "native")
    try:
        x, v0 = _inputs()
        got = _run(fused, x, v0, list(fused.parameters()))
    finally:
        set_native_enabled(previous)
    want = _run(lambda x, v0: _step(cell, x, v0), x, v0, list(cell.parameters()))
    assert torch.equal(got[0], want[0]), "spikes differ"
    assert 0 < int(want[0].sum()) < want[0].numel()
    torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-13)
    for index, (mine, reference) in enumerate(zip(got[2], want[2])):
        assert bool(reference.ne(0).any()), f"gradient {index} should be non-zero"
        torch.testing.assert_close(mine, reference, rtol=1e-9, atol=1e-12, msg=f"grad {index}")


@pytest.mark.parametrize("reset", RESET_MODES)
def test_spiking_net_fused_and_stepwise_agree(reset: str) -> None:
    torch.manual_seed(0)
    stepwise = SpikingNet(6, 8, 3, reset=reset, v_reset=0.1, threshold=0.5).double()
    fused = SpikingNet(6, 8, 3, reset=reset, v_reset=0.1, threshold=0.5, fused=True).double()
    fused.load_state_dict(stepwise.state_dict())
    assert all(neuron.reset == reset for neuron in fused.neurons)
    x = (torch.rand(12, 4, 6) < 0.6).double()
    counts, membrane = stepwise(x)
    fused_counts, fused_membrane = fused(x)
    assert torch.equal(counts, fused_counts)
    torch.testing.assert_close(membrane, fused_membrane, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reset", RESET_MODES)
def test_fused_synaptic_layer_matches_its_cell(reset: str) -> None:
    from sc_neurocore.neurons.cells import SynapticCell
    from sc_neurocore.neurons.synaptic import SynapticLIF

    options = dict(alpha=0.7, beta=0.85, threshold=0.6, reset=reset, v_reset=-0.2)
    fused, cell = SynapticLIF(**options).double(), SynapticCell(**options).double()
    x, _ = _inputs(3)
    spikes, _, v = fused(x)
    i = w = None
    stepped = []
    for current in x:
        spike, i, w = cell(current, i, w)
        stepped.append(spike)
    assert torch.equal(spikes, torch.stack(stepped))
    assert 0 < int(spikes.sum()) < spikes.numel()
    torch.testing.assert_close(v, w, rtol=1e-12, atol=1e-12)
