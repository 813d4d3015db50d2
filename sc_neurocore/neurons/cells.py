"""Single-step differentiable neuron cells: ``cell(input, *state) -> (spike, *new_state)``.

Every cell spikes through ``surrogate_fn(v - threshold)`` (any callable ``f(x) -> Tensor``;
default: the ``atan_surrogate`` dispatcher, which follows the default path) and resets by
its keyword-only ``reset``: ``"subtract"`` (default; unless noted, subtracts
``spike.detach() * threshold``), ``"zero"`` (sets ``v_reset``, default 0, where it spiked)
or ``"none"``.  A state passed as ``None``
(or omitted) starts at zeros like the input.  The equations are in docs/cells.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import (
    LeakyCell,
    SpikingCell,
    SurrogateCallable,
    check_non_negative,
    check_positive,
    check_real,
    check_unit,
    decay_attribute,
    decayed,
    scalar,
)
from .dtypes import check_state

__all__ = [
    "ALIFCell",
    "AdExCell",
    "AlphaCell",
    "ExpIFCell",
    "IFCell",
    "LIFCell",
    "LapicqueCell",
    "SecondOrderLIFCell",
    "SynapticCell",
]


def _state(cell: nn.Module, name: str, state: Tensor | None, like: Tensor) -> Tensor:
    """``state``, checked against the input (device, floating, broadcasting shape; its
    dtype is promoted with the input's, see neurons/dtypes.py), or zeros like the input."""
    if state is None:
        return torch.zeros_like(like)
    check_state(type(cell).__name__, name, state, like)
    return state


# Every cell spells its arguments out (no **kwargs), so its signature, help() and the
# API reference show them; the checks those arguments share live in neurons/base.py.
class LIFCell(LeakyCell):
    """Leaky integrate-and-fire: ``v = beta*v + I``; returns ``(spike, v)``.

    ``LIFCell(beta=0.9, threshold=1.0, surrogate_fn=None, learn_beta=False,
    learn_threshold=False, *, reset="subtract", v_reset=0.0)``.

    ``spike = H(v - threshold)`` in the forward pass; the backward pass uses ``surrogate_fn``
    (default: ``atan_surrogate``).  After a spike the membrane is reset by ``reset``:
    ``"subtract"`` (default) takes ``threshold`` off ``v``, ``"zero"`` sets ``v`` to
    ``v_reset`` (fixed, not learnt), ``"none"`` leaves it.  The reset uses the detached
    spike, so no gradient flows through it.  ``v`` is the state: pass ``None`` at the first
    step (zeros) and the returned ``v`` at the next.  ``learn_beta`` and ``learn_threshold``
    make the decay (kept in ``(0, 1)``) and the threshold (kept positive) parameters.
    """

    def forward(self, input_current: Tensor, v: Tensor | None = None) -> tuple[Tensor, Tensor]:
        v = decayed(_state(self, "v", v, input_current), self.beta, input_current)
        return self.fire(v, self.threshold, like=input_current)


class IFCell(SpikingCell):
    """Integrate-and-fire without leak: ``v = v + I``; returns ``(spike, v)``."""

    def __init__(
        self,
        threshold: float | Tensor = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            threshold=threshold,
            surrogate_fn=surrogate_fn,
            learn_threshold=learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )

    def forward(self, input_current: Tensor, v: Tensor | None = None) -> tuple[Tensor, Tensor]:
        v = input_current if v is None else _state(self, "v", v, input_current) + input_current
        return self.fire(v, self.threshold, like=input_current)


class SynapticCell(LeakyCell):
    """Current-based synapse: ``i = alpha*i + I; v = beta*v + i``; returns ``(spike, i, v)``."""

    alpha = decay_attribute("alpha")
    repr_fields = ("alpha", "beta", "threshold")

    def __init__(
        self,
        alpha: float | Tensor = 0.9,
        beta: float | Tensor = 0.8,
        threshold: float | Tensor = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self._decay("alpha", alpha, learn_alpha)

    def forward(
        self, input_current: Tensor, i: Tensor | None = None, v: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        i = decayed(_state(self, "i", i, input_current), self.alpha, input_current)
        v = decayed(_state(self, "v", v, input_current), self.beta, i)
        spike, v = self.fire(v, self.threshold, like=input_current)
        return spike, i, v


class SecondOrderLIFCell(SynapticCell):
    """Second-order LIF: ``a = alpha*a + I; v = beta*v + a``; returns ``(spike, a, v)``.

    The same recurrence as :class:`SynapticCell` read as a second-order membrane
    (``a`` is the membrane's rate of change), with slower defaults.
    """

    def __init__(
        self,
        alpha: float | Tensor = 0.95,
        beta: float | Tensor = 0.9,
        threshold: float | Tensor = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            alpha,
            beta,
            threshold,
            surrogate_fn,
            learn_alpha,
            learn_beta,
            learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )


class ALIFCell(LeakyCell):
    """Adaptive-threshold LIF (Bellec et al. 2020); returns ``(spike, v, a)``.

    ``theta = threshold + beta_adapt*a; v = beta*v + I``; spike on ``v - theta``; reset by
    ``theta``; ``a = rho*a + spike.detach()``.
    """

    repr_fields = ("beta", "threshold", "rho", "beta_adapt")

    def __init__(
        self,
        beta: float | Tensor = 0.9,
        threshold: float | Tensor = 1.0,
        rho: float = 0.99,
        beta_adapt: float = 1.8,
        surrogate_fn: SurrogateCallable | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self.rho = check_unit("rho", rho)
        self.beta_adapt = check_non_negative("beta_adapt", beta_adapt)

    def forward(
        self, input_current: Tensor, v: Tensor | None = None, a: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        a = _state(self, "a", a, input_current)
        theta = self.threshold + self.beta_adapt * a
        spike, v = self.fire(
            decayed(_state(self, "v", v, input_current), self.beta, input_current),
            theta,
            like=input_current,
        )
        return spike, v, decayed(a, self.rho, spike.detach())


class ExpIFCell(LeakyCell):
    """Exponential integrate-and-fire; returns ``(spike, v)``.

    ``v = beta*v + delta_t*exp(clamp((v - v_rh)/delta_t, max=5)) + I``; the clamp keeps
    the exponential finite before the reset catches the upswing.
    """

    repr_fields: tuple[str, ...] = ("beta", "threshold", "delta_t", "v_rh")

    def __init__(
        self,
        beta: float | Tensor = 0.9,
        threshold: float | Tensor = 1.0,
        delta_t: float = 0.5,
        v_rh: float = 0.8,
        surrogate_fn: SurrogateCallable | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self.delta_t = check_positive("delta_t", delta_t)
        self.v_rh = check_real("v_rh", v_rh)

    def _upswing(self, v: Tensor) -> Tensor:
        return self.delta_t * torch.exp(torch.clamp((v - self.v_rh) / self.delta_t, max=5.0))

    def forward(self, input_current: Tensor, v: Tensor | None = None) -> tuple[Tensor, Tensor]:
        v = _state(self, "v", v, input_current)
        v = decayed(v, self.beta, self._upswing(v) + input_current)
        return self.fire(v, self.threshold, like=input_current)


class AdExCell(ExpIFCell):
    """Adaptive exponential integrate-and-fire; returns ``(spike, v, w)``.

    As :class:`ExpIFCell` with ``- w`` in the membrane update, and
    ``w = rho*w + a*(v_prev - v_rest) + b*spike.detach()``.
    """

    repr_fields = ("beta", "threshold", "delta_t", "v_rh", "a", "b", "rho", "v_rest")

    def __init__(
        self,
        beta: float | Tensor = 0.9,
        threshold: float | Tensor = 1.0,
        delta_t: float = 0.5,
        v_rh: float = 0.8,
        a: float = 0.01,
        b: float = 0.1,
        rho: float = 0.99,
        v_rest: float = 0.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            beta,
            threshold,
            delta_t,
            v_rh,
            surrogate_fn,
            learn_beta,
            learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )
        self.a = check_real("a", a)
        self.b = check_non_negative("b", b)
        self.rho = check_unit("rho", rho)
        self.v_rest = check_real("v_rest", v_rest)

    def forward(  # type: ignore[override]
        self, input_current: Tensor, v: Tensor | None = None, w: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        v_prev, w = _state(self, "v", v, input_current), _state(self, "w", w, input_current)
        v = decayed(v_prev, self.beta, self._upswing(v_prev) - w + input_current)
        spike, v = self.fire(v, self.threshold, like=input_current)
        drive = self.a * (v_prev - self.v_rest) + self.b * spike.detach()
        return spike, v, decayed(w, self.rho, drive)


class LapicqueCell(SpikingCell):
    """Lapicque's RC membrane, Euler-discretised; returns ``(spike, v)``.

    ``v = (1 - dt/tau)*(v - v_rest) + v_rest + (r*dt/tau)*I``; the reset subtracts
    ``spike.detach()*(threshold - v_rest)``.
    """

    repr_fields = ("tau", "r", "dt", "threshold", "v_rest")

    def __init__(
        self,
        tau: float = 20.0,
        r: float = 1.0,
        dt: float = 1.0,
        threshold: float | Tensor = 1.0,
        v_rest: float = 0.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            threshold=threshold,
            surrogate_fn=surrogate_fn,
            learn_threshold=learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )
        self.tau = scalar("tau", check_positive("tau", tau))
        self.r = scalar("r", check_positive("r", r))
        self.dt = scalar("dt", check_positive("dt", dt))
        if self.dt > self.tau:
            raise ValueError(f"dt must be <= tau for a stable decay, got dt={dt!r}, tau={tau!r}")
        self.v_rest = scalar("v_rest", check_real("v_rest", v_rest))
        if not bool(torch.all(torch.as_tensor(self.threshold) > self.v_rest)):
            raise ValueError(f"v_rest must be below threshold, got v_rest={v_rest!r}")
        self._keep = 1.0 - self.dt / self.tau
        self._gain = self.r * self.dt / self.tau

    def forward(self, input_current: Tensor, v: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if v is None:
            v = torch.full_like(input_current, self.v_rest)
        check_state(type(self).__name__, "v", v, input_current)
        v = torch.add(input_current * self._gain, v - self.v_rest, alpha=self._keep) + self.v_rest
        threshold = self.threshold
        return self.fire(v, threshold, threshold - self.v_rest, like=input_current)


class AlphaCell(LeakyCell):
    """Excitatory and inhibitory synaptic currents into one membrane.

    ``forward(exc_current, inh_current, i_exc, i_inh, v)``:
    ``i_exc = alpha_exc*i_exc + exc_current; i_inh = alpha_inh*i_inh + inh_current;
    v = beta*v + i_exc - i_inh``; returns ``(spike, i_exc, i_inh, v)``.
    """

    alpha_exc = decay_attribute("alpha_exc")
    alpha_inh = decay_attribute("alpha_inh")
    repr_fields = ("alpha_exc", "alpha_inh", "beta", "threshold")

    def __init__(
        self,
        alpha_exc: float | Tensor = 0.9,
        alpha_inh: float | Tensor = 0.85,
        beta: float | Tensor = 0.9,
        threshold: float | Tensor = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self._decay("alpha_exc", alpha_exc)
        self._decay("alpha_inh", alpha_inh)

    def forward(
        self,
        exc_current: Tensor,
        inh_current: Tensor,
        i_exc: Tensor | None = None,
        i_inh: Tensor | None = None,
        v: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        i_exc = decayed(_state(self, "i_exc", i_exc, exc_current), self.alpha_exc, exc_current)
        i_inh = decayed(_state(self, "i_inh", i_inh, inh_current), self.alpha_inh, inh_current)
        v = decayed(_state(self, "v", v, exc_current), self.beta, i_exc - i_inh)
        spike, v = self.fire(v, self.threshold, like=exc_current)
        return spike, i_exc, i_inh, v
