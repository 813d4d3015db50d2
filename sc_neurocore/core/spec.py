"""Plain value types that plugins hand to the registry, and their validation.

A :class:`SurrogateSpec` is pure math; an :class:`ExecutionPath` turns any spec into
a callable; an :class:`Implementation` is a hand-written callable for one pair.
None of them knows about the registry.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .formula import Formula, FormulaError, parse

#: Surrogate and path names double as operator names, so they must be identifiers.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

SurrogateFn = Callable[..., torch.Tensor]


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"{kind} name must be a lower-case identifier (letters, digits, '_'), got {name!r}"
        )
    return name


def check_param(surrogate: str, param: str, value: object) -> float:
    """Return ``value`` as a finite float > 0, or raise naming surrogate, parameter and value."""
    if type(value) is float and 0.0 < value < math.inf:
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"surrogate {surrogate!r}: parameter {param!r} must be a single number, "
                f"got a tensor of shape {tuple(value.shape)}"
            )
        if value.requires_grad:
            raise ValueError(
                f"surrogate {surrogate!r}: parameter {param!r} is a tensor that requires grad; "
                "surrogate parameters are not differentiable, pass a float"
            )
        if value.device.type == "meta":
            raise ValueError(
                f"surrogate {surrogate!r}: parameter {param!r} is a tensor on device meta, "
                "which holds no value; pass a float"
            )
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(
                f"surrogate {surrogate!r}: parameter {param!r} must be a real number, "
                f"got a {value.dtype} tensor"
            )
        number = float(value.item())
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"surrogate {surrogate!r}: parameter {param!r} must be a real number, "
            f"got {type(value).__name__} {value!r}"
        )
    else:
        number = float(value)
    if not (0.0 < number < math.inf):
        raise ValueError(
            f"surrogate {surrogate!r}: parameter {param!r} must be a finite number > 0, "
            f"got {value!r}"
        )
    return number


def check_input(x: object, surrogate: str) -> None:
    """Refuse anything but a floating-point tensor as a surrogate's input, naming the surrogate.

    Spikes take x's dtype, so an integer input would silently give integer spikes.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"surrogate {surrogate!r}: x must be a torch.Tensor, got {type(x).__name__}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"surrogate {surrogate!r}: x must be a floating-point tensor, got dtype {x.dtype}; "
            "spikes take x's dtype, so convert explicitly (for example x.float())"
        )


@functools.lru_cache(maxsize=256)
def formula_grad(formula: Formula, params: tuple[tuple[str, float], ...]) -> SurrogateFn:
    """``grad(x, **params)`` evaluating ``formula`` in torch ops, defaults filled in.

    Cached, so two specs built from the same formula compare equal.
    """
    defaults, evaluate = dict(params), formula.torch

    def grad(x: torch.Tensor, **values: float) -> torch.Tensor:
        if len(values) != len(defaults):
            values = {**defaults, **values}
        return evaluate(x, **values)

    grad.__doc__ = f"g(x) = {formula.text}"
    return grad


def check_like(
    owner: str,
    argument: str,
    value: torch.Tensor,
    like: torch.Tensor,
    like_name: str,
    *,
    dtype: bool = True,
) -> None:
    """Refuse a tensor argument on another device than ``like`` (or of another dtype).

    Nothing is moved or cast behind the caller's back: a state on the wrong device or in
    the wrong precision is a bug in the caller, and a silent ``.to()`` would hide it (or,
    for ``meta``, compute with values that do not exist).  A device mismatch raises
    ``ValueError``, a dtype mismatch ``TypeError``; both name the argument, what it is and
    what was expected.
    """
    if value.device != like.device:
        raise ValueError(
            f"{owner}: {argument} is on device {value.device}, expected {like.device} "
            f"(the device of {like_name}); move it explicitly, for example "
            f"{argument}.to('{like.device}')"
        )
    if dtype and value.dtype != like.dtype:
        raise TypeError(
            f"{owner}: {argument} has dtype {value.dtype}, expected {like.dtype} "
            f"(the dtype of {like_name}); convert explicitly, for example "
            f"{argument}.to({like.dtype})"
        )


def check_state(owner: str, argument: str, value: object, like: torch.Tensor) -> None:
    """A state tensor given to a cell or layer: a tensor with the input's device and dtype."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{owner}: {argument} must be a torch.Tensor or None, got {type(value).__name__}"
        )
    check_like(owner, argument, value, like, "the input")


#: Half-width at half maximum of SuperSpike's g = 1/(1 + k|x|)^2 at steepness k, times k.
STEEPNESS_HALF_WIDTH = math.sqrt(2.0) - 1.0


@dataclass(frozen=True)
class Scale:
    """Which parameter sets a surrogate's steepness, and how it maps to a common steepness.

    The common steepness ``k`` is SuperSpike's ``beta``: a shape at steepness ``k`` has the
    half-width at half maximum of ``1/(1 + k|x|)^2``, ``(sqrt(2) - 1)/k``, so shapes compare
    at equal width. The parameter is ``factor * k``, or ``factor / k`` if ``inverse`` (a
    width). Optional: a spec without one has no scale to sweep.
    """

    param: str
    factor: float = 1.0
    inverse: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.param, str) or not self.param.isidentifier():
            raise ValueError(f"Scale: param must be a parameter name, got {self.param!r}")
        factor = self.factor
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise TypeError(f"Scale: factor must be a number, got {factor!r}")
        if not (0.0 < factor < math.inf):
            raise ValueError(f"Scale: factor must be a finite number > 0, got {factor!r}")
        object.__setattr__(self, "factor", float(factor))
        object.__setattr__(self, "inverse", bool(self.inverse))

    def value(self, steepness: float) -> float:
        """The parameter's value at common ``steepness``."""
        if not (0.0 < steepness < math.inf):
            raise ValueError(f"steepness must be a finite number > 0, got {steepness!r}")
        return self.factor / steepness if self.inverse else self.factor * steepness

    def steepness(self, value: float) -> float:
        """The common steepness of the parameter ``value``."""
        return self.factor / value if self.inverse else value / self.factor


@dataclass(frozen=True)
class SurrogateSpec:
    """The math of one surrogate: Heaviside forward, ``grad`` backward.

    ``grad(x, **params)`` returns g(x) in x's dtype using differentiable torch ops.
    ``grad_mul(x, grad_out, **params)``, optional, returns ``grad_out * g(x)`` with the
    same values, allocating one tensor and updating it in place; paths use it when no
    graph of the backward is being recorded.  ``primitive(x, **params)``, optional, is
    an antiderivative of g (paths that work by autograd alone need it).  ``c_grad``,
    optional, is g(x) as one C expression of ``x`` and the parameter names (C99
    ``<tgmath.h>`` functions, the constant ``PI``); the compiled fused LIF kernel
    evaluates it, and surrogates without one run that layer's torch kernels instead.
    ``formula``, optional, is g(x) once in the formula vocabulary of
    :mod:`sc_neurocore.core.formula`; the compiled CPU and the Triton kernels are
    generated from it, and it supplies ``c_grad`` when that is not given.  A spec with
    only ``grad`` (plugin API 1) runs the torch kernels wherever no formula is needed.
    :meth:`from_formula` derives ``grad`` too, so the math is written once.
    ``scale``, optional, names the parameter that sets the steepness (see :class:`Scale`);
    the surrogate sweep compares shapes at equal steepness through it.
    """

    name: str
    params: tuple[tuple[str, float], ...]
    grad: SurrogateFn
    description: str
    reference: str | None = None
    primitive: SurrogateFn | None = None
    grad_mul: SurrogateFn | None = None
    c_grad: str | None = None
    formula: str | None = None
    scale: Scale | None = None
    defaults: Mapping[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name("surrogate", self.name)
        raw = self.params.items() if isinstance(self.params, Mapping) else self.params
        try:
            pairs = tuple((str(key), default) for key, default in raw)
        except (TypeError, ValueError):
            raise TypeError(
                f"surrogate {self.name!r}: params must be a mapping or (name, default) pairs, "
                f"got {self.params!r}"
            ) from None
        for key, _ in pairs:
            if not key.isidentifier() or key in ("x", "path"):
                raise ValueError(f"surrogate {self.name!r}: invalid parameter name {key!r}")
        if len({key for key, _ in pairs}) != len(pairs):
            raise ValueError(f"surrogate {self.name!r}: duplicate parameter names in {pairs!r}")
        pairs = tuple((key, check_param(self.name, key, value)) for key, value in pairs)
        object.__setattr__(self, "params", pairs)
        object.__setattr__(self, "defaults", dict(pairs))
        for attr in ("grad", "primitive", "grad_mul"):
            fn = getattr(self, attr)
            if fn is not None and not callable(fn):
                raise TypeError(f"surrogate {self.name!r}: {attr} must be callable, got {fn!r}")
        if self.grad is None:
            raise TypeError(f"surrogate {self.name!r}: grad is required")
        if self.c_grad is not None and (not isinstance(self.c_grad, str) or not self.c_grad):
            raise TypeError(
                f"surrogate {self.name!r}: c_grad must be a non-empty string or None, "
                f"got {self.c_grad!r}"
            )
        if self.formula is not None:
            parsed = self.parsed_formula()
            assert parsed is not None
            if self.c_grad is None:
                object.__setattr__(self, "c_grad", parsed.c())
        if self.scale is not None:
            if not isinstance(self.scale, Scale):
                raise TypeError(
                    f"surrogate {self.name!r}: scale must be a Scale or None, got {self.scale!r}"
                )
            if self.scale.param not in self.defaults:
                raise ValueError(
                    f"surrogate {self.name!r}: scale parameter {self.scale.param!r} is not one of "
                    f"its parameters {tuple(self.defaults)}"
                )
        if not isinstance(self.description, str) or not self.description:
            raise TypeError(f"surrogate {self.name!r}: description must be a non-empty string")

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.params)

    def parsed_formula(self) -> Formula | None:
        """The parsed :attr:`formula` (``None`` without one); errors name the surrogate."""
        if self.formula is None:
            return None
        if not isinstance(self.formula, str):
            raise TypeError(
                f"surrogate {self.name!r}: formula must be a string or None, got {self.formula!r}"
            )
        try:
            return parse(self.formula, self.param_names)
        except FormulaError as error:
            raise ValueError(f"surrogate {self.name!r}: {error}") from None

    @classmethod
    def from_formula(
        cls,
        name: str,
        params: tuple[tuple[str, float], ...],
        formula: str,
        description: str,
        **fields: Any,
    ) -> SurrogateSpec:
        """A spec whose ``grad`` (and ``c_grad``) are derived from ``formula``."""
        names = tuple(str(key) for key, _ in params)
        try:
            parsed = parse(formula, names)
        except FormulaError as error:
            raise ValueError(f"surrogate {name!r}: {error}") from None
        return cls(
            name=name,
            params=params,
            grad=formula_grad(parsed, tuple(params)),
            description=description,
            formula=formula,
            **fields,
        )

    def bind(
        self, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """Validate user parameters and fill defaults, in the spec's order."""
        names = self.param_names
        if len(args) > len(names):
            raise TypeError(
                f"surrogate {self.name!r} takes {len(names)} parameter(s) {names}, got {len(args)}"
            )
        values: dict[str, Any] = dict(zip(names, args))
        for key, value in (kwargs or {}).items():
            if key not in self.defaults:
                close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                hint = f". Did you mean {close[0]!r}?" if close else ""
                raise TypeError(
                    f"surrogate {self.name!r} has no parameter {key!r}; its parameters are "
                    f"{names}{hint}"
                )
            if key in values:
                raise TypeError(f"surrogate {self.name!r}: parameter {key!r} given twice")
            values[key] = value
        return {
            key: check_param(self.name, key, values[key]) if key in values else default
            for key, default in self.params
        }


@dataclass(frozen=True)
class ExecutionPath:
    """A way of running any surrogate spec.

    ``build(spec)`` returns ``fn(x, **params)``; it raises ``NotImplementedError`` with
    a reason when the path cannot serve that spec (a gap in the coverage matrix).
    ``available()`` returns ``(ok, reason)`` for paths that need something at runtime.
    ``kernels(spec)``, optional, lists which kernel serves the spec on each device kind
    (dicts with ``op``, ``surrogate``, ``device``, ``kernel``, ``reason``; see ``explain``).
    """

    name: str
    description: str
    build: Callable[[SurrogateSpec], SurrogateFn]
    available: Callable[[], tuple[bool, str]] | None = None
    kernels: Callable[[SurrogateSpec], list[dict[str, str]]] | None = None

    def __post_init__(self) -> None:
        check_name("path", self.name)
        if not callable(self.build):
            raise TypeError(f"path {self.name!r}: build must be callable, got {self.build!r}")
        if self.available is not None and not callable(self.available):
            raise TypeError(f"path {self.name!r}: available must be callable or None")
        if self.kernels is not None and not callable(self.kernels):
            raise TypeError(f"path {self.name!r}: kernels must be callable or None")


@dataclass(frozen=True)
class Implementation:
    """A hand-written ``fn(x, **params)`` for one (surrogate, path) pair; beats ``build``."""

    surrogate: str
    path: str
    fn: SurrogateFn

    def __post_init__(self) -> None:
        check_name("surrogate", self.surrogate)
        check_name("path", self.path)
        if not callable(self.fn):
            raise TypeError(f"implementation ({self.surrogate}, {self.path}): fn must be callable")


def signature_of(spec: SurrogateSpec) -> inspect.Signature:
    """The user-facing signature ``(x, p1=d1, ..., *, path=None)`` of a spec's call form."""
    parameters = [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        for key, default in spec.params
    ]
    return inspect.Signature(parameters)
