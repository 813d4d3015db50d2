"""The seed call forms: 6 built-in surrogates x (dispatcher, custom_op, legacy).

``fast_sigmoid(x, slope=25.0, *, path=None)`` follows the default path;
``fast_sigmoid_custom_op`` and ``fast_sigmoid_legacy`` pin one path.  All 18 are
:class:`~sc_neurocore.core.bound.CallForm` objects of the default registry: they name a
registered surrogate and look its spec up on first use, then call through one cached
dictionary access.
"""

from __future__ import annotations

from .bound import CallForm
from .registry import default_registry

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

_SUFFIXES = {None: "", "custom_op": "_custom_op", "legacy_autograd": "_legacy"}


def _forms(function_name: str) -> tuple[CallForm, CallForm, CallForm]:
    surrogate = CALL_FORM_NAMES[function_name]
    dispatcher, custom_op, legacy = (
        CallForm(default_registry, surrogate, path, function_name + suffix)
        for path, suffix in _SUFFIXES.items()
    )
    return dispatcher, custom_op, legacy


fast_sigmoid, fast_sigmoid_custom_op, fast_sigmoid_legacy = _forms("fast_sigmoid")
superspike, superspike_custom_op, superspike_legacy = _forms("superspike")
atan_surrogate, atan_surrogate_custom_op, atan_surrogate_legacy = _forms("atan_surrogate")
sigmoid_surrogate, sigmoid_surrogate_custom_op, sigmoid_surrogate_legacy = _forms(
    "sigmoid_surrogate"
)
straight_through, straight_through_custom_op, straight_through_legacy = _forms("straight_through")
triangular, triangular_custom_op, triangular_legacy = _forms("triangular")

# sc_neurocore/training/__init__.py repeats these names: static tools read __all__ literally.
__all__ = [
    "CALL_FORM_NAMES",
    "SURROGATE_PATHS",
    "atan_surrogate",
    "atan_surrogate_custom_op",
    "atan_surrogate_legacy",
    "fast_sigmoid",
    "fast_sigmoid_custom_op",
    "fast_sigmoid_legacy",
    "sigmoid_surrogate",
    "sigmoid_surrogate_custom_op",
    "sigmoid_surrogate_legacy",
    "straight_through",
    "straight_through_custom_op",
    "straight_through_legacy",
    "superspike",
    "superspike_custom_op",
    "superspike_legacy",
    "triangular",
    "triangular_custom_op",
    "triangular_legacy",
]
