"""Eager kernels of the fused leaky integrator: one pass over time each way, no graph.

The leaky integrator is the linear first-order filter shared by the non-spiking readout
(``y`` is its membrane) and by the synaptic current of the current-based LIF (``y`` is the
current ``i``)::

    y_t = decay * y_{t-1} + x_t                    (y_0 given, zeros by default)

Being linear, its backward is the same filter run backwards in time::

    dL/dx_t     = dL/dy_t + decay * dL/dx_{t+1}    (dL/dx_{T+1} := 0)
    dL/dy_0     = decay * dL/dx_1
    dL/ddecay   = sum_t dL/dx_t * y_{t-1}

Each step is the one multiply-add of ``decayed`` in the stepwise cells, in the same torch
kernel, so the fused and stepwise results agree bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..buffers import sequence_buffer

#: A decay inside the kernels: a Python float or a tensor broadcastable to one step.
Value = float | Tensor


def leaky_step(out: Tensor, drive: Tensor, decay: Value, state: Tensor) -> Tensor:
    """``out = drive + decay * state``: the one equation of the leaky integrator."""
    if isinstance(decay, Tensor):
        return torch.addcmul(drive, decay, state, out=out)
    return torch.add(drive, state, alpha=decay, out=out)


def _initial_state(x: Tensor, y0: Tensor | None) -> Tensor:
    state = torch.empty_like(x[0], memory_format=torch.contiguous_format)
    return state.zero_() if y0 is None else state.copy_(y0)


def leaky_forward(x: Tensor, y0: Tensor | None, decay: Value) -> Tensor:
    """The filtered sequence ``y`` (a fresh contiguous tensor like ``x``)."""
    y = sequence_buffer(x)
    previous = _initial_state(x, y0)
    for t, drive in enumerate(x.unbind(0)):
        previous = leaky_step(y[t], drive, decay, previous)
    return y


def leaky_backward(grad_y: Tensor, decay: Value) -> Tensor:
    """``dL/dx`` for every step: the filter applied to ``grad_y`` in reverse time."""
    grad_x = sequence_buffer(grad_y)
    steps = grad_y.shape[0]
    grad_x[steps - 1].copy_(grad_y[steps - 1])
    for t in range(steps - 2, -1, -1):
        leaky_step(grad_x[t], grad_y[t], decay, grad_x[t + 1])
    return grad_x


def decay_gradient(grad_x: Tensor, y: Tensor, y0: Tensor | None) -> Tensor:
    """Per-neuron float64 ``sum_t dL/dx_t * y_{t-1}`` (shape of one step)."""
    total = (grad_x[1:] * y[:-1]).sum(0, dtype=torch.float64)
    if y0 is not None:
        total += (grad_x[0] * y0).to(torch.float64)
    return total
