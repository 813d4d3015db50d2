"""Python numbers as cached 0-dim tensors, for the ``out=`` arithmetic of hot kernels.

Passing a Python number to a torch op wraps it into a fresh tensor and type-promotes it
on every call, which below ~1e5 elements costs about as much as the op itself; ops such
as ``torch.addcmul(..., out=)`` also want their addend as a tensor.  A 0-dim tensor in
x's own dtype broadcasts and needs no conversion.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

_is_compiling = torch.compiler.is_compiling


def scalar_like(value: float, like: Tensor) -> Tensor:
    """``value`` as a 0-dim tensor of ``like``'s dtype and device (cached in eager mode)."""
    if _is_compiling():  # a traced graph must not capture the eager cache
        return torch.tensor(value, dtype=like.dtype, device=like.device)
    return _cached(value, like.dtype, like.device)


@lru_cache(maxsize=256)
def _cached(value: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.tensor(value, dtype=dtype, device=device)
