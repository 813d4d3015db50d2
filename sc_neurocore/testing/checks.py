"""The conformance checks as plain functions: each raises AssertionError saying what broke.

They are what ``sc_neurocore.testing.conformance`` runs for every selected pair;
plugin authors can also call them directly while developing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..core.registry import get_spec, resolve
from ..core.spec import SurrogateSpec

FLOAT_DTYPES: tuple[torch.dtype, ...] = (
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
)
REFERENCE_PATH = "legacy_autograd"
#: Gradients are compared within this many units of the dtype's epsilon, relative to
#: the value and to the surrogate's peak |g| (paths may round differently).
TOLERANCE_EPS = 32.0


def sample_points(dtype: torch.dtype, device: str = "cpu", special: bool = False) -> Tensor:
    """A grid over [-3, 3] plus 0, -0, tiny, large and the largest finite values of ``dtype``.

    ``special=True`` adds +-inf and NaN (the forward must still be the exact step).
    """
    finfo = torch.finfo(dtype)
    values = torch.linspace(-3.0, 3.0, 61, dtype=torch.float64).tolist()
    values += [0.0, -0.0, 1e-3, -1e-3, 1e-30, -1e-30, 1e4, -1e4, 1e30, -1e30]
    values += [finfo.max, -finfo.max, finfo.tiny, -finfo.tiny]
    x = torch.tensor(values, dtype=torch.float64)
    with torch.no_grad():
        x = x[torch.isfinite(x.to(dtype))].to(dtype)
    if special:
        x = torch.cat([x, torch.tensor([float("inf"), -float("inf"), float("nan")], dtype=dtype)])
    return x.to(device)


def parameter_sets(spec: SurrogateSpec) -> list[dict[str, float]]:
    """The defaults and a second set, so a path that ignores parameters is caught."""
    defaults = dict(spec.params)
    if not defaults:
        return [defaults]
    return [defaults, {key: value * 1.5 for key, value in defaults.items()}]


def reference_step(x: Tensor) -> Tensor:
    return (x > 0).to(x.dtype)


def _bits(t: Tensor) -> Tensor:
    """Reinterpret as integers so that -0.0 vs 0.0 and NaN payloads count as different."""
    return t.contiguous().view(
        {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    )


def assert_step(out: Any, x: Tensor, what: str) -> None:
    assert isinstance(out, Tensor), f"{what}: returned {type(out).__name__}, not a Tensor"
    expected = reference_step(x.detach())
    assert out.dtype == x.dtype, f"{what}: output dtype {out.dtype}, input dtype {x.dtype}"
    assert out.shape == x.shape, f"{what}: output shape {tuple(out.shape)} != {tuple(x.shape)}"
    assert out.device == x.device, f"{what}: output on {out.device}, input on {x.device}"
    if not torch.equal(_bits(out.detach()), _bits(expected)):
        bad = (_bits(out.detach()) != _bits(expected)).nonzero().flatten()[:5]
        xs = x.detach().flatten()[bad].tolist()
        raise AssertionError(
            f"{what}: forward is not the exact step (x > 0) in {x.dtype}; "
            f"first differences at x = {xs}: got {out.detach().flatten()[bad].tolist()}"
        )


def _tolerance(dtype: torch.dtype, peak: float) -> tuple[float, float]:
    eps = torch.finfo(dtype).eps * TOLERANCE_EPS
    return eps, eps * max(peak, 1e-12)


def assert_gradient_close(
    actual: Tensor, expected64: Tensor, dtype: torch.dtype, what: str
) -> None:
    """``actual`` (in ``dtype``) against a float64 truth, scaled by the truth's peak."""
    assert actual.dtype == dtype, f"{what}: gradient dtype {actual.dtype}, input dtype {dtype}"
    if not torch.isfinite(actual).all():
        bad = (~torch.isfinite(actual)).nonzero().flatten()[:5].tolist()
        raise AssertionError(f"{what}: non-finite gradient at positions {bad}")
    peak = float(expected64.abs().max()) if expected64.numel() else 1.0
    rtol, atol = _tolerance(dtype, peak)
    torch.testing.assert_close(
        actual.double(), expected64, rtol=rtol, atol=atol, msg=lambda m: f"{what}: {m}"
    )


def spike_and_grad(
    fn: Callable[..., Tensor], x: Tensor, grad_out: Tensor, params: dict[str, float]
) -> tuple[Tensor, Tensor]:
    leaf = x.detach().clone().requires_grad_(True)
    out = fn(leaf, **params)
    (grad,) = torch.autograd.grad(out, leaf, grad_out)
    return out, grad


def grad_out_like(x: Tensor) -> Tensor:
    """A non-constant incoming gradient, so a path that drops grad_out is caught."""
    return torch.linspace(0.5, 1.5, x.numel(), dtype=torch.float64).reshape(x.shape).to(x)


def spec_truth(
    spec: SurrogateSpec, x: Tensor, grad_out: Tensor, params: dict[str, float]
) -> Tensor:
    return grad_out.double() * spec.grad(x.detach().double(), **params)


def check_forward(surrogate: str, path: str, dtype: torch.dtype, device: str = "cpu") -> None:
    fn, spec = resolve(surrogate, path), get_spec(surrogate)
    x = sample_points(dtype, device, special=True)
    for params in parameter_sets(spec):
        assert_step(fn(x, **params), x, f"{surrogate}@{path} {params}")
        with torch.no_grad():
            assert_step(fn(x, **params), x, f"{surrogate}@{path} {params} under no_grad")


def check_gradient(surrogate: str, path: str, dtype: torch.dtype, device: str = "cpu") -> None:
    """Gradient == grad_out * spec.grad(x), finite everywhere, forward still the step."""
    fn, spec = resolve(surrogate, path), get_spec(surrogate)
    x = sample_points(dtype, device)
    grad_out = grad_out_like(x)
    for params in parameter_sets(spec):
        what = f"{surrogate}@{path} {dtype} {params}"
        out, grad = spike_and_grad(fn, x, grad_out, params)
        assert_step(out, x, what)
        assert_gradient_close(grad, spec_truth(spec, x, grad_out, params), dtype, what)


def check_matches_reference_path(
    surrogate: str, path: str, dtype: torch.dtype, device: str = "cpu"
) -> None:
    """Same spikes and (within tolerance) the same gradient as ``legacy_autograd``."""
    fn, reference = resolve(surrogate, path), resolve(surrogate, REFERENCE_PATH)
    x = sample_points(dtype, device)
    grad_out = grad_out_like(x)
    for params in parameter_sets(get_spec(surrogate)):
        what = f"{surrogate}@{path} vs {REFERENCE_PATH} {dtype} {params}"
        out, grad = spike_and_grad(fn, x, grad_out, params)
        ref_out, ref_grad = spike_and_grad(reference, x, grad_out, params)
        assert torch.equal(_bits(out.detach()), _bits(ref_out.detach())), f"{what}: spikes differ"
        assert_gradient_close(grad, ref_grad.double(), dtype, what)


def check_grad_mul(surrogate: str, dtype: torch.dtype, device: str = "cpu") -> None:
    """The spec's fast ``grad_mul`` equals ``grad_out * grad`` and leaves its inputs alone."""
    spec = get_spec(surrogate)
    assert spec.grad_mul is not None, f"{surrogate}: no grad_mul"
    x = sample_points(dtype, device)
    grad_out = grad_out_like(x)
    for params in parameter_sets(spec):
        what = f"{surrogate}.grad_mul {dtype} {params}"
        x_before, g_before = x.clone(), grad_out.clone()
        with torch.no_grad():
            actual = spec.grad_mul(x, grad_out, **params)
        assert torch.equal(x, x_before) and torch.equal(grad_out, g_before), (
            f"{what}: modified its inputs in place"
        )
        assert actual.shape == x.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(x.shape)}"
        assert_gradient_close(actual, spec_truth(spec, x, grad_out, params), dtype, what)


def check_primitive(surrogate: str, dtype: torch.dtype, device: str = "cpu") -> None:
    """Autograd of the spec's ``primitive`` reproduces ``grad`` (p' = g).

    Checked where p(x) itself is finite: a primitive may saturate to inf/NaN in a
    narrow dtype far from 0 (paths that use it must mask those points).
    """
    spec = get_spec(surrogate)
    assert spec.primitive is not None, f"{surrogate}: no primitive"
    for params in parameter_sets(spec):
        x = sample_points(dtype, device)
        with torch.no_grad():
            x = x[torch.isfinite(spec.primitive(x, **params))]
        grad_out = grad_out_like(x)
        leaf = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(spec.primitive(leaf, **params), leaf, grad_out)
        what = f"{surrogate}.primitive {dtype} {params}"
        assert_gradient_close(grad, spec_truth(spec, x, grad_out, params), dtype, what)


def check_formula(surrogate: str, dtype: torch.dtype, device: str = "cpu") -> None:
    """The torch form derived from the spec's ``formula`` equals its ``grad``, in x's dtype."""
    spec = get_spec(surrogate)
    formula = spec.parsed_formula()
    assert formula is not None, f"{surrogate}: no formula"
    x = sample_points(dtype, device)
    for params in parameter_sets(spec):
        what = f"{surrogate}.formula {spec.formula!r} {dtype} {params}"
        with torch.no_grad():
            actual = formula.torch(x, **params)
        assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}"
        assert_gradient_close(actual, spec_truth(spec, x, torch.ones_like(x), params), dtype, what)


def check_formula_kernels(surrogate: str, family: str) -> str | None:
    """The element-wise ``native`` (C) or ``triton`` kernels generated from the spec equal
    ``grad_out * grad`` in every dtype they take, a broadcast ``grad_out`` included.

    Returns why nothing was compared (no compiler, no triton, no CUDA and no interpreter).
    """
    from ..core.errors import KernelUnavailableError
    from ..kernels.choice import ElementwiseDispatch, use_kernel

    spec = get_spec(surrogate)
    dispatch = ElementwiseDispatch(spec)
    device = "cuda" if family == "triton" and torch.cuda.is_available() else "cpu"
    compared = 0
    for dtype in FLOAT_DTYPES:
        x = sample_points(dtype, device)
        grad_out = grad_out_like(x)
        with use_kernel(family):
            try:
                kernels = dispatch.kernels(x)
            except KernelUnavailableError as error:
                if "float32 and float64" in str(error):
                    continue  # a dtype the family does not take
                return str(error)
        for params in parameter_sets(spec):
            values = tuple(params.values())
            what = f"{surrogate} {family} kernels {dtype} {params}"
            for g in (grad_out, torch.ones((), dtype=dtype, device=device).expand(x.shape)):
                actual = kernels.backward(x, g, values)
                assert_gradient_close(actual, spec_truth(spec, x, g, params), dtype, what)
            assert torch.equal(kernels.spike(x), reference_step(x)), f"{what}: spikes differ"
        compared += 1
    assert compared, f"{surrogate}: the {family} kernels took no float dtype"
    return None


def check_c_grad(surrogate: str) -> str | None:
    """The compiled ``c_grad`` equals ``grad`` in float32 and float64 on the CPU.

    Returns why nothing was compared (no C compiler, compiled kernels disabled), else None;
    a ``c_grad`` that does not compile fails with the compiler's message.
    """
    from ..kernels.native.elementwise import native_elementwise
    from ..kernels.native.runtime import DISABLED, native_enabled

    spec = get_spec(surrogate)
    assert spec.c_grad is not None, f"{surrogate}: no c_grad"
    if not native_enabled():
        return DISABLED
    kernels = native_elementwise(spec)
    if isinstance(kernels, str):
        if kernels.startswith(("no C compiler", "compiled kernels are not built")):
            return kernels
        raise AssertionError(f"{surrogate}: c_grad {spec.c_grad!r} did not build: {kernels}")
    for dtype in (torch.float32, torch.float64):
        x = sample_points(dtype)
        for params in parameter_sets(spec):
            actual = kernels.backward(x, torch.ones_like(x), tuple(params.values()))
            truth = spec_truth(spec, x, torch.ones_like(x), params)
            assert_gradient_close(actual, truth, dtype, f"{surrogate}.c_grad {dtype} {params}")
    return None


def _layout_inputs(device: str) -> dict[str, Tensor]:
    base = torch.linspace(-2.0, 2.0, 2 * 3 * 4 * 5, device=device).reshape(2, 3, 4, 5)
    return {
        "transposed": base[0, 0].t(),
        "strided": base.flatten()[::3],
        "channels_last": base.contiguous(memory_format=torch.channels_last),
        "zero_dim": base.flatten()[7].clone(),
        "empty": base.flatten()[:0].reshape(0, 3),
    }


def check_layouts(surrogate: str, path: str, device: str = "cpu") -> None:
    """Non-contiguous, channels-last, 0-d and empty inputs: step, layout and gradient."""
    fn, spec = resolve(surrogate, path), get_spec(surrogate)
    params = dict(spec.params)
    for label, x in _layout_inputs(device).items():
        what = f"{surrogate}@{path} {label} input"
        grad_out = grad_out_like(x)
        out, grad = spike_and_grad(fn, x, grad_out, params)
        assert_step(out, x, what)
        expected_layout = reference_step(x)
        assert out.stride() == expected_layout.stride(), (
            f"{what}: strides {out.stride()} differ from (x > 0).to(dtype)'s "
            f"{expected_layout.stride()}"
        )
        assert grad.shape == x.shape, f"{what}: gradient shape {tuple(grad.shape)}"
        assert_gradient_close(grad, spec_truth(spec, x, grad_out, params), x.dtype, what)


def check_compile(
    surrogate: str, path: str, device: str = "cpu", backend: str = "aot_eager"
) -> None:
    """``torch.compile(fullgraph=True)`` forward and backward: no graph break, same results."""
    fn, spec = resolve(surrogate, path), get_spec(surrogate)
    params = dict(spec.params)
    torch.compiler.reset()  # the closure differs per pair; start from a clean cache

    def spike(x: Tensor) -> Tensor:
        return fn(x, **params)

    compiled = torch.compile(spike, fullgraph=True, backend=backend)
    x = sample_points(torch.float32, device)
    grad_out = grad_out_like(x)
    out, grad = spike_and_grad(lambda v, **_: compiled(v), x, grad_out, {})
    what = f"{surrogate}@{path} under torch.compile(fullgraph=True, backend={backend!r})"
    assert_step(out, x, what)
    assert_gradient_close(grad, spec_truth(spec, x, grad_out, params), torch.float32, what)


def custom_op_of(surrogate: str, path: str) -> Any:
    """The torch.library operator behind a pair, if its callable exposes one as ``.op``."""
    return getattr(resolve(surrogate, path), "op", None)


def check_opcheck(surrogate: str, path: str, device: str = "cpu") -> None:
    """``torch.library.opcheck`` on the pair's operator: schema, fake kernel, autograd."""
    op = custom_op_of(surrogate, path)
    assert op is not None, f"{surrogate}@{path}: the built callable exposes no .op"
    values = tuple(dict(get_spec(surrogate).params).values())
    samples = [
        torch.linspace(-2.0, 2.0, 12, device=device).reshape(3, 4).requires_grad_(True),
        torch.linspace(-2.0, 2.0, 12, device=device, dtype=torch.float64).reshape(4, 3).t(),
        torch.tensor(0.25, device=device, requires_grad=True),
    ]
    for x in samples:
        torch.library.opcheck(op, (x, *values))
