"""Eager kernels of the fused multi-step LIF: one pass over time each way, no autograd graph.

Forward, per step t (identical to ``LIFCell``)::

    h_t = beta * v_{t-1} + x_t          (pre-reset membrane)
    s_t = H(h_t - threshold)            (spike)
    v_t = R(h_t, s_t)                   (the reset; s_t is detached)

with ``R`` one of the three reset modes (``RESETS``): ``"subtract"``: ``h_t - s_t *
threshold``; ``"zero"``: ``v_reset`` where ``s_t`` else ``h_t``; ``"none"``: ``h_t``.

Nothing but the spikes is written per step: backward recomputes ``h_t`` from the
saved input and spikes with the same kernels (so bit for bit), which keeps a fwd+bwd
at about three (T, batch, ...) buffers: spikes, the input gradient, and the input.

Backward (see docs/fused.md for the derivation), with g the surrogate gradient,
``A_t = dL/ds_t * g(h_t - threshold)`` and ``k_t = dv_t/dh_t`` (``1 - s_t`` for
``"zero"``, else 1)::

    dL/dh_t     = A_t + k_t * beta * dL/dh_{t+1}  (dL/dh_{T+1} * beta := dL/dv_T)
    dL/dx_t     = dL/dh_t
    dL/dv_0     = beta * dL/dh_1
    dL/dbeta    = sum_t dL/dh_t * v_{t-1}
    dL/dthresh  = -sum_t [dL/dh_t - dL/dv_t * m_t],   dL/dv_t = beta * dL/dh_{t+1}

where ``m_t = 1 - s_t`` for ``"subtract"`` and ``"zero"`` and 1 for ``"none"`` (only the
subtractive reset carries the threshold into the membrane).

``A_t`` depends only on recomputed values, so it is evaluated for a block of steps at
once (vectorised over time); only the one multiply-add recurrence is sequential.  The
recomputed membrane lives in the gradient buffer and is overwritten block by block,
walking from the end, while a block's temporaries are still in cache.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...core.neuron_spec import RESET_MODES
from ...core.spec import SurrogateSpec
from ..buffers import sequence_buffer
from .scalars import scalar_like

#: Time steps per vectorised block in the backward pass; large enough to amortise the
#: per-op overhead, small enough that a block of 64x1024 float32 stays in cache (and
#: its temporaries add little to peak memory).
BLOCK_STEPS = 4

#: The reset modes (one definition: a neuron spec's), in the order of their codes in the
#: compiled kernels.
RESETS = RESET_MODES

#: A LIF parameter inside the kernels: a Python float (the fast scalar forms of torch
#: ops) or a tensor broadcastable to one step's shape, already in the input dtype.
Value = float | Tensor


def kernel_value(value: Tensor, dtype: torch.dtype) -> Value:
    """A one-element CPU tensor as a float, anything else cast to the compute ``dtype``.

    Only a CPU value is read on the host: reading a CUDA one (``.item()``) would wait for
    the GPU on every call, so it stays a tensor, which every kernel family also takes.
    """
    if value.numel() == 1 and value.device.type == "cpu":
        return float(value.item())
    return value.to(dtype)


def _multiply_add(out: Tensor, base: Tensor, factor: Value, other: Tensor) -> Tensor:
    """``out = base + factor * other`` (``LIFCell``'s decay step, same kernels)."""
    if isinstance(factor, Tensor):
        return torch.addcmul(base, factor, other, out=out)
    return torch.add(base, other, alpha=factor, out=out)


def apply_reset(
    out: Tensor,
    h: Tensor,
    spikes: Tensor,
    threshold: Value,
    reset: str = "subtract",
    v_reset: Value = 0.0,
) -> Tensor:
    """``out = R(h, spikes)`` for the ``reset`` mode (``LIFCell``'s reset, same values)."""
    if reset == "zero":
        target = v_reset if isinstance(v_reset, Tensor) else scalar_like(v_reset, h)
        return torch.where(spikes.bool(), target, h, out=out)
    if reset == "none":
        return out if out is h else out.copy_(h)
    if isinstance(threshold, Tensor):
        return torch.sub(h, torch.mul(spikes, threshold), out=out)
    return torch.sub(h, spikes, alpha=threshold, out=out)


def initial_membrane(x: Tensor, v0: Tensor | None) -> Tensor:
    """A fresh contiguous ``v_0``: zeros, or ``v0`` cast to the input dtype."""
    v = torch.empty_like(x[0], memory_format=torch.contiguous_format)
    return v.zero_() if v0 is None else v.copy_(v0)


def lif_forward(
    x: Tensor,
    v0: Tensor | None,
    beta: Value,
    threshold: Value,
    reset: str = "subtract",
    v_reset: Value = 0.0,
) -> tuple[Tensor, Tensor]:
    """``(spikes, v_T)`` for time-major ``x``; the membrane is updated in place."""
    spikes = sequence_buffer(x)
    v = initial_membrane(x, v0)
    for t in range(x.shape[0]):
        s_t = spikes[t]
        _multiply_add(v, x[t], beta, v)  # v holds h_t
        torch.gt(v, threshold, out=s_t)
        apply_reset(v, v, s_t, threshold, reset, v_reset)
    return spikes, v


# The torch kernels take the argument lists of the operator's schema (neurons/fused_op.py).
def recompute_membrane(
    out: Tensor,
    x: Tensor,
    spikes: Tensor,
    v0: Tensor | None,
    beta: Value,
    threshold: Value,
    reset: str = "subtract",
    v_reset: Value = 0.0,
) -> Tensor:
    """Write the pre-reset membrane ``h_t`` into ``out[t]``: the forward again, spikes known."""
    v = initial_membrane(x, v0)
    for t in range(x.shape[0]):
        h_t = out[t]
        _multiply_add(h_t, x[t], beta, v)
        apply_reset(v, h_t, spikes[t], threshold, reset, v_reset)
    return out


def _owned(result: Tensor, incoming: Tensor) -> Tensor:
    """``result``, copied if it shares memory with ``incoming`` (e.g. a g == 1 surrogate)."""
    if result.untyped_storage().data_ptr() == incoming.untyped_storage().data_ptr():
        return result.clone()
    return result


def surrogate_term(
    spec: SurrogateSpec, u: Tensor, grad_spikes: Tensor, params: dict[str, float]
) -> Tensor:
    """``grad_spikes * g(u)`` as a fresh tensor, in place where the spec allows it."""
    if spec.grad_mul is not None:
        return _owned(spec.grad_mul(u, grad_spikes, **params), grad_spikes)
    return grad_spikes * spec.grad(u, **params)


def _blocks(steps: int) -> list[tuple[int, int]]:
    """``(start, stop)`` blocks covering ``range(steps)``, last block first."""
    starts = range(0, steps, BLOCK_STEPS)
    return [(start, min(start + BLOCK_STEPS, steps)) for start in reversed(starts)]


class ParameterSums:
    """Per-neuron float64 sums of ``dL/dbeta`` and ``dL/dthreshold``, block by block."""

    def __init__(self, like: Tensor) -> None:
        self.beta = torch.zeros(like.shape, dtype=torch.float64, device=like.device)
        self.threshold = torch.zeros_like(self.beta)

    def add_beta(self, grad_h: Tensor, v_prev: Tensor) -> None:
        self.beta += (grad_h * v_prev).sum(0, dtype=torch.float64)

    def add_threshold(self, grad_h: Tensor, grad_v: Tensor, spikes: Tensor, reset: str) -> None:
        # -(dL/dh_t - dL/dv_t * m_t)
        self.threshold -= grad_h.sum(0, dtype=torch.float64)
        kept = grad_v if reset == "none" else grad_v * (1 - spikes)
        self.threshold += kept.sum(0, dtype=torch.float64)

    def reduced(self, beta: Tensor, threshold: Tensor) -> tuple[Tensor, Tensor]:
        """The sums in the shapes and dtypes of the parameters."""
        return (
            self.beta.sum_to_size(beta.shape).to(beta.dtype),
            self.threshold.sum_to_size(threshold.shape).to(threshold.dtype),
        )


def _previous_membrane(
    h: Tensor,
    spikes: Tensor,
    v0: Tensor | None,
    start: int,
    stop: int,
    threshold: Value,
    reset: str,
    v_reset: Value,
) -> Tensor:
    """``v_{t-1}`` for ``t`` in ``[start, stop)``, from the (not yet overwritten) ``h``."""
    low = max(start - 1, 0)
    before = h[low : stop - 1]
    v_prev = apply_reset(
        torch.empty_like(before), before, spikes[low : stop - 1], threshold, reset, v_reset
    )
    if start > 0:
        return v_prev
    return torch.cat((initial_membrane(h, v0).unsqueeze(0), v_prev))


def _following_grad_v(grad_h: Tensor, grad_v: Tensor, start: int, stop: int, beta: Value) -> Tensor:
    """``dL/dv_t = beta * dL/dh_{t+1}`` (``dL/dv_T`` at the last step) for ``[start, stop)``."""
    following = grad_h[start + 1 : stop + 1] * beta
    if stop < grad_h.shape[0]:
        return following
    return torch.cat((following, grad_v.to(grad_h.dtype).unsqueeze(0)))


def lif_backward(
    spec: SurrogateSpec,
    params: dict[str, float],
    grad_spikes: Tensor,
    grad_v: Tensor,
    x: Tensor,
    spikes: Tensor,
    v0: Tensor | None,
    beta: Value,
    threshold: Value,
    sums: ParameterSums | None = None,
    reset: str = "subtract",
    v_reset: Value = 0.0,
) -> Tensor:
    """``dL/dh_t`` (= ``dL/dx_t``) for every step, walking time in reverse.

    ``sums``, if given, accumulates the parameter gradients on the way.
    """
    grad_h = recompute_membrane(sequence_buffer(x), x, spikes, v0, beta, threshold, reset, v_reset)
    carry = grad_v.to(x.dtype)
    factor: Value = 1.0  # factor * carry == dL/dv_t
    for start, stop in _blocks(x.shape[0]):
        h = grad_h[start:stop]  # still the membrane until the recurrence below
        term = surrogate_term(spec, h - threshold, grad_spikes[start:stop], params)
        if sums is not None:
            v_prev = _previous_membrane(grad_h, spikes, v0, start, stop, threshold, reset, v_reset)
        kept = 1 - spikes[start:stop] if reset == "zero" else None  # k_t = dv_t/dh_t
        for t in range(stop - 1, start - 1, -1):
            incoming = carry if kept is None else carry * kept[t - start]
            _multiply_add(grad_h[t], term[t - start], factor, incoming)
            carry, factor = grad_h[t], beta
        if sums is not None:
            sums.add_beta(h, v_prev)
            sums.add_threshold(
                h, _following_grad_v(grad_h, grad_v, start, stop, beta), spikes[start:stop], reset
            )
    return grad_h
