"""``sc_neurocore.nir``: the NIR interchange under the name the issue and Norse use
(the same objects as :mod:`sc_neurocore.interchange.nir`)."""

from .interchange.nir import *  # noqa: F403 - this module is that one's alias
from .interchange.nir import __all__ as __all__
