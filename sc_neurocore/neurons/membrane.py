"""The membrane potential summed over time, from a LIF layer's input current and spikes.

With a subtractive reset through the detached spike and ``v_0 = 0``, the post-reset
membrane obeys a linear recurrence once the spikes are known::

    v_t = beta * v_{t-1} + (x_t - threshold * s_t)          (s_t constant for autograd)

so ``sum_t v_t = sum_k w_k (x_k - threshold * s_k)`` with ``w_k = sum_{j=0}^{T-k} beta^j``
(k counted from 1).  One weighted sum over time replaces stepping the cell only to add up
its membrane; the gradients are those of the stepped sum (the same linear map), the value
agrees to floating-point rounding (the terms are added in another order).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Value

__all__ = ["membrane_sum"]


def membrane_sum(current: Tensor, spikes: Tensor, beta: Value, threshold: Value) -> Tensor:
    """``sum_t v_t`` over the time-major ``current`` (T, batch, ...) and its ``spikes``.

    ``beta`` and ``threshold`` are numbers or tensors broadcasting to one step of
    ``current`` (as ``LIFCell`` holds them); gradients reach ``current`` and any tensor
    ``beta`` or ``threshold``, never ``spikes`` (the reset is detached).
    """
    if current.shape != spikes.shape:
        raise ValueError(
            f"membrane_sum: spikes must have the shape of current, {tuple(current.shape)}, "
            f"got {tuple(spikes.shape)}"
        )
    steps = current.shape[0]
    decay = torch.as_tensor(beta, dtype=current.dtype, device=current.device)
    exponents = torch.arange(steps, dtype=current.dtype, device=current.device)
    exponents = exponents.reshape(steps, *([1] * decay.dim()))
    # w_k for k = 1..T is the sum of the first T - k + 1 powers: a reversed cumulative sum.
    weights = torch.cumsum(decay.unsqueeze(0) ** exponents, 0).flip(0)
    weights = weights.reshape(steps, *([1] * (current.dim() - 1 - decay.dim())), *decay.shape)
    drive = current - spikes.detach() * threshold
    return (weights * drive).sum(0)
