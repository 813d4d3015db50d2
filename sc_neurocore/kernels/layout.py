"""Putting the tensors of an element-wise kernel into one linear layout.

The compiled and the Triton kernels walk flat memory: element ``i`` of the input, of
``grad_out`` and of the output sit at the same offset.  The output is allocated like
torch allocates ``(x > 0).to(x.dtype)`` (``empty_like``: x's strides when x is dense,
channels-last and transposed included, else contiguous); any operand whose strides
differ is copied into that layout first.  A ``grad_out`` expanded from one value (the
gradient of ``y.sum()``, every stride 0) is not copied: the kernels read its one element.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["broadcast_value", "in_layout_of", "is_dense", "one_value", "owned_pointer"]


def in_layout_of(t: Tensor, like: Tensor) -> Tensor:
    """``t`` (same shape as ``like``) with ``like``'s dtype and strides, copied only if needed."""
    if t.dtype == like.dtype and t.stride() == like.stride():
        return t
    return torch.empty_like(like).copy_(t)


def broadcast_value(t: Tensor) -> bool:
    """Whether every element of ``t`` is one stored value (all strides 0, non-empty)."""
    return t.dim() > 0 and t.numel() > 0 and not any(t.stride())


def one_value(t: Tensor, dtype: torch.dtype) -> Tensor:
    """The one stored value of a broadcast ``t`` as a 1-element ``dtype`` tensor (no expansion)."""
    return t.as_strided((1,), (1,)).to(dtype)


def is_dense(t: Tensor) -> bool:
    """Whether ``t``'s elements fill ``numel`` consecutive slots from its data pointer."""
    expected = 1
    for size, stride in sorted(zip(t.shape, t.stride()), key=lambda pair: pair[1]):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def owned_pointer(
    owner: str,
    name: str,
    tensor: Tensor,
    dtype: torch.dtype,
    numel: int,
    *,
    contiguous: bool = True,
) -> int:
    """``tensor``'s address, only for memory a C loop of ``owner`` may read or write as
    ``numel`` contiguous CPU elements of ``dtype`` (never a meta, fake, strided or short
    tensor): native code never receives a pointer it does not own."""
    if (
        type(tensor) is not Tensor
        or tensor.device.type != "cpu"
        or tensor.dtype != dtype
        or tensor.numel() != numel
        or (contiguous and not tensor.is_contiguous())
    ):
        raise RuntimeError(
            f"{owner}: refusing to pass {name} ({type(tensor).__name__} on "
            f"{tensor.device}, {tensor.dtype}, {tensor.numel()} elements) where {numel} "
            f"contiguous CPU {dtype} elements are needed"
        )
    return tensor.data_ptr()
