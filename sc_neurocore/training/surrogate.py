"""The seed's module of call forms: ``SURROGATE_PATHS`` and the 18 generated call forms.

They are defined in :mod:`sc_neurocore.core.callforms`; this module keeps the seed's
import path (``from sc_neurocore.training.surrogate import atan_surrogate``) working.
"""

from ..core.callforms import (
    CALL_FORM_NAMES,
    SURROGATE_PATHS,
    atan_surrogate,
    atan_surrogate_custom_op,
    atan_surrogate_legacy,
    fast_sigmoid,
    fast_sigmoid_custom_op,
    fast_sigmoid_legacy,
    sigmoid_surrogate,
    sigmoid_surrogate_custom_op,
    sigmoid_surrogate_legacy,
    straight_through,
    straight_through_custom_op,
    straight_through_legacy,
    superspike,
    superspike_custom_op,
    superspike_legacy,
    triangular,
    triangular_custom_op,
    triangular_legacy,
)

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
