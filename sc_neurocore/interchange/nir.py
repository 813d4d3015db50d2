"""NIR export and import: :func:`to_nir` and :func:`from_nir` (needs the ``nir`` extra).

See docs/interchange.md for the conventions; the discretisation lives in
:mod:`sc_neurocore.interchange.discretisation`.
"""

from .discretisation import METHODS
from .nir_export import NIRMetadataWarning, to_nir
from .nir_import import from_nir
from .nir_modules import ContinuousNeuron, NIRModule, Scale, Threshold

__all__ = [
    "METHODS",
    "ContinuousNeuron",
    "NIRMetadataWarning",
    "NIRModule",
    "Scale",
    "Threshold",
    "from_nir",
    "to_nir",
]
