"""Models that leave the training script: reloadable exported programs, NIR, ONNX.

``import sc_neurocore`` imports only :mod:`.operators` from here; the NIR and ONNX
modules import their optional dependencies (``nir``, ``onnx``...) when used.
"""

from .operators import define_operator, install_operator_lookup

__all__ = ["define_operator", "install_operator_lookup"]
