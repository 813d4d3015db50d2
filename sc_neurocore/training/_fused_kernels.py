"""Eager kernels of the fused multi-step LIF: one pass over time each way, no autograd graph.

Forward, per step t (identical to ``LIFCell``)::

    h_t = beta * v_{t-1} + x_t          (pre-reset membrane, stored)
    s_t = H(h_t - threshold)            (spike)
    v_t = h_t - s_t * threshold         (subtractive reset; s_t is detached)

Backward (see docs/fused.md for the derivation), with g the surrogate gradient and
``A_t = dL/ds_t * g(h_t - threshold)``::

    dL/dh_t     = A_t + beta * dL/dh_{t+1}        (dL/dh_{T+1} * beta := dL/dv_T)
    dL/dx_t     = dL/dh_t
    dL/dv_0     = beta * dL/dh_1
    dL/dbeta    = sum_t dL/dh_t * v_{t-1}
    dL/dthresh  = -sum_t [dL/dh_t - dL/dv_t * (1 - s_t)],   dL/dv_t = beta * dL/dh_{t+1}

``A_t`` depends only on stored values, so it is computed for a block of steps at once
(vectorised over time); only the one-multiply-add recurrence is sequential.  Blocks are
walked from the end so each block's temporaries are still in cache for the recurrence.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..spec import SurrogateSpec

#: Time steps per vectorised block in the backward pass; large enough to amortise the
#: per-op overhead, small enough that a block of 64x1024 float32 stays in cache.
BLOCK_STEPS = 8

#: A LIF parameter inside the kernels: a Python float (the fast scalar forms of torch
#: ops) or a tensor broadcastable to one step's shape, already in the input dtype.
Value = float | Tensor


def kernel_value(value: Tensor, dtype: torch.dtype) -> Value:
    """A one-element tensor as a float, anything else cast to the compute ``dtype``."""
    if value.numel() == 1:
        return float(value.item())
    return value.to(dtype)


def _multiply_add(out: Tensor, base: Tensor, factor: Value, other: Tensor) -> Tensor:
    """``out = base + factor * other`` (``LIFCell``'s decay step, same kernels)."""
    if isinstance(factor, Tensor):
        return torch.addcmul(base, factor, other, out=out)
    return torch.add(base, other, alpha=factor, out=out)


def _subtract_reset(out: Tensor, h: Tensor, spikes: Tensor, threshold: Value) -> Tensor:
    """``out = h - spikes * threshold`` (``LIFCell``'s reset, same kernels)."""
    if isinstance(threshold, Tensor):
        return torch.sub(h, torch.mul(spikes, threshold), out=out)
    return torch.sub(h, spikes, alpha=threshold, out=out)


def lif_forward(
    x: Tensor, v0: Tensor | None, beta: Value, threshold: Value
) -> tuple[Tensor, Tensor, Tensor]:
    """``(spikes, v_T, h)`` for time-major ``x``; ``h`` is the pre-reset membrane per step."""
    spikes = torch.empty_like(x, memory_format=torch.contiguous_format)
    h = torch.empty_like(spikes)
    v = torch.zeros_like(spikes[0]) if v0 is None else v0.to(x.dtype, copy=True)
    for t in range(x.shape[0]):
        h_t, s_t = h[t], spikes[t]
        _multiply_add(h_t, x[t], beta, v)
        torch.gt(h_t, threshold, out=s_t)
        _subtract_reset(v, h_t, s_t, threshold)
    return spikes, v, h


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


def lif_backward_inputs(
    spec: SurrogateSpec,
    params: dict[str, float],
    grad_spikes: Tensor,
    grad_v: Tensor,
    h: Tensor,
    beta: Value,
    threshold: Value,
) -> Tensor:
    """``dL/dh_t`` (= ``dL/dx_t``) for every step, walking time in reverse."""
    grad_h = torch.empty_like(h)
    carry, factor = grad_v.to(h.dtype), 1.0  # factor * carry == dL/dv_t
    for start, stop in _blocks(h.shape[0]):
        term = surrogate_term(spec, h[start:stop] - threshold, grad_spikes[start:stop], params)
        for t in range(stop - 1, start - 1, -1):
            _multiply_add(grad_h[t], term[t - start], factor, carry)
            carry, factor = grad_h[t], beta
    return grad_h


def _previous_membrane(h: Tensor, v0: Tensor | None, start: int, stop: int, threshold: Value):
    """``v_{t-1}`` for ``t`` in ``[start, stop)``, rebuilt from the stored ``h``."""
    h_prev = h[max(start - 1, 0) : stop - 1]
    v_prev = torch.where(h_prev > threshold, h_prev - threshold, h_prev)
    if start > 0:
        return v_prev
    first = torch.zeros_like(h[0]) if v0 is None else v0.to(h.dtype)
    return torch.cat((first.unsqueeze(0), v_prev))


def _next_grad_v(grad_h: Tensor, grad_v: Tensor, start: int, stop: int, beta: Value) -> Tensor:
    """``dL/dv_t = beta * dL/dh_{t+1}`` (``dL/dv_T`` at the last step) for ``[start, stop)``."""
    following = grad_h[start + 1 : stop + 1] * beta
    if stop < grad_h.shape[0]:
        return following
    return torch.cat((following, grad_v.to(grad_h.dtype).unsqueeze(0)))


def _reduced(total: Tensor, like: Tensor) -> Tensor:
    """A per-neuron float64 sum reduced to the shape and dtype of the parameter ``like``."""
    return total.sum_to_size(like.shape).to(like.dtype)


def lif_backward_params(
    grad_h: Tensor,
    grad_v: Tensor,
    h: Tensor,
    v0: Tensor | None,
    beta: Tensor,
    threshold: Tensor,
) -> tuple[Tensor, Tensor]:
    """``(dL/dbeta, dL/dthreshold)`` in the shapes and dtypes of ``beta`` and ``threshold``."""
    beta_value = kernel_value(beta, h.dtype)
    threshold_value = kernel_value(threshold, h.dtype)
    wide = torch.float64
    total_beta = torch.zeros(h.shape[1:], dtype=wide, device=h.device)
    total_threshold = torch.zeros_like(total_beta)
    for start, stop in _blocks(h.shape[0]):
        grad_h_block = grad_h[start:stop]
        v_prev = _previous_membrane(h, v0, start, stop, threshold_value)
        total_beta += (grad_h_block * v_prev).sum(0, dtype=wide)
        grad_v_block = _next_grad_v(grad_h, grad_v, start, stop, beta_value)
        kept = h[start:stop] <= threshold_value  # 1 - s_t
        total_threshold -= grad_h_block.sum(0, dtype=wide)
        total_threshold += (grad_v_block * kept).sum(0, dtype=wide)
    return _reduced(total_beta, beta), _reduced(total_threshold, threshold)
