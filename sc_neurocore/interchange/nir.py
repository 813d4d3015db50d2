"""NIR export and import: :func:`to_nir` and :func:`from_nir` (needs the ``nir`` extra).

See docs/interchange.md for the conventions; the discretisation lives in
:mod:`sc_neurocore.interchange.discretisation`.
"""

from .discretisation import METHODS
from .nir_export import NIRMetadataWarning, to_nir
from .nir_import import NIRSpecWarning, NIRTimeStepWarning, from_nir
from .nir_layers import AvgPool2d, SumPool2d
from .nir_modules import ContinuousNeuron, Delay, NIRModule, Scale, Threshold

__all__ = [
    "METHODS",
    "AvgPool2d",
    "ContinuousNeuron",
    "Delay",
    "NIRMetadataWarning",
    "NIRModule",
    "NIRSpecWarning",
    "NIRTimeStepWarning",
    "Scale",
    "SumPool2d",
    "Threshold",
    "from_nir",
    "to_nir",
]
