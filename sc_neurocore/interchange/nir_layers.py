"""The stateless and delay nodes of NIR 1.0 as torch modules, and the one function that
builds any non-neuron node (:func:`layer_of`).

Each module's docstring gives the equation of the NIR node it runs (the installed ``nir``
package's docstrings are the spec); ``x`` is one time step ``(batch, C, H, W)`` or
``(batch, ...)``.  Shapes follow NIR's ``calculate_conv_output``:
``out = floor((n + 2*p - d*(k - 1) - 1) / s) + 1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .discretisation import delay_steps
from .nir_modules import Delay, Scale, Threshold

__all__ = ["LAYERS", "AvgPool2d", "SumPool2d", "conv_padding", "layer_of"]


def _pair(value: Any, name: str) -> tuple[int, int]:
    """A NIR size (int, 1- or 2-element array) as two non-negative ints, else an error."""
    array = np.atleast_1d(np.asarray(value))
    if array.size not in (1, 2) or not np.all(array == np.round(array)) or np.any(array < 0):
        raise ValueError(f"{name} must be one or two non-negative integers, got {value!r}")
    first, second = (int(item) for item in np.broadcast_to(array, (2,)))
    return first, second


class SumPool2d(nn.Module):
    """NIR ``SumPool2d``: ``y[c, i, j] = sum_{m<k_h, n<k_w} x_pad[c, s_h*i + m, s_w*j + n]``.

    ``x_pad`` is ``x`` with ``p_h``/``p_w`` zeros on each side; a window sums its inputs
    (a spike count, for spikes).  ``kernel_size``, ``stride`` and ``padding`` are kept as
    the file gave them, so a re-export writes them back unchanged.
    """

    divide = False

    def __init__(self, kernel_size: Any, stride: Any, padding: Any) -> None:
        super().__init__()
        self.nir_fields = {"kernel_size": kernel_size, "stride": stride, "padding": padding}
        self.kernel = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if 0 in self.kernel or 0 in self.stride:
            raise ValueError(
                f"{type(self).__name__}: kernel_size and stride must be positive, got "
                f"kernel_size={kernel_size!r}, stride={stride!r}"
            )
        if any(2 * p > k for p, k in zip(self.padding, self.kernel)):
            raise ValueError(
                f"{type(self).__name__}: padding {padding!r} is more than half the kernel "
                f"{kernel_size!r} (a window of padding only)"
            )

    def forward(self, x: Tensor) -> Tensor:
        # divisor_override=1: the window's sum itself, not a mean multiplied back (inexact)
        divisor = None if self.divide else 1
        return F.avg_pool2d(x, self.kernel, self.stride, self.padding, divisor_override=divisor)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(SumPool2d):
    """NIR ``AvgPool2d``: ``y[c, i, j] = (1/(k_h*k_w)) sum_{m<k_h, n<k_w} x_pad[c, s_h*i + m,
    s_w*j + n]``: the sum pool over the kernel's area, padding zeros counted (torch's
    ``count_include_pad=True``; the exporters that write NIR refuse the other form)."""

    divide = True


def conv_padding(padding: Any, dimensions: int) -> int | tuple[int, ...] | str:
    """A NIR padding (int, ints, ``"same"``/``"valid"``, or the bytes a file gives back)
    in the form torch's convolutions take."""
    if isinstance(padding, (bytes, np.bytes_)):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid' or integers, got {padding!r}")
        return padding
    sizes = tuple(int(item) for item in np.atleast_1d(np.asarray(padding)))
    return sizes[0] if dimensions == 1 else _pair(sizes, "padding")


def _ints(value: Any, dimensions: int) -> int | tuple[int, ...]:
    sizes = tuple(int(item) for item in np.atleast_1d(np.asarray(value)))
    return sizes[0] if dimensions == 1 else _pair(sizes, "stride/dilation")


def _conv(node: Any, kind: str, dtype: torch.dtype) -> nn.Module:
    """NIR ``Conv1d``/``Conv2d``: ``y[o, i] = b[o] + sum_{c, k} w[o, c, k] *
    x_pad[g(o)*C_in/groups + c, s*i + d*k]`` (per spatial dim; ``g(o)`` is the group of
    output channel ``o``): torch's convolution, built from the node's own fields."""
    weight = torch.as_tensor(np.asarray(node.weight), dtype=dtype)
    dimensions = 1 if kind == "Conv1d" else 2
    stride = _ints(node.stride, dimensions)
    padding = conv_padding(node.padding, dimensions)
    if padding == "same" and np.any(np.asarray(stride) != 1):
        raise ValueError(
            f"{kind}: padding='same' with stride={stride} has no unique meaning (NIR keeps the "
            "input size, torch refuses it); write the padding as integers"
        )
    layer = (nn.Conv1d if dimensions == 1 else nn.Conv2d)(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        tuple(weight.shape[2:]),  # type: ignore[arg-type]
        stride=stride,  # type: ignore[arg-type]
        padding=padding,  # type: ignore[arg-type]
        dilation=_ints(node.dilation, dimensions),  # type: ignore[arg-type]
        groups=int(node.groups),
        dtype=dtype,
    )
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(torch.as_tensor(np.asarray(node.bias)))  # type: ignore[union-attr]
    return layer


def _affine(node: Any, bias: bool, dtype: torch.dtype) -> nn.Module:
    """NIR ``Affine``: ``y = W x + b``; ``Linear``: ``y = W x``."""
    weight = torch.as_tensor(np.asarray(node.weight), dtype=dtype)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias, dtype=dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if layer.bias is not None:
            layer.bias.copy_(torch.as_tensor(np.asarray(node.bias)))
    return layer


def _flatten(node: Any) -> nn.Module:
    """NIR ``Flatten``: dims ``start_dim..end_dim`` of one sample merged into one.  NIR's
    dims exclude the batch; torch's include it (a negative dim counts from the end)."""
    start, end = int(node.start_dim), int(node.end_dim)
    return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)


#: The NIR node types layer_of builds (the neurons are built in nir_import).
LAYERS: tuple[str, ...] = ("Input", "Output", "Identity", "Affine", "Linear", "Scale")
LAYERS += ("Threshold", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Delay")


def layer_of(node: Any, dt: float, dtype: torch.dtype, surrogate: Any) -> nn.Module:
    """The module that runs one non-neuron NIR node (``NotImplementedError`` for others)."""
    kind = type(node).__name__
    if kind in ("Input", "Output", "Identity"):
        return nn.Identity()
    if kind in ("Affine", "Linear"):
        return _affine(node, kind == "Affine", dtype)
    if kind == "Scale":
        return Scale(np.asarray(node.scale))
    if kind == "Threshold":
        return Threshold(np.asarray(node.threshold), surrogate)
    if kind == "Flatten":
        return _flatten(node)
    if kind in ("Conv1d", "Conv2d"):
        return _conv(node, kind, dtype)
    if kind in ("SumPool2d", "AvgPool2d"):
        pool = SumPool2d if kind == "SumPool2d" else AvgPool2d
        return pool(node.kernel_size, node.stride, node.padding)
    if kind == "Delay":
        return Delay(node.delay, delay_steps(node.delay, dt))
    raise NotImplementedError(f"from_nir: NIR node type {kind} is not supported")
