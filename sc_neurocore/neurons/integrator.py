"""The leaky integrator, stepwise and fused: a non-spiking readout and a synaptic filter.

``LeakyIntegratorCell`` is one step, ``v = beta*v + I`` (no threshold, no spike): the
readout of Zenke & Vogels' and stork's Randman networks, whose membrane over time feeds a
readout reduction (max, last or mean) and a cross-entropy. ``LeakyIntegrator`` runs the
same equation over a whole time-major sequence in one ``torch.library`` operator, the one
generated from the built-in ``li`` neuron spec (``sc_neurocore_neuron::li``, whose backward
is the reverse-time pass derived from the spec). Under ``torch.func`` transforms it steps in
Python with the same results.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..core.compat import transforms_active as _transforms_active
from .base import ConstrainedModule, Value, decay_attribute, decayed, show_value
from .dtypes import broadcast_to_state, check_state
from .neuron_op import BoundNeuron, bind_readout, builtin_neuron, operator_for

__all__ = [
    "LeakyIntegrator",
    "LeakyIntegratorCell",
    "leaky_backward_op",
    "leaky_op",
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


#: The generated operators of the built-in ``li`` spec (a readout: no spike).
_LI = operator_for(builtin_neuron("li"))
leaky_op, leaky_backward_op = _LI.forward.op, _LI.backward_op.op


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
    return _READOUT(x, [y0], [decay])[0]


_READOUT: BoundNeuron = bind_readout(_LI.spec)


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
