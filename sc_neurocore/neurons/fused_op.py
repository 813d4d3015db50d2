"""The fused multi-step LIF operators ``sc_neurocore_fused::lif`` and ``::lif_backward``.

Both are :class:`~sc_neurocore.kernels.operator.OperatorDef` objects (``LIF``,
``LIF_BACKWARD``) whose schemas are derived from :class:`LIFArguments` and
:class:`LIFBackwardArguments`::

    lif(Tensor x, Tensor? v0, Tensor beta, Tensor threshold, str reset, Tensor v_reset,
        str surrogate, float[] params) -> (Tensor spikes, Tensor v_T)

``reset`` is one of ``RESET_MODES`` (``"subtract"``, ``"zero"``, ``"none"``); ``beta``,
``threshold`` and ``v_reset`` broadcast to one time step; ``v_reset`` gets no gradient;
``surrogate`` is the key under which the layer filed its spec
(:mod:`sc_neurocore.kernels.spec_table`; a registered name works too).
The forward runs the kernels :func:`~sc_neurocore.kernels.fused_choice.lif_kernels` picks
(Triton, compiled C: one calling convention) or the torch kernels; the backward is the
closed-form recurrence of :mod:`sc_neurocore.kernels.torch.lif`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..core.spec import check_like
from ..kernels.autocast import FUSED
from ..kernels.buffers import sequence_buffer
from ..kernels.fused_choice import FusedKernels, lif_kernels
from ..kernels.operator import OperatorDef
from ..kernels.spec_table import spec_for
from ..kernels.torch.lif import ParameterSums, kernel_value, lif_backward, lif_forward
from .base import RESET_MODES, Value
from .dtypes import check_state, compute_dtype_of, state_dtype

__all__ = [
    "LIF",
    "LIF_BACKWARD",
    "LIF_BACKWARD_SCHEMA",
    "LIF_SCHEMA",
    "LIFArguments",
    "LIFBackwardArguments",
    "NAMESPACE",
    "check_arguments",
    "lif_backward_op",
    "lif_decomposition",
    "lif_op",
    "lif_sequence",
]

NAMESPACE = "sc_neurocore_fused"


def check_arguments(
    x: Any, v0: Any, beta: Any, threshold: Any, reset: Any = "subtract", v_reset: Any = 0.0
) -> None:
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
        if not isinstance(v0, Tensor):
            raise TypeError(
                f"LIF: v0 must be a floating-point tensor or None, got {type(v0).__name__}"
            )
        check_state("LIF", "v0", v0, x[0])
        if not _broadcasts_to(v0.shape, step):
            raise ValueError(
                f"LIF: v0 must broadcast to the shape of one time step of inputs, "
                f"{tuple(step)}, got {tuple(v0.shape)}"
            )
    if not isinstance(reset, str) or reset not in RESET_MODES:
        raise ValueError(f"LIF: reset must be one of {RESET_MODES}, got {reset!r}")
    for name, value in (("beta", beta), ("threshold", threshold), ("v_reset", v_reset)):
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


def _plan(
    spec: Any, x: Tensor, state: torch.dtype, reset: str
) -> tuple[Tensor, torch.dtype, FusedKernels]:
    """``(x as the kernels read it, compute dtype, kernels)`` for a state of dtype ``state``.

    The compiled and Triton kernels read float32, bfloat16 and float16 inputs as they are
    and compute in float32; a float64 state runs the float64 kernels.  The torch kernels
    compute in the compute dtype too (bf16/fp16 are storage dtypes, never accumulated).
    """
    compute = compute_dtype_of(state)
    if x.dtype != compute and not (compute == torch.float32 and x.dtype in HALF):
        x = x.to(compute)
    kernels = lif_kernels(spec, x, reset)
    if kernels is None and x.dtype != compute:
        x = x.to(compute)
    return x, compute, kernels


#: The storage dtypes the fused kernels read and write as they are, computing in float32.
HALF = (torch.bfloat16, torch.float16)


def _spec_params(surrogate: str, params: list[float]) -> tuple[Any, dict[str, float]]:
    spec = spec_for(surrogate)
    if len(params) != len(spec.param_names):
        raise ValueError(
            f"LIF: surrogate {spec.name!r} takes parameters {spec.param_names}, got {params!r}"
        )
    return spec, dict(zip(spec.param_names, params))


# --- the operators -------------------------------------------------------------------------


class LIFArguments(NamedTuple):
    """The arguments of ``sc_neurocore_fused::lif`` (its schema is derived from them):
    ``reset`` is one of RESET_MODES, ``v_reset`` broadcasts to one step like ``beta`` and
    ``threshold`` (and gets no gradient), ``surrogate`` is a key of kernels/spec_table.py."""

    x: Tensor
    v0: Tensor | None
    beta: Tensor
    threshold: Tensor
    reset: str
    v_reset: Tensor
    surrogate: str
    params: list[float]


class LIFBackwardArguments(NamedTuple):
    """The arguments of ``sc_neurocore_fused::lif_backward``: the incoming gradients, the
    forward's arguments (``spikes`` is ``None`` where the kernels recompute them) and
    whether the parameter gradients are wanted."""

    grad_spikes: Tensor
    grad_v: Tensor
    x: Tensor
    spikes: Tensor | None
    v0: Tensor | None
    beta: Tensor
    threshold: Tensor
    reset: str
    v_reset: Tensor
    surrogate: str
    params: list[float]
    params_grad: bool


def _lif_kernel(args: LIFArguments) -> tuple[Tensor, Tensor]:
    x, v0, beta, threshold, reset, v_reset, surrogate, params = args
    check_arguments(x, v0, beta, threshold, reset, v_reset)
    spec, _ = _spec_params(surrogate, params)  # an unknown surrogate fails here, not in backward
    state = state_dtype(x, v0, beta, threshold, v_reset)
    run, dtype, kernels = _plan(spec, x, state, reset)
    beta_value, threshold_value = kernel_value(beta, dtype), kernel_value(threshold, dtype)
    v_reset_value = kernel_value(v_reset, dtype)
    v0 = None if v0 is None else v0.expand(x.shape[1:])
    if kernels is not None:
        buffer = sequence_buffer(run)
        spikes, v = kernels.forward(run, v0, beta_value, threshold_value, buffer, v_reset_value)
    else:
        spikes, v = lif_forward(run, v0, beta_value, threshold_value, reset, v_reset_value)
    return spikes.to(x.dtype), v.to(state)


def _lif_fake(args: LIFArguments) -> tuple[Tensor, Tensor]:
    x, v0, beta, threshold, reset, v_reset, _, _ = args
    check_arguments(x, v0, beta, threshold, reset, v_reset)
    spikes = torch.empty_like(x, memory_format=torch.contiguous_format)
    return spikes, torch.empty_like(spikes[0], dtype=state_dtype(x, v0, beta, threshold, v_reset))


def _lif_backward_kernel(args: LIFBackwardArguments) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    x, v0, beta, threshold, reset, v_reset = (
        args.x, args.v0, args.beta, args.threshold, args.reset, args.v_reset
    )  # fmt: skip
    spec, named = _spec_params(args.surrogate, args.params)
    state = state_dtype(x, v0, beta, threshold, v_reset)
    run, dtype, kernels = _plan(spec, x, state, reset)
    beta_value, threshold_value = kernel_value(beta, dtype), kernel_value(threshold, dtype)
    v_reset_value = kernel_value(v_reset, dtype)
    initial = None if v0 is None else v0.expand(x.shape[1:])
    sums = ParameterSums(x[0]) if args.params_grad else None
    if kernels is not None:
        grad_x = kernels.backward(
            args.grad_spikes,
            args.grad_v,
            run,
            initial,
            beta_value,
            threshold_value,
            args.params,
            sequence_buffer(run),
            None if sums is None else (sums.beta, sums.threshold),
            v_reset_value,
        )
    else:
        spikes = args.spikes
        if spikes is None:  # not saved (the compiled kernels recompute them): recompute here
            spikes = lif_forward(run, initial, beta_value, threshold_value, reset, v_reset_value)[0]
        grad_x = lif_backward(
            spec,
            named,
            args.grad_spikes.to(dtype),
            args.grad_v.to(dtype),
            run,
            spikes.to(dtype),
            initial,
            beta_value,
            threshold_value,
            sums,
            reset,
            v_reset_value,
        )
    grad_v0 = grad_x[0].to(dtype) * beta_value
    grad_v0 = grad_v0.to(x.dtype if v0 is None else v0.dtype)
    if v0 is not None and grad_v0.shape != v0.shape:
        grad_v0 = grad_v0.sum_to_size(v0.shape)
    grad_x = grad_x.to(x.dtype)
    if sums is None:
        return grad_x, grad_v0, torch.zeros_like(beta), torch.zeros_like(threshold)
    return grad_x, grad_v0, *sums.reduced(beta, threshold)


def _lif_backward_fake(args: LIFBackwardArguments) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    x, v0 = args.x, args.v0
    grad_x = torch.empty_like(x, memory_format=torch.contiguous_format)
    grad_v0 = x.new_empty(x.shape[1:], dtype=x.dtype) if v0 is None else torch.empty_like(v0)
    return grad_x, grad_v0, torch.empty_like(args.beta), torch.empty_like(args.threshold)


def _saved_spikes(args: LIFArguments, spikes: Tensor) -> Tensor | None:
    """What backward needs of the spikes: nothing where the compiled or Triton kernels run
    it (they recompute the spikes with the membrane), else the spikes as ``uint8`` (exact,
    one byte per neuron-step whatever the input dtype)."""
    state = state_dtype(args.x, args.v0, args.beta, args.threshold, args.v_reset)
    if _plan(spec_for(args.surrogate), args.x, state, args.reset)[2] is not None:
        return None
    return spikes.to(torch.uint8)


def _setup_context(ctx: Any, args: LIFArguments, output: tuple[Tensor, Tensor]) -> None:
    # Saved: the input (which nothing can recompute) and, only for the torch kernels, the
    # spikes in one byte; backward recomputes the membrane (and the spikes) from them.
    saved = (args.x, _saved_spikes(args, output[0]), args.v0, args.beta, args.threshold)
    ctx.save_for_backward(*saved, args.v_reset)
    ctx.surrogate, ctx.params, ctx.reset = args.surrogate, args.params, args.reset
    # Unused outputs get no gradient rather than a (T, batch, ...) tensor of zeros.
    ctx.set_materialize_grads(False)


def _backward(ctx: Any, grad_spikes: Tensor | None, grad_v: Tensor | None) -> dict[str, Tensor]:
    x, spikes, v0, beta, threshold, v_reset = ctx.saved_tensors
    needs = LIF.needs(ctx)
    if grad_spikes is None:
        grad_spikes = x.new_zeros(()).expand(x.shape)
    if grad_v is None:
        grad_v = x.new_zeros(()).expand(x.shape[1:])
    grads = LIF_BACKWARD(
        grad_spikes, grad_v, x, spikes, v0, beta, threshold, ctx.reset, v_reset,
        ctx.surrogate, ctx.params, needs.beta or needs.threshold,
    )  # fmt: skip
    # v_reset is a fixed value: no gradient, like the string and the surrogate parameters.
    wanted = zip(("x", "v0", "beta", "threshold"), grads)
    return {name: grad for name, grad in wanted if getattr(needs, name)}


def lif_decomposition(args: LIFArguments) -> tuple[Tensor, Tensor]:
    """The forward in plain aten ops, one step after another, for exporters that lower the
    operator (ONNX unrolls it over the static ``T``); training keeps the fused kernels."""
    x, reset = args.x, args.reset
    beta, threshold, v_reset = (
        value.to(x.dtype) for value in (args.beta, args.threshold, args.v_reset)
    )
    v = torch.zeros_like(x[0]) if args.v0 is None else args.v0.to(x.dtype)
    spikes = []
    for t in range(x.shape[0]):
        h = x[t] + beta * v
        spike = (h > threshold).to(x.dtype)
        if reset == "subtract":
            v = h - spike * threshold
        elif reset == "zero":
            v = torch.where(spike > 0, v_reset, h)
        else:
            v = h
        spikes.append(spike)
    return torch.stack(spikes), v


#: The fused LIF operator and its closed-form backward companion.
LIF = OperatorDef(f"{NAMESPACE}::lif", LIFArguments, returns=2)
LIF.register_kernel(_lif_kernel)
LIF.register_fake(_lif_fake)
LIF.register_autograd(_backward, _setup_context)
# Under autocast: no cast; the kernels read bf16/fp16 as given and accumulate in fp32.
LIF.register_autocast(FUSED)
LIF.register_decomposition(lif_decomposition)
LIF_BACKWARD = LIF.define_backward(
    LIFBackwardArguments,
    4,
    _lif_backward_kernel,
    _lif_backward_fake,
    no_double_backward="LIF: the fused operator has no second derivative (double backward); "
    "for higher-order gradients use torch.func (which runs the stepwise fallback) or LIFCell",
)
LIF_SCHEMA, LIF_BACKWARD_SCHEMA = LIF.schema, LIF_BACKWARD.schema
lif_op, lif_backward_op = LIF.op, LIF_BACKWARD.op


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
    reset: str = "subtract",
    v_reset: Value = 0.0,
) -> tuple[Tensor, Tensor]:
    """``(spikes, v_T)`` of the fused operator for ``surrogate``: a registered name or a
    key of :func:`~sc_neurocore.kernels.spec_table.spec_key`."""
    return lif_op(
        inputs,
        v0,
        _as_tensor(beta),
        _as_tensor(threshold),
        reset,
        _as_tensor(v_reset),
        surrogate,
        list(params),
    )
