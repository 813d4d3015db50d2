"""What every neuron cell shares: argument checks, constrained learnable values, the
fire-and-reset step (three reset modes), and a repr that names the surrogate.

Learnable values are stored unconstrained so an optimizer can move them freely while
the value the equations see stays legal: a decay factor as a logit (``sigmoid`` keeps
it in (0, 1)), a threshold as a log (``exp`` keeps it > 0).  Fixed values stay plain
Python floats, so the per-step arithmetic takes the scalar fast paths of torch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..core.bound import CallForm, Surrogate
from ..core.callforms import atan_surrogate
from ..core.neuron_spec import RESET_MODES

Value = float | Tensor
SurrogateCallable = Callable[[Tensor], Tensor]

# RESET_MODES (core.neuron_spec): how a spike resets the membrane: subtract the threshold
# (default), set it to ``v_reset``, or leave it.


def check_reset(reset: object) -> str:
    """``reset`` if it names one of :data:`RESET_MODES`, else raise naming the value."""
    if not isinstance(reset, str) or reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    return reset


def check_real(name: str, value: object) -> Value:
    """``value`` as a finite float (or a finite floating tensor), else raise naming ``name``."""
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a real number or floating tensor, got {value.dtype}")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return value.detach().clone()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _violates(value: Value, test: Callable[[Any], Any]) -> bool:
    return bool(test(value).any()) if isinstance(value, Tensor) else bool(test(value))


def check_unit(name: str, value: object, *, open_interval: bool = False) -> Value:
    """A decay factor in [0, 1] (in (0, 1) when it is learned through a logit)."""
    number = check_real(name, value)
    if open_interval and _violates(number, lambda v: (v <= 0) | (v >= 1)):
        raise ValueError(f"{name} must be in (0, 1) to be learnable, got {value!r}")
    if _violates(number, lambda v: (v < 0) | (v > 1)):
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return number


def check_positive(name: str, value: object) -> Value:
    number = check_real(name, value)
    if _violates(number, lambda v: v <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def check_non_negative(name: str, value: object) -> Value:
    number = check_real(name, value)
    if _violates(number, lambda v: v < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return number


def scalar(name: str, value: Value) -> float:
    """Reject a tensor where the equations need one number (a precomputed factor, say)."""
    if isinstance(value, Tensor):
        raise TypeError(f"{name} must be a number, got a tensor {value!r}")
    return value


def check_surrogate(surrogate_fn: object) -> SurrogateCallable:
    if not callable(surrogate_fn):
        raise TypeError(
            "surrogate_fn must be a callable f(x) -> Tensor (a call form such as "
            f"atan_surrogate, or get_surrogate(...)), got {type(surrogate_fn).__name__} "
            f"{surrogate_fn!r}"
        )
    return surrogate_fn  # type: ignore[return-value]


def describe_surrogate(fn: object) -> str:
    """``name(path=..., p=v)`` for call forms, ``get_surrogate`` objects and partials of them."""
    keywords: dict[str, Any] = {}
    if isinstance(fn, functools.partial):
        keywords, fn = dict(fn.keywords), fn.func
    if isinstance(fn, Surrogate):
        path, params = fn.path, fn.params
    elif isinstance(fn, CallForm):
        path = keywords.pop("path", fn.path) or "default"
        try:
            params = {**fn.spec.defaults, **keywords}
        except LookupError:  # the surrogate is not registered (any more): show the name only
            params = keywords
    else:
        return getattr(fn, "__qualname__", None) or repr(fn)
    name = fn.surrogate if isinstance(fn, CallForm) else fn.name
    details = "".join(f", {key}={value!r}" for key, value in params.items())
    return f"{name}(path={path}{details})"


def _constrained(name: str, storage: str, transform: Callable[[Tensor], Tensor]) -> property:
    """Read-only ``name``: the fixed value, or ``transform(<learned parameter>)``."""

    def fget(self: nn.Module) -> Value:
        fixed = getattr(self, "_" + name)
        if fixed is not None:
            return fixed  # type: ignore[no-any-return]
        return transform(getattr(self, storage))

    return property(fget, doc=f"The current {name} (read-only; learned through {storage!r}).")


def decay_attribute(name: str) -> property:
    """A decay factor in [0, 1]; learned as the parameter ``<name>_logit``."""
    return _constrained(name, f"{name}_logit", torch.sigmoid)


class ConstrainedModule(nn.Module):
    """A module whose values are fixed (float or buffer) or learned through a constraint."""

    def _register(self, name: str, value: Value, learn: bool, kind: str) -> None:
        """Store ``value`` as fixed (float or non-persistent buffer) or as a learned parameter."""
        if not learn:
            if isinstance(value, Tensor):
                self.register_buffer("_" + name, value, persistent=False)
            else:
                setattr(self, "_" + name, value)
            return
        tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
        raw = torch.logit(tensor) if kind == "logit" else torch.log(tensor)
        setattr(self, "_" + name, None)
        self.register_parameter(f"{name}_{kind}", nn.Parameter(raw))

    def _decay(self, name: str, value: object, learn: bool = False) -> None:
        """Check and store a decay factor; learnable ones need a ``decay_attribute`` property."""
        self._register(name, check_unit(name, value, open_interval=learn), learn, "logit")


class SpikingCell(ConstrainedModule):
    """Base of the single-step cells: surrogate, threshold, constrained values, repr.

    Subclasses implement ``forward(input, *state) -> (spike, *new_state)``; an omitted
    state (``None``) starts at zeros like the input.
    """

    threshold = _constrained("threshold", "threshold_log", torch.exp)
    #: Names shown by ``repr`` besides the surrogate; subclasses extend it.
    repr_fields: tuple[str, ...] = ("threshold",)

    def __init__(
        self,
        *,
        threshold: Value,
        surrogate_fn: SurrogateCallable | None,
        learn_threshold: bool = False,
        reset: str = "subtract",
        v_reset: Value = 0.0,
    ) -> None:
        super().__init__()
        self.surrogate_fn = check_surrogate(
            atan_surrogate if surrogate_fn is None else surrogate_fn
        )
        self._register("threshold", check_positive("threshold", threshold), learn_threshold, "log")
        self.reset = check_reset(reset)
        self._register("v_reset", check_real("v_reset", v_reset), False, "")

    @property
    def v_reset(self) -> Value:
        """The membrane a spike sets under ``reset="zero"`` (fixed)."""
        return self._v_reset  # type: ignore[return-value]

    def fire(
        self,
        v: Tensor,
        threshold: Value,
        reset_by: Value | None = None,
        *,
        like: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Spike on ``v - threshold``, then reset by ``self.reset`` with the detached spike.

        ``"subtract"``: ``v - spike * reset_by`` (``reset_by`` defaults to the threshold);
        ``"zero"``: ``v_reset`` where the neuron spiked; ``"none"``: ``v`` unchanged.
        The membrane keeps its (promoted) dtype; the spike comes out in ``like``'s, the
        input's (0 and 1 are exact in every floating dtype).
        """
        spike = self.surrogate_fn(v - threshold)
        if self.reset == "zero":
            v = reset_to(v, spike, self.v_reset)
        elif self.reset != "none":
            v = reset(v, spike, threshold if reset_by is None else reset_by)
        if like is not None and spike.dtype != like.dtype:
            spike = spike.to(like.dtype)
        return spike, v

    def extra_repr(self) -> str:
        fields = [f"{name}={show_value(getattr(self, name))}" for name in self.repr_fields]
        if self.reset != "subtract":
            fields.append(f"reset={self.reset!r}, v_reset={show_value(self.v_reset)}")
        learned = [name for name, _ in self.named_parameters(recurse=False)]
        fields.append(f"surrogate={describe_surrogate(self.surrogate_fn)}")
        if learned:
            fields.append(f"learned={learned}")
        return ", ".join(fields)


# Every cell spells its arguments out (no **kwargs), so its signature, help() and the
# API reference show them; the checks those arguments share live in neurons/base.py.
class LeakyCell(SpikingCell):
    """A cell whose membrane decays by ``beta`` per step (learned as ``beta_logit``)."""

    beta = decay_attribute("beta")
    repr_fields: tuple[str, ...] = ("beta", "threshold")

    def __init__(
        self,
        beta: Value = 0.9,
        threshold: Value = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: Value = 0.0,
    ) -> None:
        super().__init__(
            threshold=threshold,
            surrogate_fn=surrogate_fn,
            learn_threshold=learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )
        self._decay("beta", beta, learn_beta)


def reset(v: Tensor, spike: Tensor, amount: Value) -> Tensor:
    """``v - spike.detach() * amount`` in one kernel when ``amount`` is a number."""
    if isinstance(amount, Tensor):
        return v - spike.detach() * amount
    return torch.sub(v, spike.detach(), alpha=amount)


def reset_to(v: Tensor, spike: Tensor, v_reset: Value) -> Tensor:
    """``v_reset`` where the (detached) spike is 1, ``v`` where it is 0: ``v*(1-s) + s*v_reset``.

    Written as arithmetic so the gradient to ``v`` is ``1 - s`` (the detached convention);
    for 0/1 spikes the values are exactly ``v`` and ``v_reset``, as the fused kernels give.
    """
    s = spike.detach()
    kept = v * (1 - s)
    if isinstance(v_reset, Tensor):
        return torch.addcmul(kept, s, v_reset)
    return torch.add(kept, s, alpha=v_reset) if v_reset != 0 else kept


def decayed(state: Tensor, decay: Value, drive: Tensor) -> Tensor:
    """``decay * state + drive`` in one kernel when ``decay`` is a number."""
    if isinstance(decay, Tensor):
        return torch.addcmul(drive, decay, state)
    return torch.add(drive, state, alpha=decay)


def show_value(value: Value) -> str:
    if isinstance(value, Tensor):
        if value.numel() == 1:
            return f"{float(value.detach()):.4g}"
        return f"tensor(shape={tuple(value.shape)})"
    return repr(value)
