"""The leaky integrator, stepwise and fused: a non-spiking readout and a synaptic filter.

``LeakyIntegratorCell`` is one step, ``v = beta*v + I`` (no threshold, no spike): the
readout of Zenke & Vogels' and stork's Randman networks, whose membrane over time feeds a
readout reduction (max, last or mean) and a cross-entropy. ``LeakyIntegrator`` runs the
same equation over a whole time-major sequence in one ``torch.library`` operator,
``sc_neurocore_fused::leaky``, whose backward is the closed-form reverse-time filter
(``sc_neurocore_fused::leaky_backward``); :class:`~sc_neurocore.neurons.synaptic.SynapticLIF`
uses the same operator for its synaptic current. Under ``torch.func`` transforms it steps
in Python with the same results.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..core.compat import transforms_active as _transforms_active
from ..kernels.autocast import FUSED
from ..kernels.fused_choice import compute_dtype, leaky_kernels
from ..kernels.operator import OperatorDef
from ..kernels.torch.leaky import decay_gradient, leaky_backward, leaky_forward
from ..kernels.torch.lif import kernel_value
from .base import ConstrainedModule, Value, decay_attribute, decayed, show_value
from .dtypes import broadcast_to_state, check_state, state_dtype
from .fused_op import NAMESPACE

__all__ = [
    "LEAKY",
    "LEAKY_BACKWARD",
    "LeakyArguments",
    "LeakyBackwardArguments",
    "LeakyIntegrator",
    "LeakyIntegratorCell",
    "leaky_sequence",
]

_is_compiling = torch.compiler.is_compiling


def check_sequence(owner: str, x: Any, state: Any, state_name: str) -> None:
    """Raise a clear error for a time-major input or an initial state the op cannot take."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        described = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{owner}: inputs must be a floating-point torch.Tensor, got {described}")
    if x.dim() < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{owner}: inputs must be time-major (T, batch, ...) with T >= 1, "
            f"got shape {tuple(x.shape)}"
        )
    if state is None:
        return
    check_state(owner, state_name, state, x[0])
    if torch.broadcast_shapes(state.shape, x.shape[1:]) != x.shape[1:]:
        raise ValueError(
            f"{owner}: {state_name} must broadcast to the shape of one time step, "
            f"{tuple(x.shape[1:])}, got {tuple(state.shape)}"
        )


# --- the operators -------------------------------------------------------------------------


class LeakyArguments(NamedTuple):
    """The arguments of ``sc_neurocore_fused::leaky`` (its schema is derived from them)."""

    x: Tensor
    y0: Tensor | None
    decay: Tensor


class LeakyBackwardArguments(NamedTuple):
    """The arguments of ``sc_neurocore_fused::leaky_backward``: the output's gradient, the
    output itself (the filter's state), the forward's ``y0`` and ``decay``, and whether
    the decay's gradient is wanted."""

    grad_y: Tensor
    y: Tensor
    y0: Tensor | None
    decay: Tensor
    decay_grad: bool


def _leaky_kernel(args: LeakyArguments) -> Tensor:
    x, y0, decay = args
    check_sequence("LeakyIntegrator", x, y0, "y0")
    # The output is the state: in the promoted dtype of the input, y0 and the decay.
    x = x.to(state_dtype(x, y0, decay))
    y0 = None if y0 is None else y0.expand(x.shape[1:])
    kernels = leaky_kernels(x)  # Triton on CUDA, compiled C on CPU
    value = kernel_value(decay, compute_dtype(kernels, x.dtype))
    if kernels is not None:
        return kernels.forward(x, y0, value)
    if x.dtype in (torch.bfloat16, torch.float16):  # carried in float32, as the kernels do
        return leaky_forward(x.float(), y0, value).to(x.dtype)
    return leaky_forward(x, y0, value)


def _leaky_fake(args: LeakyArguments) -> Tensor:
    dtype = state_dtype(*args)
    return torch.empty_like(args.x, dtype=dtype, memory_format=torch.contiguous_format)


def _leaky_backward_kernel(args: LeakyBackwardArguments) -> tuple[Tensor, Tensor, Tensor]:
    grad_y, y, y0, decay, decay_grad = args
    kernels = leaky_kernels(y)  # Triton on CUDA, compiled C on CPU
    value = kernel_value(decay, compute_dtype(kernels, y.dtype))
    total: Tensor | None = None
    if kernels is not None:
        grad_x, total = kernels.backward(grad_y, y, y0, value, decay_grad)
    else:
        half = y.dtype in (torch.bfloat16, torch.float16)  # carried in float32, as in forward
        grad_x = leaky_backward(grad_y.to(torch.float32 if half else y.dtype), value).to(y.dtype)
    grad_y0 = (grad_x[0] * value).to(y.dtype if y0 is None else y0.dtype)
    if y0 is not None and y0.shape != grad_y0.shape:
        grad_y0 = grad_y0.sum_to_size(y0.shape)
    if not decay_grad:
        return grad_x, grad_y0, torch.zeros_like(decay)
    if total is None:
        initial = None if y0 is None else y0.to(y.dtype).expand(y.shape[1:])
        total = decay_gradient(grad_x, y, initial)
    return grad_x, grad_y0, total.sum_to_size(decay.shape).to(decay.dtype)


def _leaky_backward_fake(args: LeakyBackwardArguments) -> tuple[Tensor, Tensor, Tensor]:
    y, y0 = args.y, args.y0
    grad_y0 = y.new_empty(y.shape[1:], dtype=y.dtype) if y0 is None else torch.empty_like(y0)
    return torch.empty_like(y), grad_y0, torch.empty_like(args.decay)


def _setup_context(ctx: Any, args: LeakyArguments, output: Tensor) -> None:
    ctx.save_for_backward(output, args.y0, args.decay)  # the output is alive anyway
    ctx.x_dtype = args.x.dtype


def _backward(ctx: Any, grad_y: Tensor) -> dict[str, Tensor]:
    y, y0, decay = ctx.saved_tensors
    needs = LEAKY.needs(ctx)
    grad_x, grad_y0, grad_decay = LEAKY_BACKWARD(grad_y, y, y0, decay, needs.decay)
    grads = {"x": grad_x.to(ctx.x_dtype), "y0": grad_y0, "decay": grad_decay}
    return {name: grad for name, grad in grads.items() if getattr(needs, name)}


#: The fused leaky integrator and its closed-form backward companion.
LEAKY = OperatorDef(f"{NAMESPACE}::leaky", LeakyArguments)
LEAKY.register_kernel(_leaky_kernel)
LEAKY.register_fake(_leaky_fake)
LEAKY.register_autograd(_backward, _setup_context)
LEAKY.register_autocast(FUSED)
LEAKY_BACKWARD = LEAKY.define_backward(
    LeakyBackwardArguments,
    3,
    _leaky_backward_kernel,
    _leaky_backward_fake,
    no_double_backward="LeakyIntegrator: the fused operator has no second derivative; for "
    "higher-order gradients use torch.func (which runs the stepwise fallback) or "
    "LeakyIntegratorCell",
)
leaky_op, leaky_backward_op = LEAKY.op, LEAKY_BACKWARD.op


def _stepwise(x: Tensor, y0: Tensor | None, decay: Value) -> Tensor:
    """The fallback under ``torch.func``: ``decayed`` per step, autograd records each."""
    y = torch.zeros_like(x[0]) if y0 is None else y0
    outputs = []
    for drive in x.unbind(0):
        y = decayed(y, decay, drive)
        outputs.append(y)
    return torch.stack(outputs)


def leaky_sequence(x: Tensor, y0: Tensor | None, decay: Value) -> Tensor:
    """``y_t = decay*y_{t-1} + x_t`` over time-major ``x``, fused unless a transform is active."""
    if isinstance(x, Tensor) and x.dim() >= 2 and isinstance(y0, Tensor):
        x = broadcast_to_state(x, y0)
    check_sequence("LeakyIntegrator", x, y0, "y0")
    if not _is_compiling() and _transforms_active():
        return _stepwise(x, y0, decay)
    tensor = decay if isinstance(decay, Tensor) else torch.tensor(decay, dtype=torch.float64)
    return leaky_op(x, y0, tensor)


class _Leaky(ConstrainedModule):
    """A module with one decay factor ``beta`` (learned as ``beta_logit`` if asked)."""

    beta = decay_attribute("beta")

    def __init__(self, beta: Value = 0.9, learn_beta: bool = False) -> None:
        super().__init__()
        self._decay("beta", beta, learn_beta)

    def extra_repr(self) -> str:
        learned = [name for name, _ in self.named_parameters(recurse=False)]
        return f"beta={show_value(self.beta)}" + (f", learned={learned}" if learned else "")


class LeakyIntegratorCell(_Leaky):
    """Non-spiking leaky integrator, one step: ``v = beta*v + I``; returns ``v``.

    ``LeakyIntegratorCell(beta=0.9, learn_beta=False)``; ``forward(input, v=None)``.
    """

    def forward(self, input_current: Tensor, v: Tensor | None = None) -> Tensor:
        if v is not None:
            check_state(type(self).__name__, "v", v, input_current)
        state = torch.zeros_like(input_current) if v is None else v
        return decayed(state, self.beta, input_current)


class LeakyIntegrator(_Leaky):
    """Multi-step :class:`LeakyIntegratorCell`: ``forward(inputs (T, batch, ...), v0=None)``
    returns the membrane at every step, ``(T, batch, ...)``, in one fused operator."""

    def forward(self, inputs: Tensor, v0: Tensor | None = None) -> Tensor:
        return leaky_sequence(inputs, v0, self.beta)
