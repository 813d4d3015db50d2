"""The one place where NIR's continuous-time neurons meet the project's discrete steps.

NIR stores ODEs and no time step; every conversion here takes an explicit ``dt`` and a
``method``:

* ``"euler"`` (default; the convention of snnTorch, Norse and SpikingJelly), per step in
  this order: integrate (LIF/LI: ``v += dt/tau * (v_leak - v + r*I)``; IF/I:
  ``v += dt*r*I``), fire (``s = v > v_threshold``), reset (``v = v_reset`` where ``s``).
* ``"exp"``: the exact solution for an input held over the step (zero-order hold):
  ``v = v_leak + (v - v_leak)*exp(-dt/tau) + (1 - exp(-dt/tau))*r*I``.

Either way one step is ``v = decay*v + gain*I + bias`` with the coefficients below, and
a synaptic current (CubaLIF/CubaLI: ``tau_syn dI/dt = -I + w_in*S``) is updated first,
so the membrane is driven by *this* step's synaptic current.

A project ``LIFCell(beta, threshold)`` is ``tau = dt/(1 - beta)``, ``r = tau/dt`` (and
``v_leak = 0``) under Euler: then ``decay = beta`` and ``gain = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "METHODS",
    "Step",
    "check_dt",
    "delay_steps",
    "fires_under_unit_input",
    "leaky_step",
    "leaky_time_constants",
    "plain_step",
]

METHODS = ("euler", "exp")


def check_dt(dt: object) -> float:
    """``dt`` as a positive finite float, else an error naming it."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    return float(dt)


def check_method(method: object) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return str(method)


@dataclass(frozen=True)
class Step:
    """One discrete step ``v = decay*v + gain*I + bias`` (per-neuron arrays)."""

    decay: np.ndarray
    gain: np.ndarray
    bias: np.ndarray


def _array(value: object) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def leaky_step(tau: object, r: object, v_leak: object, dt: float, method: str = "euler") -> Step:
    """``tau dv/dt = (v_leak - v) + r*I`` over one step of ``dt``."""
    tau, r, v_leak = _array(tau), _array(r), _array(v_leak)
    if np.any(tau <= 0):
        raise ValueError(f"tau must be > 0, got {tau!r}")
    if check_method(method) == "euler":
        if np.any(dt > tau):
            raise ValueError(f"Euler needs dt <= tau for a stable decay; dt={dt}, tau={tau!r}")
        step = dt / tau
    else:
        step = -np.expm1(-dt / tau)
    return Step(decay=1.0 - step, gain=step * r, bias=step * v_leak)


def plain_step(r: object, dt: float) -> Step:
    """``dv/dt = r*I`` (IF, I) over one step of ``dt`` (Euler and exact agree)."""
    r = _array(r)
    return Step(decay=np.ones_like(r), gain=dt * r, bias=np.zeros_like(r))


def leaky_time_constants(
    decay: object, dt: float, method: str = "euler"
) -> tuple[np.ndarray, np.ndarray]:
    """``(tau, r)`` whose step has this ``decay`` and unit gain (the inverse of leaky_step)."""
    decay = _array(decay)
    if np.any(decay <= 0) or np.any(decay >= 1):
        raise ValueError(
            f"a leaky neuron needs a decay in (0, 1) to have a time constant, got {decay!r}"
        )
    if check_method(method) == "euler":
        tau = dt / (1.0 - decay)
        return tau, tau / dt
    tau = -dt / np.log(decay)
    return tau, 1.0 / (1.0 - decay)


def delay_steps(delay: Any, dt: float) -> np.ndarray:
    """``delay / dt`` as whole steps; a fractional delay is an error naming the values."""
    delay = np.asarray(delay, dtype=np.float64)
    steps = delay / dt
    whole = np.round(steps)
    bad = (delay < 0) | (np.abs(steps - whole) > 1e-9)
    if np.any(bad):
        raise ValueError(
            f"Delay: delay must be a non-negative whole number of steps of dt={dt}, got "
            f"delay={np.unique(delay[bad])[:4].tolist()}; a fractional delay has no discrete "
            "equivalent (choose a dt that divides every delay)"
        )
    return whole.astype(np.int64)


def fires_under_unit_input(
    step: Step, synapse: Step | None, threshold: object, steps: int
) -> np.ndarray:
    """Per neuron: does a constant input of 1 from rest cross ``threshold`` within ``steps``?

    The discrete step itself is iterated (no closed form to get wrong), the synaptic
    current first when there is one, as the imported neurons run.
    """
    threshold = _array(threshold)
    v = np.zeros(np.broadcast(step.decay, threshold).shape)
    current, fired = np.zeros_like(v), np.zeros(v.shape, dtype=bool)
    for _ in range(steps):
        drive: object = 1.0
        if synapse is not None:
            current = synapse.decay * current + synapse.gain
            drive = current
        v = step.decay * v + step.gain * drive + step.bias
        fired |= v > threshold
        if fired.all():
            break
    return fired
