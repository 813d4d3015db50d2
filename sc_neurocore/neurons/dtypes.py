"""The one dtype rule of every cell, fused layer and network: torch's type promotion.

A neuron's state and its input combine as the native ops they replace would combine them
(``beta * v + x``): by ``torch.result_type``.  An fp32 membrane fed bf16 currents (what an
autocast region hands over) stays fp32, a bf16 membrane fed fp32 currents becomes fp32, and
the returned state keeps that promoted dtype; spikes come out in the input's dtype.  What
stays an error, naming the argument: a state on another device, a state that is not a
floating tensor, and a state whose shape does not broadcast with the input.
See docs/trust.md ("One dtype rule") and docs/mixed-precision.md.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "broadcast_to_state",
    "check_floating",
    "check_state",
    "compute_dtype_of",
    "state_dtype",
]


def check_floating(owner: str, argument: str, value: object, what: str = "tensor") -> None:
    """Refuse anything but a floating-point tensor (an integer or bool tensor included)."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{owner}: {argument} must be a floating-point {what}, got {type(value).__name__}"
        )
    if not value.is_floating_point():
        raise TypeError(
            f"{owner}: {argument} must be a floating-point {what}, got dtype {value.dtype}; "
            f"convert explicitly (for example {argument}.float())"
        )


def _broadcast(shape: torch.Size, other: torch.Size) -> bool:
    """Whether two shapes broadcast together (written out: checked on every step)."""
    return all(a == b or a == 1 or b == 1 for a, b in zip(reversed(shape), reversed(other)))


def check_state(owner: str, argument: str, value: object, like: Tensor) -> None:
    """A state given to a cell or layer: a floating tensor on the input's device whose shape
    broadcasts with the input's.  Its dtype may differ: it is promoted, never refused."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{owner}: {argument} must be a torch.Tensor or None, got {type(value).__name__}"
        )
    if value.device != like.device:
        raise ValueError(
            f"{owner}: {argument} is on device {value.device}, expected {like.device} "
            f"(the device of the input); move it explicitly, for example "
            f"{argument}.to('{like.device}')"
        )
    if not value.is_floating_point():
        raise TypeError(
            f"{owner}: {argument} must be a floating-point tensor, got dtype {value.dtype}; "
            f"convert explicitly (for example {argument}.float())"
        )
    if value.shape != like.shape and not _broadcast(value.shape, like.shape):
        raise ValueError(
            f"{owner}: {argument} must broadcast with the input's shape {tuple(like.shape)}, "
            f"got shape {tuple(value.shape)}"
        )


def state_dtype(x: Tensor, *others: Tensor | float | None) -> torch.dtype:
    """The dtype of a state computed from the floating input ``x`` and ``others``: what
    ``torch.result_type`` gives ``beta * v + x`` (a number or a 0-dim tensor does not widen
    a tensor of the same category, so only tensors with dimensions take part)."""
    dtype = x.dtype
    for other in others:
        if isinstance(other, Tensor) and other.dim() > 0 and other.dtype != dtype:
            dtype = torch.promote_types(dtype, other.dtype)
    return dtype


def compute_dtype_of(dtype: torch.dtype) -> torch.dtype:
    """The dtype the fused kernels compute (and carry the membrane) in: float64 for a
    float64 state, float32 otherwise (bf16 and fp16 are storage dtypes, never accumulated)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def broadcast_to_state(inputs: Tensor, state: Tensor) -> Tensor:
    """Time-major ``inputs`` expanded where an initial ``state`` is wider than one step of
    them (``beta * v + x`` broadcasts so); unchanged otherwise, and whenever the two do not
    broadcast (the caller's check names that)."""
    step = inputs.shape[1:]
    if state.shape == step or not _broadcast(state.shape, step):
        return inputs
    shape = torch.broadcast_shapes(state.shape, step)
    if shape == step:
        return inputs
    leading = [1] * (len(shape) - len(step))  # new step dimensions go in front of the old
    return inputs.reshape(inputs.shape[0], *leading, *step).expand(inputs.shape[0], *shape)
