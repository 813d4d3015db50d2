"""The element-wise surrogate kernels in torch ops: the spike forward and ``grad_out * g(x)``.

These are the reference kernels every backend is checked against, and the ones that run
wherever no faster family covers a tensor.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ...core.compat import transforms_active as _transforms_active
from ...core.spec import SurrogateFn
from .scalars import scalar_like

__all__ = ["heaviside", "surrogate_backward"]


def heaviside(x: Tensor) -> Tensor:
    """``(x > 0)`` in x's dtype, shape, device and memory format."""
    if type(x) is Tensor and not _transforms_active():
        # One pass straight into a float buffer: ~6x faster than casting a bool tensor.
        return torch.gt(x, scalar_like(0.0, x), out=torch.empty_like(x))
    return (x > 0).to(x.dtype)


def surrogate_backward(
    grad: SurrogateFn,
    grad_mul: SurrogateFn | None,
    x: Tensor,
    grad_out: Tensor,
    params: dict[str, float],
) -> Tensor:
    """``grad_out * g(x)``; in place only when no graph or transform watches the backward.

    The in-place forms fold parameters into constants of x's dtype (``2 / slope``,
    ``beta**2``); where such a constant could overflow that dtype (float16 with
    ``slope=1e-6``, say) the plain formula runs instead.
    """
    if (
        grad_mul is not None
        and type(x) is Tensor
        and type(grad_out) is Tensor
        and not torch.is_grad_enabled()
        and not _transforms_active()
        and _constants_fit(x.dtype, params)
    ):
        return grad_mul(x, grad_out, **params)
    return grad_out * grad(x, **params)


def _range_of(dtype: torch.dtype) -> tuple[float, float]:
    info = torch.finfo(dtype)
    return 4 * math.sqrt(info.tiny), math.sqrt(info.max) / 4


# A plain table, not an lru_cache: torch.compile traces a dict lookup without a warning.
_SAFE_RANGES = {
    dtype: _range_of(dtype)
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
}


def _safe_range(dtype: torch.dtype) -> tuple[float, float]:
    found = _SAFE_RANGES.get(dtype)
    return _range_of(dtype) if found is None else found


def _constants_fit(dtype: torch.dtype, params: dict[str, float]) -> bool:
    """Whether products, squares and reciprocals of the parameters are finite in ``dtype``."""
    low, high = _safe_range(dtype)
    return all(low < abs(value) < high for value in params.values())
