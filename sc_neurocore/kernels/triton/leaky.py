"""Triton kernels of the fused leaky integrator ``y_t = decay * y_{t-1} + x_t``.

The same generated kernels as the fused LIF (:mod:`.fused_source`), with the non-spiking
template :data:`~.neurons.LEAKY`: the forward writes the membrane at every step, the backward
reads it back from the saved output (nothing to recompute) and walks time in reverse, summing
``dL/ddecay`` per element.  :class:`TritonLeaky` has the interface the operator
``sc_neurocore_fused::leaky`` needs; see :mod:`sc_neurocore.kernels.torch.leaky` for the math.
"""

from __future__ import annotations

from types import ModuleType

import torch
from torch import Tensor

from .fused_source import load_kernels
from .launch import (
    BLOCK,
    SCALAR,
    compute_dtype,
    device_status,
    grid,
    launch_options,
    on_device,
    parameter,
)
from .neurons import LEAKY

__all__ = ["TritonLeaky", "triton_leaky", "triton_leaky_status"]

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class TritonLeaky:
    """The leaky integrator's Triton kernels; inputs are checked by the caller."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def forward(self, x: Tensor, y0: Tensor | None, decay: Tensor | float) -> Tensor:
        """The filtered sequence ``y``, a fresh contiguous tensor like ``x``."""
        x = x.contiguous()
        steps, n = x.shape[0], x[0].numel()
        y = torch.empty_like(x)
        if n == 0:
            return y
        decay_array, decay_stride, decay_value = parameter(decay, x)
        # no threshold and no reset: scalar arguments, nothing read
        with on_device(x):
            self.module.forward[grid(n)](
                x, x if y0 is None else y0.to(x.dtype).contiguous(), decay_array, x, x,
                y, torch.empty_like(x[0]), steps, n, decay_stride, SCALAR, SCALAR,
                decay_value, 0.0, 0.0,
                HAS_V0=y0 is not None, COMPUTE=compute_dtype(x.dtype), BLOCK=BLOCK,
                **launch_options("forward", x.dtype),
            )  # fmt: skip
        return y

    def backward(
        self, grad_y: Tensor, y: Tensor, y0: Tensor | None, decay: Tensor | float, sums: bool
    ) -> tuple[Tensor, Tensor | None]:
        """``(dL/dx, per-element float64 dL/ddecay or None)``."""
        y = y.contiguous()
        steps, n = y.shape[0], y[0].numel()
        grad_x = torch.empty_like(y)
        summed = torch.zeros(y.shape[1:], dtype=torch.float64, device=y.device) if sums else None
        if n == 0:
            return grad_x, summed
        broadcast = all(stride == 0 for stride in grad_y.stride())
        grad_y = (grad_y.reshape(-1)[:1] if broadcast else grad_y).to(y.dtype).contiguous()
        decay_array, decay_stride, decay_value = parameter(decay, y)
        zeros = torch.zeros(y.shape[1:], dtype=y.dtype, device=y.device)  # no final-state grad
        compute = torch.float64 if y.dtype == torch.float64 else torch.float32
        # Every buffer the kernel writes is passed once: dL/dthreshold (meaningless here) gets
        # its own scratch where sums are written, an empty one where they are not.
        sum_beta = summed if summed is not None else y.new_empty(0, dtype=torch.float64)
        sum_threshold = torch.empty_like(sum_beta)
        with on_device(y):
            self.module.backward_saved[grid(n)](
                grad_y, 0 if broadcast else 1, zeros,
                y if y0 is None else y0.to(y.dtype).contiguous(), decay_array, y, y,
                y.to(compute), grad_x, sum_beta, sum_threshold,
                steps, n, decay_stride, SCALAR, SCALAR, decay_value, 0.0, 0.0, 0.0,
                HAS_V0=y0 is not None, SUMS=sums, COMPUTE=compute_dtype(y.dtype), BLOCK=BLOCK,
                **launch_options("backward saved", y.dtype),
            )  # fmt: skip
        return grad_x, summed


def triton_leaky(x: Tensor) -> TritonLeaky | None:
    """The leaky integrator's Triton kernels if they can run on ``x``, else ``None``."""
    if x.dtype not in DTYPES or device_status(x.device) is not None:
        return None
    return TritonLeaky(load_kernels(LEAKY))


def triton_leaky_status(device: torch.device | str) -> str:
    """``"triton"`` if the leaky integrator runs Triton kernels on ``device``, else why not."""
    return device_status(device) or "triton"
