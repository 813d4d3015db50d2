"""Every registered (surrogate, path) pair: exact forward, spec gradient, agreement across paths."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.registry import resolve
from sc_neurocore.testing.checks import assert_gradient_close
from sc_neurocore.training import SURROGATE_PATHS

from .conftest import FLOAT_DTYPES, registered_pairs

PAIRS = registered_pairs()
SURROGATES = sc_neurocore.list_surrogates()


def _inputs(dtype: torch.dtype) -> torch.Tensor:
    torch.manual_seed(0)
    x = torch.randn(257, dtype=torch.float64) * 3
    special = torch.tensor([0.0, -0.0, 1e-3, -1e-3, 1.0, -1.0, 0.5, -0.5], dtype=torch.float64)
    return torch.cat([x, special]).to(dtype)


def _spec_grad(surrogate: str, x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    spec = sc_neurocore.get_spec(surrogate)
    return grad_out * spec.grad(x, **spec.defaults)


def _forward_backward(surrogate: str, path: str, x: torch.Tensor, grad_out: torch.Tensor):
    x = x.detach().clone().requires_grad_(True)
    spike = sc_neurocore.get_surrogate(surrogate, path)(x)
    (grad,) = torch.autograd.grad(spike, x, grad_out)
    return spike, grad


@pytest.mark.parametrize(("surrogate", "path"), PAIRS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_forward_is_heaviside_in_input_dtype(surrogate: str, path: str, dtype: torch.dtype) -> None:
    x = _inputs(dtype)
    spike = sc_neurocore.get_surrogate(surrogate, path)(x)
    expected = (x > 0).to(x.dtype)
    assert spike.dtype == dtype
    assert spike.shape == x.shape
    assert torch.equal(spike, expected)


@pytest.mark.parametrize(("surrogate", "path"), PAIRS)
def test_gradient_matches_spec_in_float64(surrogate: str, path: str) -> None:
    x = _inputs(torch.float64)
    grad_out = torch.rand_like(x) + 0.5
    _, grad = _forward_backward(surrogate, path, x, grad_out)
    torch.testing.assert_close(grad, _spec_grad(surrogate, x, grad_out), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("surrogate", "path"), PAIRS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_gradient_dtype_and_finiteness(surrogate: str, path: str, dtype: torch.dtype) -> None:
    big = torch.finfo(dtype).max / 4
    values = [0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, big, -big, 3.0, -3.0]
    x = torch.tensor(values, dtype=torch.float64).clamp(-big, big).to(dtype)
    grad_out = torch.ones_like(x)
    _, grad = _forward_backward(surrogate, path, x, grad_out)
    assert grad.dtype == dtype
    assert torch.isfinite(grad).all(), grad


def _kernel_family(surrogate: str, path: str, dtype: torch.dtype) -> str:
    """Which kernel family the path's own kernels use on a CPU ``dtype`` tensor."""
    dispatch = getattr(resolve(surrogate, path), "dispatch", None)
    return "torch" if dispatch is None else dispatch.choice("cpu", dtype)[0]


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_paths_agree_with_legacy(surrogate: str, dtype: torch.dtype) -> None:
    """Exactly where a path runs the torch kernels too; within rounding where it runs its own."""
    x = _inputs(dtype)
    grad_out = (torch.rand_like(x.float()) + 0.5).to(dtype)
    reference = _forward_backward(surrogate, "legacy_autograd", x, grad_out)
    for path in sc_neurocore.list_paths():
        if (surrogate, path) not in PAIRS or path == "legacy_autograd":
            continue
        spike, grad = _forward_backward(surrogate, path, x, grad_out)
        assert torch.equal(spike, reference[0])
        if path in SURROGATE_PATHS and _kernel_family(surrogate, path, dtype) == "torch":
            assert torch.equal(grad, reference[1]), f"{path} drifted from legacy_autograd"
        else:
            assert_gradient_close(grad, reference[1].double(), dtype, f"{surrogate}@{path}")


def test_custom_op_runs_its_own_kernels_in_plain_eager() -> None:
    """Eager custom_op calls reach the operator's compiled kernels, not legacy's torch code."""
    spec = sc_neurocore.get_spec("sigmoid")
    fn = resolve("sigmoid", "custom_op")
    if fn.dispatch.choice("cpu")[0] != "native":
        pytest.skip(f"no compiled kernels here: {fn.dispatch.choice('cpu')[1]}")
    x = torch.randn(4096, requires_grad=True)
    calls: list[str] = []
    kernels = fn.dispatch.kernels(x)
    original = kernels.backward
    object.__setattr__(kernels, "backward", lambda *a: calls.append("native") or original(*a))
    try:
        fn(x, **spec.defaults).sum().backward()
    finally:
        object.__setattr__(kernels, "backward", original)
    assert calls == ["native"]
    assert_gradient_close(
        x.grad, spec.grad(x.detach().double(), **spec.defaults), torch.float32, ""
    )


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_fast_grad_mul_equals_reference_grad(surrogate: str) -> None:
    spec = sc_neurocore.get_spec(surrogate)
    if spec.grad_mul is None:
        pytest.skip(f"{surrogate} has no grad_mul (uses grad)")
    x = _inputs(torch.float64)
    grad_out = torch.rand_like(x) + 0.5
    fast = spec.grad_mul(x.clone(), grad_out.clone(), **spec.defaults)
    torch.testing.assert_close(fast, _spec_grad(surrogate, x, grad_out), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("surrogate", "path"), PAIRS)
def test_memory_format_and_noncontiguous_inputs(surrogate: str, path: str) -> None:
    fn = sc_neurocore.get_surrogate(surrogate, path)
    x = torch.randn(2, 3, 4, 5).to(memory_format=torch.channels_last)
    assert fn(x).is_contiguous(memory_format=torch.channels_last)
    view = torch.randn(6, 8).t()[::2]
    assert torch.equal(fn(view), (view > 0).to(view.dtype))


@pytest.mark.parametrize(("surrogate", "path"), PAIRS)
def test_integer_and_bool_inputs_are_rejected(surrogate: str, path: str) -> None:
    fn = sc_neurocore.get_surrogate(surrogate, path)
    for bad in (torch.arange(4), torch.tensor([True, False])):
        with pytest.raises(TypeError, match="floating-point"):
            fn(bad)


def test_custom_op_operators_pass_opcheck() -> None:
    for surrogate in SURROGATES:
        fn = resolve(surrogate, "custom_op")
        spec = sc_neurocore.get_spec(surrogate)
        assert fn.op.name() == f"sc_neurocore::{surrogate}"
        x = torch.randn(3, 5, requires_grad=True)
        torch.library.opcheck(fn.op, (x, *spec.defaults.values()))


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("path", SURROGATE_PATHS)
def test_compile_fullgraph_forward_and_backward(surrogate: str, path: str) -> None:
    torch._dynamo.reset()
    fn = sc_neurocore.get_surrogate(surrogate, path)

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (fn(x * 1.5) * x).sum()

    x = torch.randn(16, dtype=torch.float64, requires_grad=True)
    explanation = torch._dynamo.explain(loss)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
    (compiled_grad,) = torch.autograd.grad(compiled(x), x)
    (eager_grad,) = torch.autograd.grad(loss(x), x)
    torch.testing.assert_close(compiled_grad, eager_grad)


def test_custom_op_refuses_a_second_spec_of_the_same_name() -> None:
    """Operator names depend on the registry name only (issue 14): no silent ``_v2``."""
    import dataclasses

    from sc_neurocore.paths import custom_op

    spec = sc_neurocore.get_spec("atan")
    rival = dataclasses.replace(spec, description="a different atan from another plugin")
    first = custom_op.build(spec)
    assert first.op.name() == "sc_neurocore::atan"
    with pytest.raises(RuntimeError, match="sc_neurocore::atan is already defined"):
        custom_op.build(rival)
    assert custom_op.build(spec) is first
