"""``LIF``: a multi-step leaky integrate-and-fire layer fused into one operator.

``LIF(...)(inputs, v0)`` runs the equations of :class:`~sc_neurocore.training.LIFCell`
over a whole time-major sequence ``(T, batch, ...)`` in one ``torch.library`` operator,
``sc_neurocore_fused::lif``, whose backward is the closed-form backpropagation through
time of those equations (``sc_neurocore_fused::lif_backward``).  Neither pass builds a
per-step autograd graph, and backward recomputes the membrane from the saved input
and spikes instead of keeping it.

The surrogate gradient comes from the registered spec, so every registered surrogate,
including those a plugin adds, runs fused.  A user's own callable (one that is neither a
call form nor a ``get_surrogate`` object), and any ``torch.func`` transform, fall back to
stepping the cell equations in a Python loop with the same results.  See docs/fused.md.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor

from ..core.bound import CallForm, Surrogate
from ..core.compat import transforms_active as _transforms_active

# An operator's schema carries the surrogate's name (an exported program holds nothing
# else), so the fused operators, not the layers, turn a name back into its spec.
from ..core.registry import get_spec
from ..core.spec import check_like
from ..kernels.buffers import empty_cache, sequence_buffer
from ..kernels.fused_choice import compute_dtype, fused_kernel_choice, lif_kernels
from ..kernels.native.lif import native_status, set_native_enabled
from ..kernels.torch.lif import (
    ParameterSums,
    kernel_value,
    lif_backward,
    lif_forward,
)
from .base import (
    LeakyCell,
    SurrogateCallable,
    Value,
    check_surrogate,
    decayed,
)

__all__ = [
    "LIF",
    "compiled_kernel_status",
    "fused_kernel",
    "fused_surrogate",
    "lif_sequence",
    "release_buffers",
    "set_compiled_kernels",
]

NAMESPACE = "sc_neurocore_fused"
_is_compiling = torch.compiler.is_compiling

#: (registered surrogate name, its parameter values in the spec's order)
FusedKey = tuple[str, tuple[float, ...]]


def check_arguments(x: Any, v0: Any, beta: Any, threshold: Any) -> None:
    """Raise a clear error for anything the fused LIF (or its fallback) cannot run."""
    if not isinstance(x, Tensor):
        raise TypeError(f"LIF: inputs must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"LIF: inputs must be a floating-point tensor, got dtype {x.dtype}; "
            "convert explicitly (for example inputs.float())"
        )
    if x.dim() < 2:
        raise ValueError(
            f"LIF: inputs must be time-major (T, batch, ...) with at least 2 dimensions, "
            f"got shape {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(
            f"LIF: inputs must have at least one time step, got shape {tuple(x.shape)}"
        )
    step = x.shape[1:]
    if v0 is not None:
        if not isinstance(v0, Tensor) or not v0.is_floating_point():
            described = v0.dtype if isinstance(v0, Tensor) else type(v0).__name__
            raise TypeError(f"LIF: v0 must be a floating-point tensor or None, got {described}")
        if v0.shape != step:
            raise ValueError(
                f"LIF: v0 must have the shape of one time step of inputs, {tuple(step)}, "
                f"got {tuple(v0.shape)}"
            )
        check_like("LIF", "v0", v0, x, "inputs")
    for name, value in (("beta", beta), ("threshold", threshold)):
        if not isinstance(value, Tensor):
            continue
        if not _broadcasts_to(value.shape, step):
            raise ValueError(
                f"LIF: {name} of shape {tuple(value.shape)} does not broadcast to one time "
                f"step of inputs, {tuple(step)}"
            )
        # A one-element CPU value is read as a number (as torch reads CPU scalars);
        # anything else is computed with, so it must live where the inputs do.
        if value.device != x.device and not (value.numel() == 1 and value.device.type == "cpu"):
            check_like("LIF", name, value, x, "inputs", dtype=False)


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    """Whether ``shape`` broadcasts to ``target`` without changing it (checked per call,
    so it is written out rather than through ``torch.broadcast_shapes``, ~20x slower)."""
    if len(shape) > len(target):
        return False
    return all(size in (1, wanted) for size, wanted in zip(reversed(shape), reversed(target)))


def _spec_params(surrogate: str, params: list[float]) -> tuple[Any, dict[str, float]]:
    spec = get_spec(surrogate)
    if len(params) != len(spec.param_names):
        raise ValueError(
            f"LIF: surrogate {surrogate!r} takes parameters {spec.param_names}, got {params!r}"
        )
    return spec, dict(zip(spec.param_names, params))


# --- the operators -------------------------------------------------------------------------

_library = torch.library.Library(NAMESPACE, "FRAGMENT")
_library.define(
    "lif(Tensor x, Tensor? v0, Tensor beta, Tensor threshold, str surrogate, float[] params)"
    " -> (Tensor, Tensor)"
)
_library.define(
    "lif_backward(Tensor grad_spikes, Tensor grad_v, Tensor x, Tensor spikes, Tensor? v0, "
    "Tensor beta, Tensor threshold, str surrogate, float[] params, bool params_grad)"
    " -> (Tensor, Tensor, Tensor, Tensor)"
)
lif_op = torch.ops.sc_neurocore_fused.lif.default
lif_backward_op = torch.ops.sc_neurocore_fused.lif_backward.default


def _lif_kernel(
    x: Tensor,
    v0: Tensor | None,
    beta: Tensor,
    threshold: Tensor,
    surrogate: str,
    params: list[float],
) -> tuple[Tensor, Tensor]:
    check_arguments(x, v0, beta, threshold)
    spec, _ = _spec_params(surrogate, params)  # an unknown surrogate fails here, not in backward
    kernels = lif_kernels(spec, x)
    dtype = compute_dtype(kernels, x.dtype)
    beta_value, threshold_value = kernel_value(beta, dtype), kernel_value(threshold, dtype)
    if kernels is not None:
        return kernels.forward(x, v0, beta_value, threshold_value, sequence_buffer(x))
    return lif_forward(x, v0, beta_value, threshold_value)


def _lif_fake(
    x: Tensor,
    v0: Tensor | None,
    beta: Tensor,
    threshold: Tensor,
    surrogate: str,
    params: list[float],
) -> tuple[Tensor, Tensor]:
    check_arguments(x, v0, beta, threshold)
    spikes = torch.empty_like(x, memory_format=torch.contiguous_format)
    return spikes, torch.empty_like(spikes[0])


def _lif_backward_kernel(
    grad_spikes: Tensor,
    grad_v: Tensor,
    x: Tensor,
    spikes: Tensor,
    v0: Tensor | None,
    beta: Tensor,
    threshold: Tensor,
    surrogate: str,
    params: list[float],
    params_grad: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    spec, named = _spec_params(surrogate, params)
    kernels = lif_kernels(spec, x)
    dtype = compute_dtype(kernels, x.dtype)
    beta_value, threshold_value = kernel_value(beta, dtype), kernel_value(threshold, dtype)
    sums = ParameterSums(x[0]) if params_grad else None
    if kernels is not None:
        grad_x = kernels.backward(
            grad_spikes,
            grad_v,
            x,
            v0,
            beta_value,
            threshold_value,
            params,
            sequence_buffer(x),
            None if sums is None else (sums.beta, sums.threshold),
        )
    else:
        grad_x = lif_backward(
            spec, named, grad_spikes, grad_v, x, spikes, v0, beta_value, threshold_value, sums
        )
    grad_v0 = (grad_x[0] * beta_value).to(x.dtype if v0 is None else v0.dtype)
    if sums is None:
        return grad_x, grad_v0, torch.zeros_like(beta), torch.zeros_like(threshold)
    return grad_x, grad_v0, *sums.reduced(beta, threshold)


def _lif_backward_fake(
    grad_spikes: Tensor,
    grad_v: Tensor,
    x: Tensor,
    spikes: Tensor,
    v0: Tensor | None,
    beta: Tensor,
    threshold: Tensor,
    surrogate: str,
    params: list[float],
    params_grad: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    grad_x = torch.empty_like(x, memory_format=torch.contiguous_format)
    grad_v0 = x.new_empty(x.shape[1:], dtype=x.dtype if v0 is None else v0.dtype)
    return grad_x, grad_v0, torch.empty_like(beta), torch.empty_like(threshold)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    x, v0, beta, threshold, surrogate, params = inputs
    # The input and the spikes are alive anyway (the caller's, and the next layer's input),
    # so saving them costs no memory; backward recomputes the membrane from them.
    ctx.save_for_backward(x, output[0], v0, beta, threshold)
    ctx.surrogate, ctx.params = surrogate, params
    # Unused outputs get no gradient rather than a (T, batch, ...) tensor of zeros.
    ctx.set_materialize_grads(False)


def _backward(
    ctx: Any, grad_spikes: Tensor | None, grad_v: Tensor | None
) -> tuple[Tensor | None, ...]:
    x, spikes, v0, beta, threshold = ctx.saved_tensors
    needs = ctx.needs_input_grad
    if grad_spikes is None:
        grad_spikes = spikes.new_zeros(()).expand(spikes.shape)
    if grad_v is None:
        grad_v = spikes.new_zeros(()).expand(spikes.shape[1:])
    params_grad = needs[2] or needs[3]
    grads = lif_backward_op(
        grad_spikes, grad_v, x, spikes, v0, beta, threshold, ctx.surrogate, ctx.params, params_grad
    )
    return (*(grad if need else None for grad, need in zip(grads, needs)), None, None)


def _no_double_backward(ctx: Any, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
    raise RuntimeError(
        "LIF: the fused operator has no second derivative (double backward); for higher-order "
        "gradients use torch.func (which runs the stepwise fallback) or LIFCell"
    )


_library.impl("lif", _lif_kernel, "CompositeExplicitAutograd")
_library.impl("lif_backward", _lif_backward_kernel, "CompositeExplicitAutograd")
torch.library.register_fake(f"{NAMESPACE}::lif", _lif_fake, lib=_library)
torch.library.register_fake(f"{NAMESPACE}::lif_backward", _lif_backward_fake, lib=_library)
torch.library.register_autograd(
    f"{NAMESPACE}::lif", _backward, setup_context=_setup_context, lib=_library
)
torch.library.register_autograd(
    f"{NAMESPACE}::lif_backward",
    _no_double_backward,
    setup_context=lambda ctx, inputs, output: None,
    lib=_library,
)


def _as_tensor(value: Value) -> Tensor:
    """A fixed float as a float64 scalar tensor (the kernels read it back exactly)."""
    return value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)


def lif_sequence(
    inputs: Tensor,
    v0: Tensor | None,
    beta: Value,
    threshold: Value,
    surrogate: str,
    params: tuple[float, ...] = (),
) -> tuple[Tensor, Tensor]:
    """``(spikes, v_T)`` of the fused operator for a registered ``surrogate`` name."""
    return lif_op(inputs, v0, _as_tensor(beta), _as_tensor(threshold), surrogate, list(params))


# --- kernel selection, for users ----------------------------------------------------------


def fused_kernel(surrogate: str, device: str = "cpu") -> tuple[str, str]:
    """``(kernel, reason)``: which kernels ``LIF`` runs for ``surrogate`` on ``device``'s
    tensors (``"triton"``, ``"native"`` or ``"torch"``) and, if not the fastest, why."""
    return fused_kernel_choice(get_spec(surrogate), device)


def compiled_kernel_status(surrogate: str) -> str:
    """``"compiled"`` if ``LIF`` runs compiled C kernels for ``surrogate`` (CPU float32/64),
    else why it runs its torch kernels. The first call for a surrogate may build them."""
    return native_status(get_spec(surrogate))


def set_compiled_kernels(enabled: bool) -> bool:
    """Use compiled kernels where they exist (default) or always the torch kernels.

    Returns the previous setting. ``SC_NEUROCORE_NATIVE=0`` sets the default to off.
    """
    return set_native_enabled(enabled)


def release_buffers() -> None:
    """Let the pooled ``(T, batch, ...)`` CPU buffers that nobody holds go back to the allocator."""
    empty_cache()


# --- which callables run fused ------------------------------------------------------------


def fused_surrogate(fn: object) -> FusedKey | None:
    """``(name, params)`` when ``fn`` is a registered surrogate, else ``None`` (fallback).

    Recognised: ``get_surrogate(...)`` objects, the seed call forms (``atan_surrogate``,
    ``atan_surrogate_custom_op``, ...) and ``functools.partial`` of a call form that binds
    surrogate parameters (or ``path``) by keyword.
    """
    keywords: dict[str, Any] = {}
    if isinstance(fn, functools.partial):
        if fn.args:
            return None
        keywords, fn = dict(fn.keywords), fn.func
        keywords.pop("path", None)
    # By type only: a user's wrapper (functools.wraps copies attributes) runs stepwise.
    if isinstance(fn, Surrogate):
        params: dict[str, Any] = fn.params
    elif isinstance(fn, CallForm):
        params = {}
    else:
        return None
    try:
        spec = fn.spec
        values = spec.bind((), {**params, **keywords})
    except (LookupError, TypeError, ValueError):
        return None
    return spec.name, tuple(values.values())


class LIF(LeakyCell):
    """Multi-step LIF: ``forward(inputs (T, batch, ...), v0=None) -> (spikes, v_T)``.

    The equations, arguments and learnable parameters (``beta_logit``, ``threshold_log``)
    are those of :class:`~sc_neurocore.training.LIFCell`, so state dicts interchange.
    """

    @property
    def surrogate_fn(self) -> SurrogateCallable:
        return self._surrogate_fn

    @surrogate_fn.setter
    def surrogate_fn(self, fn: SurrogateCallable) -> None:
        # Resolved once here, not per forward, so torch.compile traces no registry code.
        self._surrogate_fn = check_surrogate(fn)
        self._fused_key = fused_surrogate(fn)

    @property
    def fused(self) -> bool:
        """Whether ``forward`` runs the fused operator (outside ``torch.func`` transforms)."""
        return self._fused_key is not None

    def forward(self, inputs: Tensor, v0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        beta, threshold = self.beta, self.threshold
        check_arguments(inputs, v0, beta, threshold)
        key = self._fused_key
        if key is None or (not _is_compiling() and _transforms_active()):
            return self._stepwise(inputs, v0, beta, threshold)
        return lif_sequence(inputs, v0, beta, threshold, *key)

    def _stepwise(
        self, inputs: Tensor, v0: Tensor | None, beta: Value, threshold: Value
    ) -> tuple[Tensor, Tensor]:
        """The fallback: ``LIFCell``'s step in a Python loop (autograd records every step)."""
        v = torch.zeros_like(inputs[0]) if v0 is None else v0
        spikes = []
        for current in inputs.unbind(0):
            spike, v = self.fire(decayed(v, beta, current), threshold)
            spikes.append(spike)
        return torch.stack(spikes), v
