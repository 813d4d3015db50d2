"""GPU kernels written in Triton, generated from each surrogate's formula.

A formula's Triton expression (:meth:`sc_neurocore.core.formula.Formula.triton`) calls
the helpers below where ``triton.language`` has no such function.  They are loaded on
first access (``from sc_neurocore.kernels.triton import sc_atan``), so importing this
package does not need ``triton`` (the ``triton`` extra) until a kernel is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["sc_atan", "sc_cosh", "sc_pow", "sc_tanh"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module(".helpers", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
