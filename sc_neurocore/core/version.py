"""The release of this source tree (``sc_neurocore.__version__``)."""

__version__ = "0.1.0"
"""The release of this source tree; also the distribution's version."""
