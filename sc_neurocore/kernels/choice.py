"""Which kernels run a surrogate's element-wise operator, under the one kernel switch.

The switch lives in :mod:`sc_neurocore.core.settings` (re-exported here).  Unset, the
fastest family that can run does: Triton on CUDA tensors, the compiled C kernels on CPU
float32/float64 tensors, the torch kernels otherwise.
``SC_NEUROCORE_KERNEL=torch|native|triton`` (or :func:`set_kernel` at run time, which
takes precedence) forces one family everywhere it is asked; where the forced family
cannot run a call raises :class:`KernelUnavailableError` naming the reason, instead of
silently running another.  With ``TRITON_INTERPRET=1``, ``triton`` sends CPU tensors
through Triton's interpreter (how CI tests the Triton kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..core.errors import KernelUnavailableError
from ..core.settings import ENV_KERNEL, KERNEL_FAMILIES, requested_kernel, set_kernel, use_kernel
from ..core.spec import SurrogateSpec
from .native.elementwise import DTYPES as NATIVE_DTYPES
from .native.elementwise import NativeElementwise, native_elementwise
from .native.lif import native_enabled
from .torch.surrogate import heaviside, surrogate_backward
from .triton.launch import interpreting, triton_missing

__all__ = [
    "ENV_KERNEL",
    "KERNEL_FAMILIES",
    "ElementwiseDispatch",
    "ElementwiseKernels",
    "KernelUnavailableError",
    "requested_kernel",
    "set_kernel",
    "triton_reason",
    "use_kernel",
]


def triton_reason(spec: SurrogateSpec, kind: str) -> str:
    """'' if the element-wise Triton kernels of ``spec`` can run on ``kind`` tensors, else why."""
    if spec.formula is None:
        return f"surrogate {spec.name!r} has no formula (plugin API 1 spec: torch kernels)"
    if kind == "cpu" and not interpreting():
        return "Triton kernels run on CUDA tensors (CPU tensors only under TRITON_INTERPRET=1)"
    if kind == "cuda" and interpreting():
        return "TRITON_INTERPRET=1 runs Triton on CPU tensors only"
    if kind not in ("cpu", "cuda"):
        return f"no Triton kernels for {kind} tensors"
    missing = triton_missing()
    if missing:
        return missing
    if kind == "cuda" and not torch.cuda.is_available():
        return "CUDA is not available"
    return ""


def native_reason(spec: SurrogateSpec, kind: str, dtype: torch.dtype) -> str:
    """'' if the compiled element-wise kernels of ``spec`` run on such tensors, else why."""
    if kind != "cpu":
        return f"compiled kernels run on CPU tensors, not {kind}"
    if dtype not in NATIVE_DTYPES:
        return f"compiled kernels take float32 and float64, not {dtype}"
    if not native_enabled():
        return "compiled kernels are disabled (SC_NEUROCORE_NATIVE=0 or set_native_enabled)"
    found = native_elementwise(spec)
    return found if isinstance(found, str) else ""


@dataclass(frozen=True)
class ElementwiseKernels:
    """One family's spike ``fn(x)`` and backward ``fn(x, grad_out, params)`` for a spec."""

    family: str
    spike: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, tuple[float, ...]], Tensor]


class ElementwiseDispatch:
    """Picks and caches the kernels of one spec per (device kind, dtype, forced family)."""

    def __init__(self, spec: SurrogateSpec) -> None:
        self.spec = spec
        self._cache: dict[tuple[Any, ...], ElementwiseKernels | str] = {}
        grad, grad_mul, names = spec.grad, spec.grad_mul, spec.param_names

        def torch_backward(x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
            return surrogate_backward(grad, grad_mul, x, grad_out, dict(zip(names, params)))

        self.torch = ElementwiseKernels("torch", heaviside, torch_backward)

    def kernels(self, x: Tensor) -> ElementwiseKernels:
        """The kernels for ``x``; raises :class:`KernelUnavailableError` where forced can't run."""
        # The key avoids building a torch.device per call (the hot path of small tensors).
        key = (x.dtype, x.is_cpu, x.is_cuda, requested_kernel(), native_enabled())
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._choose(x.device.type, x.dtype, key[3])
        if isinstance(found, str):
            raise KernelUnavailableError(found)
        return found

    def choice(self, kind: str, dtype: torch.dtype = torch.float32) -> tuple[str, str]:
        """``(family, reason)`` for a ``kind``/``dtype`` tensor: the family that runs (or
        ``"error"``) and why a faster one does not ('' when the fastest runs)."""
        family = requested_kernel()
        found = self._choose(kind, dtype, family)
        if isinstance(found, str):
            return "error", found
        if family is not None:
            return found.family, f"forced by {ENV_KERNEL}={family}"
        if found.family == "torch":
            fast = native_reason if kind == "cpu" else None
            reason = fast(self.spec, kind, dtype) if fast else triton_reason(self.spec, kind)
            return "torch", reason
        return found.family, ""

    def _choose(
        self, kind: str, dtype: torch.dtype, family: str | None
    ) -> ElementwiseKernels | str:
        spec = self.spec
        if family == "torch":
            return self.torch
        if family == "triton" or (family is None and kind == "cuda"):
            reason = triton_reason(spec, kind)
            if not reason:
                return self._triton()
            if family == "triton":
                return self._refusal("triton", kind, dtype, reason)
            return self.torch
        reason = native_reason(spec, kind, dtype)
        if not reason:
            found = native_elementwise(spec)
            assert isinstance(found, NativeElementwise)
            return ElementwiseKernels("native", found.spike, found.backward)
        if family == "native":
            return self._refusal("native", kind, dtype, reason)
        return self.torch

    def _refusal(self, family: str, kind: str, dtype: torch.dtype, reason: str) -> str:
        return (
            f"{ENV_KERNEL}={family}: surrogate {self.spec.name!r} cannot run {family} kernels "
            f"on a {kind} {dtype} tensor: {reason}"
        )

    def _triton(self) -> ElementwiseKernels:
        from .triton import elementwise

        formula = self.spec.parsed_formula()
        assert formula is not None

        def backward(x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
            return elementwise.backward(formula, x, grad_out, params)

        return ElementwiseKernels("triton", elementwise.spike, backward)
