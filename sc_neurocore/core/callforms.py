"""The seed call forms: 6 built-in surrogates x (dispatcher, custom_op, legacy).

``fast_sigmoid(x, slope=25.0, *, path=None)`` follows the default path;
``fast_sigmoid_custom_op`` and ``fast_sigmoid_legacy`` pin one path.  All 18 are
generated from the built-in specs, resolved through the registry once, then cached.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import Tensor
from torch.compiler import is_compiling

from ..surrogates import BUILTIN_SURROGATES
from . import registry
from .registry import _fast, resolve
from .spec import SurrogateSpec, check_param, signature_of

#: The built-in execution paths, in order of preference.
SURROGATE_PATHS: tuple[str, ...] = ("custom_op", "legacy_autograd")

#: call-form name -> registry name
CALL_FORM_NAMES: dict[str, str] = {
    "fast_sigmoid": "fast_sigmoid",
    "superspike": "superspike",
    "atan_surrogate": "atan",
    "sigmoid_surrogate": "sigmoid",
    "straight_through": "straight_through",
    "triangular": "triangular",
}

_SPECS = {spec.name: spec for spec in BUILTIN_SURROGATES}


#: What call forms resolved while Dynamo was tracing, by (name, path, default path then).
_resolved_at_trace_time: dict[tuple[str, str | None, str | None], Callable[..., Tensor]] = {}


def _resolve_eagerly(name: str, path: str | None, default: str | None) -> bool:
    cached = (name, path) in _fast
    _resolved_at_trace_time[(name, path, default)] = resolve(name, path)
    if not cached:
        # Dynamo guarded on the key being absent from the hot cache; filling it during
        # the same trace would fail that guard.  The next eager call fills it.
        _fast.pop((name, path), None)
    return True


# Dynamo calls this for real at trace time instead of tracing it: the flag is what
# torch.compiler.assume_constant_result sets, set directly so that importing this
# module does not import Dynamo.  (A function result cannot be such a constant, hence
# the side table.)
_resolve_eagerly._dynamo_marked_constant = True  # type: ignore[attr-defined]


def _resolve_uncached(name: str, path: str | None) -> Callable[..., Tensor]:
    """``resolve`` on a cache miss, also when the first call happens inside torch.compile.

    Tracing the registry's first load (a lock, an entry-point scan) would break the
    graph of a model compiled before it ever ran eagerly.
    """
    if is_compiling():
        # Reading the default here makes Dynamo guard on it: set_default_path recompiles.
        default = registry._default_path if path is None else None
        _resolve_eagerly(name, path, default)
        return _resolved_at_trace_time[(name, path, default)]
    return resolve(name, path)


def _binder(spec: SurrogateSpec) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, float]]:
    name, names = spec.name, spec.param_names

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, float]:
        if not kwargs and len(args) == len(names):
            return {key: check_param(name, key, value) for key, value in zip(names, args)}
        return spec.bind(args, kwargs)

    return bind


def _call_forms(function_name: str) -> tuple[Callable[..., Tensor], ...]:
    spec = _SPECS[CALL_FORM_NAMES[function_name]]
    name, bind = spec.name, _binder(spec)
    fast_get = _fast.get

    def dispatcher(x: Tensor, *args: Any, path: str | None = None, **kwargs: Any) -> Tensor:
        fn = fast_get((name, path)) or _resolve_uncached(name, path)
        return fn(x, **bind(args, kwargs))

    def pinned(path: str) -> Callable[..., Tensor]:
        key = (name, path)

        def call(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
            fn = fast_get(key) or _resolve_uncached(name, path)
            return fn(x, **bind(args, kwargs))

        return call

    signature = signature_of(spec)
    keyword_path = inspect.Parameter("path", inspect.Parameter.KEYWORD_ONLY, default=None)
    forms = []
    variants: tuple[tuple[str, Callable[..., Tensor], str], ...] = (
        ("", dispatcher, "the default path (see set_default_path)"),
        ("_custom_op", pinned("custom_op"), "the custom_op path"),
        ("_legacy", pinned("legacy_autograd"), "the legacy_autograd path"),
    )
    for suffix, fn, path in variants:
        fn.__name__ = fn.__qualname__ = function_name + suffix
        fn.__module__ = __name__
        fn.__doc__ = (
            f"Spike ``(x > 0)`` in x's dtype with the {name!r} surrogate gradient on {path}.\n\n"
            f"g(x): {spec.description}.  Reference: {spec.reference}."
        )
        fn.__signature__ = (  # type: ignore[attr-defined]
            signature.replace(parameters=[*signature.parameters.values(), keyword_path])
            if suffix == ""
            else signature
        )
        fn.surrogate_name = name  # type: ignore[attr-defined]
        fn.surrogate_path = None if suffix == "" else path.split()[1]  # type: ignore[attr-defined]
        forms.append(fn)
    return tuple(forms)


fast_sigmoid, fast_sigmoid_custom_op, fast_sigmoid_legacy = _call_forms("fast_sigmoid")
superspike, superspike_custom_op, superspike_legacy = _call_forms("superspike")
atan_surrogate, atan_surrogate_custom_op, atan_surrogate_legacy = _call_forms("atan_surrogate")
sigmoid_surrogate, sigmoid_surrogate_custom_op, sigmoid_surrogate_legacy = _call_forms(
    "sigmoid_surrogate"
)
straight_through, straight_through_custom_op, straight_through_legacy = _call_forms(
    "straight_through"
)
triangular, triangular_custom_op, triangular_legacy = _call_forms("triangular")

__all__ = [
    "SURROGATE_PATHS",
    "CALL_FORM_NAMES",
    "fast_sigmoid",
    "fast_sigmoid_custom_op",
    "fast_sigmoid_legacy",
    "superspike",
    "superspike_custom_op",
    "superspike_legacy",
    "atan_surrogate",
    "atan_surrogate_custom_op",
    "atan_surrogate_legacy",
    "sigmoid_surrogate",
    "sigmoid_surrogate_custom_op",
    "sigmoid_surrogate_legacy",
    "straight_through",
    "straight_through_custom_op",
    "straight_through_legacy",
    "triangular",
    "triangular_custom_op",
    "triangular_legacy",
]
