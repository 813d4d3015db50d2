"""The custom_op operators' own kernels, per family, against the torch reference.

Parametrized over every registered surrogate and every kernel family: ``torch``,
``native`` (compiled C, CPU float32/float64) and ``triton`` (through Triton's CPU
interpreter here, ``TRITON_INTERPRET=1`` from conftest; compiled on CUDA).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.registry import resolve
from sc_neurocore.kernels.choice import KERNEL_FAMILIES, KernelUnavailableError, use_kernel
from sc_neurocore.testing.checks import assert_gradient_close, sample_points

from .conftest import FLOAT_DTYPES, set_environment

SURROGATES = sc_neurocore.list_surrogates()
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _runs(surrogate: str, family: str, dtype: torch.dtype) -> str:
    """'' if ``family`` can run the surrogate's operator on a ``dtype`` tensor, else why."""
    with use_kernel(family):
        kernel, reason = resolve(surrogate, "custom_op").dispatch.choice(DEVICE, dtype)
    return "" if kernel == family else reason


def _spike_and_grad(surrogate: str, x: torch.Tensor, grad_out: torch.Tensor):
    fn = sc_neurocore.get_surrogate(surrogate, "custom_op")
    leaf = x.detach().clone().requires_grad_(True)
    out = fn(leaf)
    (grad,) = torch.autograd.grad(out, leaf, grad_out)
    return out, grad


@pytest.mark.parametrize("family", KERNEL_FAMILIES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("surrogate", SURROGATES)
def test_family_matches_the_spec(surrogate: str, dtype: torch.dtype, family: str) -> None:
    why = _runs(surrogate, family, dtype)
    x = sample_points(dtype, DEVICE, special=True)
    grad_out = (torch.rand(x.shape, dtype=torch.float64) + 0.5).to(dtype).to(DEVICE)
    if why:
        with use_kernel(family), pytest.raises(KernelUnavailableError, match=family):
            _spike_and_grad(surrogate, x, grad_out)
        return
    with use_kernel(family):
        out, grad = _spike_and_grad(surrogate, x, grad_out)
    assert torch.equal(out, (x > 0).to(dtype)), f"{surrogate} {family}: spikes differ"
    finite = torch.isfinite(x)
    spec = sc_neurocore.get_spec(surrogate)
    truth = grad_out.double() * spec.grad(x.double(), **spec.defaults)
    what = f"{surrogate} {family} {dtype}"
    assert_gradient_close(grad[finite], truth[finite], dtype, what)


@pytest.mark.parametrize("family", KERNEL_FAMILIES)
def test_layouts_broadcast_and_empty(family: str) -> None:
    surrogate, dtype = "sigmoid", torch.float32
    if _runs(surrogate, family, dtype):
        pytest.skip(_runs(surrogate, family, dtype))
    spec = sc_neurocore.get_spec(surrogate)
    base = torch.randn(2, 3, 4, 5, device=DEVICE)
    inputs = {
        "channels_last": base.contiguous(memory_format=torch.channels_last),
        "transposed": base[0, 0].t(),
        "strided": base.flatten()[::3],
        "zero_dim": base.flatten()[4].clone(),
        "empty": base.flatten()[:0].reshape(0, 3),
    }
    with use_kernel(family):
        fn = sc_neurocore.get_surrogate(surrogate, "custom_op")
        for label, x in inputs.items():
            leaf = x.clone().requires_grad_(True) if x.is_contiguous() else x.requires_grad_(True)
            out = fn(leaf)
            assert out.stride() == (x > 0).to(x.dtype).stride(), label
            assert torch.equal(out, (x > 0).to(x.dtype)), label
            out.sum().backward()  # the stride-0 expanded grad_out of y.sum()
            expected = spec.grad(x.detach().double(), **spec.defaults)
            assert_gradient_close(leaf.grad, expected, dtype, f"{family} {label}")
            # a grad_out laid out unlike x (transposed storage), and one expanded along a dim
            for grad_out in (
                torch.randn(tuple(reversed(x.shape)), device=DEVICE).permute(
                    tuple(reversed(range(x.dim())))
                ),
                torch.randn(x.shape[-1:], device=DEVICE).expand(x.shape),
            ):
                (grad,) = torch.autograd.grad(fn(leaf), leaf, grad_out)
                truth = grad_out.double() * expected
                assert_gradient_close(grad, truth, dtype, f"{family} {label} strided grad_out")


def test_forced_family_that_cannot_run_raises_naming_why() -> None:
    x = torch.randn(8, dtype=torch.float16, requires_grad=True)
    with use_kernel("native"), pytest.raises(KernelUnavailableError, match="float32 and float64"):
        sc_neurocore.get_surrogate("atan", "custom_op")(x)
    plain = dataclasses.replace(sc_neurocore.get_spec("atan"), name="atan_grad_only", formula=None)
    from sc_neurocore.kernels.choice import ElementwiseDispatch

    dispatch = ElementwiseDispatch(plain)
    with use_kernel("triton"), pytest.raises(KernelUnavailableError, match="has no formula"):
        dispatch.kernels(torch.zeros(3))
    kernel, reason = dispatch.choice("cuda")
    assert kernel == "torch" and reason


def test_environment_switch_and_public_function(monkeypatch: pytest.MonkeyPatch) -> None:
    from sc_neurocore.kernels import choice

    set_environment(monkeypatch, **{choice.ENV_KERNEL: "torch"})
    assert choice.requested_kernel() == "torch"
    set_environment(monkeypatch, **{choice.ENV_KERNEL: "cuda-please"})
    with pytest.raises(ValueError, match="SC_NEUROCORE_KERNEL.*'cuda-please'"):
        choice.requested_kernel()
    previous = sc_neurocore.set_kernel("native")
    try:
        assert choice.requested_kernel() == "native"  # the function beats the variable
    finally:
        sc_neurocore.set_kernel(None)
    assert previous is None
    with pytest.raises(ValueError, match="kernel family"):
        sc_neurocore.set_kernel("gpu")


def test_double_backward_uses_the_differentiable_form() -> None:
    x = torch.randn(64, dtype=torch.float64, requires_grad=True)
    fn = sc_neurocore.get_surrogate("atan", "custom_op")
    (grad,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad(grad.sum(), x)
    leaf = x.detach().requires_grad_(True)
    spec = sc_neurocore.get_spec("atan")
    (expected,) = torch.autograd.grad(spec.grad(leaf, **spec.defaults).sum(), leaf)
    torch.testing.assert_close(second, expected)
