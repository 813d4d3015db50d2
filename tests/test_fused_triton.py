"""The Triton kernels of the fused neurons, run by Triton's CPU interpreter.

With ``TRITON_INTERPRET=1`` and ``SC_NEUROCORE_KERNEL=triton`` the fused operator sends
CPU tensors through the generated ``@triton.jit`` kernels; every test here checks that it
did (a spy counts the kernel calls) and compares against stepping ``LIFCell`` or an
autograd reference, for every registered surrogate and every fused neuron template.
"""

from __future__ import annotations

import inspect

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.spec import SurrogateSpec
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.neuron_choice import neuron_kernels
from sc_neurocore.kernels.triton.neuron import TritonNeuron, triton_neuron_reason
from sc_neurocore.neurons.base import RESET_MODES
from sc_neurocore.neurons.cells import LIFCell, SynapticCell
from sc_neurocore.neurons.fused import LIF, fused_kernel
from sc_neurocore.neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
from sc_neurocore.neurons.neuron_op import builtin_neuron
from sc_neurocore.neurons.synaptic import SynapticLIF

from .conftest import interpret_triton, set_environment
from .test_fused_private_registry import _registry

SURROGATES = sc_neurocore.list_surrogates()
STEPS, BATCH, NEURONS = 9, 2, 5


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Triton's interpreter on, the Triton kernels forced, and their calls counted."""
    interpret_triton(monkeypatch)
    counted = {"forward": 0, "backward": 0, "leaky forward": 0, "leaky backward": 0}
    # The LIF runs the generated "lif" kernels, LeakyIntegrator the "li" ones, SynapticLIF
    # "cuba_lif" (whose current is the leaky filter: counted as both).
    prefixes = {"lif": ("",), "li": ("leaky ",), "cuba_lif": ("", "leaky ")}
    for kind in ("forward", "backward"):
        original = getattr(TritonNeuron, kind)

        def spy(self, *args, _kind=kind, _original=original, **kwargs):
            neuron = self.program.spec.name.split("_reset_")[0]  # a reset variant: its neuron
            for prefix in prefixes.get(neuron, ()):
                counted[prefix + _kind] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(TritonNeuron, kind, spy)
    return counted


#: The step program the LIF layer runs.
LIF_PROGRAM = program_of(builtin_neuron("lif"))


def triton_status(spec: SurrogateSpec) -> str:
    """``"triton"`` if the LIF's generated Triton kernels take ``spec``, else why not."""
    return triton_neuron_reason(LIF_PROGRAM, spec) or "triton"


def _runs_triton(name: str) -> bool:
    """Whether ``name`` runs the Triton kernels; if not, that forcing them says why."""
    status = triton_status(sc_neurocore.get_spec(name))
    if status == "triton":
        return True
    with pytest.raises(RuntimeError, match="SC_NEUROCORE_KERNEL=triton"):
        LIF(surrogate_fn=sc_neurocore.get_surrogate(name))(torch.ones(2, 1, 1))
    kernel, reason = fused_kernel(name, "cpu")
    assert kernel == "error" and status in reason
    return False


def _inputs(dtype: torch.dtype = torch.float64, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(STEPS, BATCH, NEURONS, generator=generator, dtype=torch.float64) * 0.8 + 0.3
    v0 = torch.randn(BATCH, NEURONS, generator=generator, dtype=torch.float64) * 0.5
    return x.to(dtype), v0.to(dtype)


def _run(layer, x, v0, loss_kind: str):
    """Spikes, v_T and the gradients of a loss w.r.t. x, v0 and the layer's parameters."""
    x = x.detach().clone().requires_grad_(True)
    v0 = None if v0 is None else v0.detach().clone().requires_grad_(True)
    if isinstance(layer, LIFCell):
        v, spikes = v0, []
        for current in x.unbind(0):
            spike, v = layer(current, v)
            spikes.append(spike)
        out = (torch.stack(spikes), v)
    else:
        out = layer(x, v0)
    spikes, v = out
    if loss_kind == "spike_sum":  # the incoming gradient is an expanded (stride-0) tensor
        loss = spikes.sum() + v.sum()
    else:
        weights = torch.linspace(-1.0, 2.0, spikes.numel(), dtype=torch.float64)
        loss = (spikes * weights.view_as(spikes).to(spikes.dtype)).sum() + (v * v).sum()
    inputs = [x, *([] if v0 is None else [v0]), *layer.parameters()]
    return spikes, v, torch.autograd.grad(loss, inputs)


def _pair(name: str, per_neuron: bool, learn: bool):
    spec = sc_neurocore.get_spec(name)
    surrogate_fn = sc_neurocore.get_surrogate(name, **{k: d * 1.3 for k, d in spec.params})
    if per_neuron:
        beta = torch.linspace(0.5, 0.95, NEURONS, dtype=torch.float64)
        threshold = torch.linspace(0.7, 1.2, NEURONS, dtype=torch.float64)
    else:
        beta, threshold = 0.8, 0.9
    options = dict(beta=beta, threshold=threshold, surrogate_fn=surrogate_fn)
    options.update(learn_beta=learn, learn_threshold=learn)
    fused, cell = LIF(**options), LIFCell(**options)
    cell.load_state_dict(fused.state_dict())
    return fused, cell


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learned"])
@pytest.mark.parametrize("per_neuron", [False, True], ids=["scalar", "per-neuron"])
@pytest.mark.parametrize("loss_kind", ["weighted", "spike_sum"])
def test_triton_matches_stepping_lifcell_in_float64(calls, name, learn, per_neuron, loss_kind):
    if not _runs_triton(name):
        return
    fused, cell = (module.double() for module in _pair(name, per_neuron, learn))
    x, v0 = _inputs()
    got, want = _run(fused, x, v0, loss_kind), _run(cell, x, v0, loss_kind)
    assert calls["forward"] >= 1 and calls["backward"] >= 1, "the Triton kernels did not run"
    assert torch.equal(got[0], want[0]), "spikes differ"
    assert 0 < int(want[0].sum()) < want[0].numel(), "the inputs should fire some neurons"
    torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-13)
    assert len(got[2]) == len(want[2])
    for index, (mine, reference) in enumerate(zip(got[2], want[2])):
        torch.testing.assert_close(mine, reference, rtol=1e-9, atol=1e-11, msg=f"grad {index}")


@pytest.mark.parametrize("name", SURROGATES)
def test_triton_spikes_identical_to_lifcell_in_float32(calls, name):
    if not _runs_triton(name):
        return
    fused, cell = _pair(name, per_neuron=True, learn=True)
    x, _ = _inputs(torch.float32, seed=1)
    got, want = _run(fused, x, None, "weighted"), _run(cell, x, None, "weighted")
    assert calls["forward"] >= 1
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    for mine, reference in zip(got[2], want[2]):
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_inputs_are_computed_in_float32(calls, dtype):
    fused, cell = _pair("atan", per_neuron=False, learn=True)
    x, v0 = _inputs(dtype, seed=2)
    got = _run(fused, x, v0, "weighted")
    want = _run(cell, x.float(), v0.float(), "weighted")  # the same values, stepped in fp32
    assert calls["forward"] >= 1 and got[0].dtype == dtype and got[2][0].dtype == dtype
    assert torch.equal(got[0].float(), want[0])
    # v_T rounded once to the input dtype (within one unit: the interpreter's bfloat16
    # conversion truncates where CUDA rounds to nearest)
    ulp = torch.finfo(dtype).eps
    torch.testing.assert_close(got[1].float(), want[1], rtol=ulp, atol=ulp)
    tolerance = 1e-2 if dtype == torch.float16 else 5e-2
    for mine, reference in zip(got[2], want[2]):
        torch.testing.assert_close(mine.float(), reference, rtol=tolerance, atol=tolerance)


def test_a_formula_only_plugin_spec_runs_the_generated_kernels(calls):
    """No closed table: a new formula gets kernels generated for it."""
    spec = SurrogateSpec.from_formula(
        name="laplace_test", params=(("k", 3.0),), formula="k * exp(-k * abs(x)) / 2",
        description="test surrogate",
    )  # fmt: skip
    assert triton_status(spec) == "triton"
    surrogate_fn = _registry(spec).get_surrogate(spec.name, "custom_op", k=2.5)
    fused, cell = LIF(0.85, 0.9, surrogate_fn).double(), LIFCell(0.85, 0.9, surrogate_fn).double()
    x, v0 = _inputs(seed=4)
    got, want = _run(fused, x, v0, "weighted"), _run(cell, x, v0, "weighted")
    assert calls["forward"] == calls["backward"] == 1
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    for mine, reference in zip(got[2], want[2], strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-10, atol=1e-12)


def test_the_number_of_steps_is_a_runtime_argument(calls):
    """One compiled kernel serves every T: the step count is no constexpr."""
    x, _ = _inputs()
    kernels = neuron_kernels(LIF_PROGRAM, sc_neurocore.get_spec("atan"), x)
    assert isinstance(kernels, TritonNeuron)
    for kernel in (kernels.module.forward, kernels.module.backward):
        parameters = inspect.signature(kernel.fn).parameters
        assert parameters["steps"].annotation is inspect.Parameter.empty
        assert "constexpr" in str(parameters["BLOCK"].annotation)
    layer, cell = LIF(beta=0.9, threshold=1.0), LIFCell(beta=0.9, threshold=1.0)
    for steps in (1, 3, 17):
        sequence = torch.randn(steps, 2, 3) + 0.5
        assert torch.equal(layer(sequence)[0], _stepped(cell, sequence, None)[0])
    assert calls["forward"] == 3


def test_forced_triton_without_the_interpreter_names_the_reason(monkeypatch):
    set_environment(monkeypatch, SC_NEUROCORE_KERNEL="triton", TRITON_INTERPRET=None)
    with pytest.raises(RuntimeError, match="SC_NEUROCORE_KERNEL=triton.*TRITON_INTERPRET"):
        LIF()(torch.ones(3, 2, 2))
    kernel, reason = fused_kernel("atan", "cpu")
    assert kernel == "error" and "TRITON_INTERPRET" in reason


def test_a_spec_without_a_formula_is_reported(monkeypatch):
    interpret_triton(monkeypatch)
    plain = SurrogateSpec(name="plain", params=(), grad=torch.ones_like, description="plain")
    assert "has no formula" in triton_status(plain)


def test_unset_switch_keeps_cpu_tensors_off_the_interpreter(monkeypatch):
    set_environment(monkeypatch, TRITON_INTERPRET="1", SC_NEUROCORE_KERNEL=None)
    kernels = neuron_kernels(LIF_PROGRAM, sc_neurocore.get_spec("atan"), torch.zeros(2, 2))
    assert not isinstance(kernels, TritonNeuron)


def _stepped(cell, x, *states):
    outputs = []
    for current in x.unbind(0):
        out = cell(current, *states)
        states = out[1:] if isinstance(out, tuple) else (out,)
        outputs.append(out[0] if isinstance(out, tuple) else out)
    return torch.stack(outputs), *states


@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learned"])
def test_leaky_integrator_runs_triton_and_matches_its_cell(calls, learn: bool) -> None:
    beta = torch.linspace(0.5, 0.95, NEURONS, dtype=torch.float64)
    fused = LeakyIntegrator(beta, learn_beta=learn).double()
    cell = LeakyIntegratorCell(beta, learn_beta=learn).double()
    cell.load_state_dict(fused.state_dict())
    x, v0 = _inputs(seed=5)
    leaves = [x.clone().requires_grad_(True), v0.clone().requires_grad_(True)]
    y = fused(*leaves)
    assert calls["leaky forward"] == 1
    got = torch.autograd.grad((y * y).sum(), [*leaves, *fused.parameters()])
    assert calls["leaky backward"] == 1
    reference = [x.clone().requires_grad_(True), v0.clone().requires_grad_(True)]
    y_ref, _ = _stepped(cell, *reference)
    want = torch.autograd.grad((y_ref * y_ref).sum(), [*reference, *cell.parameters()])
    assert torch.equal(y, y_ref)
    for mine, expected in zip(got, want, strict=True):
        torch.testing.assert_close(mine, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", SURROGATES)
def test_synaptic_lif_runs_triton_and_matches_its_cell(calls, name: str) -> None:
    if not _runs_triton(name):
        return
    options = dict(
        alpha=0.85, beta=0.8, threshold=0.9, surrogate_fn=sc_neurocore.get_surrogate(name)
    )
    options.update(learn_alpha=True, learn_beta=True, learn_threshold=True)
    fused, cell = SynapticLIF(**options).double(), SynapticCell(**options).double()
    cell.load_state_dict(fused.state_dict())
    x, v0 = _inputs(seed=6)
    i0 = v0 * 0.5
    leaves = [t.clone().requires_grad_(True) for t in (x, i0, v0)]
    spikes, i, v = fused(*leaves)
    loss = (spikes * torch.linspace(-1, 2, spikes.numel()).view_as(spikes)).sum() + (v * i).sum()
    got = torch.autograd.grad(loss, [*leaves, *fused.parameters()])
    assert calls["forward"] == calls["leaky forward"] == 1 and calls["backward"] == 1
    reference = [t.clone().requires_grad_(True) for t in (x, i0, v0)]
    spikes_ref, i_ref, v_ref = _stepped(cell, *reference)
    weights = torch.linspace(-1, 2, spikes.numel()).view_as(spikes)
    loss_ref = (spikes_ref * weights).sum() + (v_ref * i_ref).sum()
    want = torch.autograd.grad(loss_ref, [*reference, *cell.parameters()])
    assert torch.equal(spikes, spikes_ref) and bool(spikes.any())
    for mine, expected in zip(got, want, strict=True):
        torch.testing.assert_close(mine, expected, rtol=1e-9, atol=1e-11)


BUILTINS = ("fast_sigmoid", "superspike", "atan", "sigmoid", "straight_through", "triangular")


def test_every_builtin_surrogate_runs_the_triton_kernels(monkeypatch) -> None:
    interpret_triton(monkeypatch)
    for name in BUILTINS:
        assert triton_status(sc_neurocore.get_spec(name)) == "triton", name


def test_kernel_listing_has_every_fused_operator_on_every_device(calls) -> None:
    from sc_neurocore.kernels.selector import DEVICE_KINDS, SELECTOR

    specs = [sc_neurocore.get_spec(name) for name in SURROGATES]
    rows = [row for row in SELECTOR.listing(specs) if row.op.startswith("sc_neurocore_neuron::")]
    fused_layers = ("lif", "li", "cuba_lif")  # LIF, LeakyIntegrator, SynapticLIF
    found = {(r.op, r.device): r for r in rows}
    for name in fused_layers:
        for device in DEVICE_KINDS:
            row = found[f"sc_neurocore_neuron::{name}", device]
            if device == "cpu":  # forced triton under the interpreter
                assert row.kernel == "triton" and "SC_NEUROCORE_KERNEL=triton" in row.reason
            elif not torch.cuda.is_available():
                assert row.kernel in ("torch", "error") and row.reason, row


@pytest.mark.parametrize("reset", RESET_MODES)
@pytest.mark.parametrize("name", SURROGATES)
def test_every_reset_mode_runs_triton_through_the_operator(calls, reset: str, name: str):
    """``LIF(reset=..., v_reset=...)`` on the Triton kernels against stepping ``LIFCell``."""
    surrogate_fn = sc_neurocore.get_surrogate(name)
    options = dict(beta=0.85, threshold=0.8, surrogate_fn=surrogate_fn, learn_beta=True)
    options.update(learn_threshold=True, reset=reset, v_reset=torch.linspace(-0.4, 0.2, NEURONS))
    fused, cell = LIF(**options).double(), LIFCell(**options).double()
    cell.load_state_dict(fused.state_dict())
    x, v0 = _inputs(seed=7)
    got, want = _run(fused, x, v0, "weighted"), _run(cell, x, v0, "weighted")
    assert calls["forward"] >= 1 and calls["backward"] >= 1
    assert torch.equal(got[0], want[0]) and bool(want[0].any())
    torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-13)
    for index, (mine, reference) in enumerate(zip(got[2], want[2], strict=True)):
        torch.testing.assert_close(mine, reference, rtol=1e-9, atol=1e-11, msg=f"grad {index}")
