"""The seed's module of call forms: ``SURROGATE_PATHS`` and the 18 generated call forms.

They are defined in :mod:`sc_neurocore.core.callforms`; this module keeps the seed's
import path (``from sc_neurocore.training.surrogate import atan_surrogate``) working with
one list of names, the defining module's ``__all__``.
"""

from ..core.callforms import *  # noqa: F403
from ..core.callforms import __all__ as __all__
