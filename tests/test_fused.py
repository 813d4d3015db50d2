"""The fused multi-step ``LIF``: parity with stepping ``LIFCell`` for every registered
surrogate and path, the operator contract (opcheck, compile, export), fallbacks, errors
and dtypes."""

from __future__ import annotations

import functools

import pytest
import torch

import sc_neurocore
from sc_neurocore.neurons.base import RESET_MODES
from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.neurons.fused import LIF, lif_op
from sc_neurocore.neurons.neuron_op import builtin_neuron, operator_for
from sc_neurocore.training import atan_surrogate, surrogate

from .conftest import FLOAT_DTYPES, on_cpu_kernels, registered_pairs

PAIRS = registered_pairs()
KERNELS = ["native", "torch"]
SURROGATES = sc_neurocore.list_surrogates()
STEPS, BATCH, NEURONS = 12, 3, 4


@pytest.fixture(autouse=True, params=KERNELS)
def kernels(request: pytest.FixtureRequest):
    """Every test runs on the compiled C kernels and on the torch kernels."""
    yield from on_cpu_kernels(request.param)


def _sequence(dtype: torch.dtype = torch.float64, device: str = "cpu", seed: int = 0):
    """Inputs that make roughly a third of the neurons fire, and a non-zero v0."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(STEPS, BATCH, NEURONS, generator=generator, dtype=torch.float64) * 0.8 + 0.3
    v0 = torch.randn(BATCH, NEURONS, generator=generator, dtype=torch.float64) * 0.5
    return x.to(device, dtype), v0.to(device, dtype)


def _step_cell(cell: torch.nn.Module, x: torch.Tensor, v0: torch.Tensor | None):
    v, spikes = v0, []
    for current in x.unbind(0):
        spike, v = cell(current, v)
        spikes.append(spike)
    return torch.stack(spikes), v


def _loss_and_grads(run, x, v0, params, loss_kind: str):
    """Run ``run(x, v0)``, return spikes, v_T and gradients w.r.t. x, v0 and params."""
    x = x.detach().clone().requires_grad_(True)
    v0 = v0.detach().clone().requires_grad_(True)
    spikes, v = run(x, v0)
    if loss_kind == "spike_sum":  # the incoming gradient is an expanded tensor of ones
        loss = spikes.sum()
    elif loss_kind == "membrane":  # no gradient reaches the spike output
        loss = (v * v.detach().cos()).sum()
    else:
        weights = torch.linspace(-1.0, 2.0, spikes.numel(), dtype=x.dtype, device=x.device)
        loss = (spikes * weights.view_as(spikes)).sum() + (v * v.detach().cos()).sum()
    grads = torch.autograd.grad(loss, [x, v0, *params])
    return spikes, v, grads


def _non_default_surrogate(name: str, path: str):
    """The surrogate with every parameter moved off its default, so params must flow."""
    spec = sc_neurocore.get_spec(name)
    return sc_neurocore.get_surrogate(name, path, **{k: d * 1.3 for k, d in spec.params})


def _assert_parity(fused: LIF, cell: LIFCell, x, v0, loss_kind: str = "weighted") -> None:
    cell.load_state_dict(fused.state_dict())
    got = _loss_and_grads(fused, x, v0, list(fused.parameters()), loss_kind)
    want = _loss_and_grads(
        functools.partial(_step_cell, cell), x, v0, list(cell.parameters()), loss_kind
    )
    assert torch.equal(got[0], want[0]), "spikes differ"
    assert 0 < int(want[0].sum()) < want[0].numel(), "test inputs should fire some neurons"
    assert all(bool(grad.ne(0).any()) for grad in want[2]), "every gradient should be non-zero"
    torch.testing.assert_close(got[1], want[1], rtol=1e-12, atol=1e-13)
    for index, (mine, reference) in enumerate(zip(got[2], want[2])):
        torch.testing.assert_close(mine, reference, rtol=1e-9, atol=1e-12, msg=f"grad {index}")
        assert mine.dtype == reference.dtype and mine.shape == reference.shape


@pytest.mark.parametrize(("name", "path"), PAIRS)
@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learned"])
@pytest.mark.parametrize("loss_kind", ["weighted", "spike_sum"])
def test_matches_stepping_lifcell_in_float64(name: str, path: str, learn: bool, loss_kind: str):
    surrogate_fn = _non_default_surrogate(name, path)
    options = dict(beta=0.8, threshold=0.9, surrogate_fn=surrogate_fn)
    options.update(learn_beta=learn, learn_threshold=learn)
    fused = LIF(**options).double()
    assert fused.fused
    x, v0 = _sequence()
    _assert_parity(fused, LIFCell(**options).double(), x, v0, loss_kind)


@pytest.mark.parametrize("name", SURROGATES)
def test_matches_lifcell_without_initial_state(name: str, device: str) -> None:
    fused = LIF(surrogate_fn=sc_neurocore.get_surrogate(name), learn_beta=True).double().to(device)
    cell = LIFCell(surrogate_fn=sc_neurocore.get_surrogate(name), learn_beta=True).double()
    cell.to(device).load_state_dict(fused.state_dict())
    x, _ = _sequence(device=device)
    x.requires_grad_(True)
    spikes, v = fused(x)
    spikes_ref, v_ref = _step_cell(cell, x, None)
    assert torch.equal(spikes, spikes_ref)
    grads = torch.autograd.grad((spikes * 3).sum() + v.sum(), [x, fused.beta_logit])
    grads_ref = torch.autograd.grad((spikes_ref * 3).sum() + v_ref.sum(), [x, cell.beta_logit])
    for mine, reference in zip(grads, grads_ref):
        torch.testing.assert_close(mine, reference, rtol=1e-9, atol=1e-12)


def test_loss_on_the_final_membrane_only_matches_lifcell() -> None:
    options = dict(beta=0.7, threshold=0.8, learn_beta=True, learn_threshold=True)
    x, v0 = _sequence()
    _assert_parity(LIF(**options).double(), LIFCell(**options).double(), x, v0, "membrane")


@pytest.mark.parametrize("learn", [False, True], ids=["fixed", "learned"])
def test_per_neuron_beta_and_threshold_match_lifcell(learn: bool) -> None:
    beta = torch.linspace(0.5, 0.95, NEURONS, dtype=torch.float64)
    threshold = torch.linspace(0.7, 1.2, NEURONS, dtype=torch.float64)
    options = dict(beta=beta, threshold=threshold, learn_beta=learn, learn_threshold=learn)
    fused = LIF(**options).double()
    x, v0 = _sequence()
    _assert_parity(fused, LIFCell(**options).double(), x, v0)


@pytest.mark.parametrize("form", sorted(surrogate.CALL_FORM_NAMES))
@pytest.mark.parametrize("suffix", ["", "_custom_op", "_legacy"])
def test_call_forms_and_partials_run_fused(form: str, suffix: str) -> None:
    call_form = getattr(surrogate, form + suffix)
    spec = call_form.spec
    partial = functools.partial(call_form, **{key: d * 0.7 for key, d in spec.params})
    x, v0 = _sequence()
    for fn in (call_form, partial):
        fused = LIF(surrogate_fn=fn).double()
        assert fused.fused, fn
        _assert_parity(fused, LIFCell(surrogate_fn=fn).double(), x, v0)


def test_user_callable_falls_back_with_identical_results() -> None:
    def own(x: torch.Tensor) -> torch.Tensor:
        return atan_surrogate(x)

    for fn in (own, lambda x: atan_surrogate(x, 2.0)):
        layer = LIF(surrogate_fn=fn, learn_threshold=True).double()
        assert not layer.fused
        x, v0 = _sequence()
        _assert_parity(layer, LIFCell(surrogate_fn=fn, learn_threshold=True).double(), x, v0)
        reference = LIF(surrogate_fn=atan_surrogate, learn_threshold=True).double()
        got = _loss_and_grads(layer, x, v0, [layer.threshold_log], "weighted")
        want = _loss_and_grads(reference, x, v0, [reference.threshold_log], "weighted")
        assert torch.equal(got[0], want[0])
        for mine, fused_grad in zip(got[2], want[2]):
            torch.testing.assert_close(mine, fused_grad, rtol=1e-9, atol=1e-12)


def test_changing_the_surrogate_switches_between_fused_and_fallback() -> None:
    layer = LIF()
    assert layer.fused
    layer.surrogate_fn = lambda x: atan_surrogate(x)
    assert not layer.fused
    layer.surrogate_fn = sc_neurocore.get_surrogate("triangular", width=0.5)
    assert layer.fused and "triangular" in repr(layer)


def test_torch_func_grad_falls_back_and_agrees_with_autograd() -> None:
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("sigmoid")).double()
    x, v0 = _sequence()

    def loss(inputs: torch.Tensor) -> torch.Tensor:
        spikes, v = layer(inputs, v0)
        return (spikes * 2).sum() + v.sum()

    by_func = torch.func.grad(loss)(x)
    inputs = x.clone().requires_grad_(True)
    (by_autograd,) = torch.autograd.grad(loss(inputs), inputs)
    torch.testing.assert_close(by_func, by_autograd, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("reset", RESET_MODES)
def test_opcheck_forward_and_backward_operators(name: str, reset: str) -> None:
    """The generated operators LIF runs (one per reset mode), forward and backward."""
    spec = sc_neurocore.get_spec(name)
    params = [d * 1.1 for _, d in spec.params]
    operator = operator_for(builtin_neuron("lif", reset))
    x, v0 = _sequence(torch.float32)
    beta = torch.tensor(0.85, requires_grad=True)
    threshold = torch.tensor(0.9, requires_grad=True)
    values = [beta, threshold] + ([torch.tensor(-0.2)] if reset == "zero" else [])
    surrogate = (name, params)
    args = (x.requires_grad_(True), v0.requires_grad_(True), *values, *surrogate)
    torch.library.opcheck(operator.forward.op, args)
    fixed = [value.detach() for value in values]
    torch.library.opcheck(operator.forward.op, (x, None, *fixed, *surrogate))
    spikes, v = operator.forward.op(*args)
    grads = (torch.randn_like(spikes), torch.randn_like(v))
    backward_args = (*grads, x.detach(), v0.detach(), *fixed, *surrogate, True)
    torch.library.opcheck(operator.backward_op.op, backward_args)


def test_torch_compile_fullgraph_matches_eager() -> None:
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("fast_sigmoid"), learn_beta=True)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    x, v0 = _sequence(torch.float32)
    params = [layer.beta_logit]
    got = _loss_and_grads(compiled, x, v0, params, "weighted")
    want = _loss_and_grads(layer, x, v0, params, "weighted")
    assert torch.equal(got[0], want[0])
    for mine, eager in zip((got[1], *got[2]), (want[1], *want[2])):
        torch.testing.assert_close(mine, eager)


def test_torch_export_contains_one_fused_operator() -> None:
    x, v0 = _sequence(torch.float32)
    program = torch.export.export(LIF(), (x, v0))
    targets = [node.target for node in program.graph.nodes if node.op == "call_function"]
    assert targets.count(lif_op) == 1
    spikes, v = program.module()(x, v0)
    expected = LIF()(x, v0)
    assert torch.equal(spikes, expected[0]) and torch.equal(v, expected[1])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_dtype_is_preserved(dtype: torch.dtype, device: str) -> None:
    x, v0 = _sequence(dtype, device)
    x.requires_grad_(True)
    layer = LIF(learn_beta=True, learn_threshold=True).to(device)
    spikes, v = layer(x, v0)
    assert spikes.dtype == v.dtype == dtype and spikes.shape == x.shape
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    spikes.sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype and bool(x.grad.isfinite().all())
    assert layer.beta_logit.grad is not None and layer.beta_logit.grad.dtype == torch.float32


def test_non_contiguous_inputs_match_contiguous() -> None:
    x, v0 = _sequence()
    strided = x.transpose(1, 2).contiguous().transpose(1, 2)
    layer = LIF().double()
    assert not strided.is_contiguous()
    got = _loss_and_grads(layer, strided, v0.t().contiguous().t(), [], "weighted")
    want = _loss_and_grads(layer, x, v0, [], "weighted")
    assert torch.equal(got[0], want[0])
    for mine, reference in zip(got[2], want[2]):
        torch.testing.assert_close(mine, reference, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("inputs", "v0", "error", "message"),
    [
        (torch.ones(5), None, ValueError, "time-major"),
        (torch.ones(0, 2, 3), None, ValueError, "at least one time step"),
        (torch.ones(4, 2, 3, dtype=torch.int64), None, TypeError, "torch.int64"),
        ([[1.0]], None, TypeError, "list"),
        (torch.ones(4, 2, 3), torch.zeros(2, 4), ValueError, r"\(2, 3\).*\(2, 4\)"),
        (torch.ones(4, 2, 3), torch.zeros(2, 3, dtype=torch.int32), TypeError, "v0"),
    ],
)
def test_bad_inputs_raise_clear_errors(inputs, v0, error, message) -> None:
    with pytest.raises(error, match=message):
        LIF()(inputs, v0)


def test_beta_that_does_not_broadcast_is_rejected() -> None:
    layer = LIF(beta=torch.full((7,), 0.9))
    with pytest.raises(ValueError, match=r"beta of shape \(7,\)"):
        layer(torch.ones(4, 2, 3))


def test_double_backward_raises_a_clear_error() -> None:
    layer = LIF(learn_beta=True).double()
    x, _ = _sequence()
    x.requires_grad_(True)
    spikes, v = layer(x)
    (grad_x,) = torch.autograd.grad(spikes.sum() + v.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="second derivative"):
        grad_x.sum().backward()


def test_layer_pickles_and_deep_copies_with_its_surrogate() -> None:
    import copy
    import pickle

    layer = LIF(beta=0.8, surrogate_fn=sc_neurocore.get_surrogate("superspike", beta=4.0))
    x, v0 = _sequence(torch.float32)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert clone.fused and clone.surrogate_fn == layer.surrogate_fn
        assert torch.equal(clone(x, v0)[0], layer(x, v0)[0])
