"""Which kernels run a fused multi-step neuron: Triton, compiled C or torch, and why.

Unset, the fastest that can run does: Triton on CUDA tensors, the compiled C kernels on
CPU float32/float64/bfloat16/float16 (half inputs computed in float32), the torch kernels
otherwise.  ``SC_NEUROCORE_KERNEL=torch|native|triton``
forces one family; where the forced family cannot run the call raises, naming the reason,
instead of silently running another (``TRITON_INTERPRET=1`` with ``triton`` sends CPU
tensors through the Triton interpreter, which is how CI tests these kernels).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import Tensor

from ..core.errors import KernelUnavailableError
from ..core.spec import SurrogateSpec
from .choice import ENV_KERNEL, KERNEL_FAMILIES, requested_kernel
from .native.leaky import NativeLeaky, native_leaky, native_leaky_status
from .native.lif import DTYPES as NATIVE_DTYPES
from .native.lif import NativeLIF, native_lif, native_status
from .report import DEVICE_KINDS, KernelChoice, register_kernel_report
from .triton.leaky import TritonLeaky, triton_leaky, triton_leaky_status
from .triton.lif import DTYPES as TRITON_DTYPES
from .triton.lif import TritonLIF, triton_lif, triton_status

__all__ = [
    "ENV_KERNEL",
    "KERNEL_FAMILIES",
    "FusedKernels",
    "compute_dtype",
    "fused_kernel_choice",
    "leaky_kernel_choice",
    "leaky_kernels",
    "fused_kernel_rows",
    "leaky_kernel_rows",
    "lif_kernels",
    "requested_kernel",
]

#: What the operator calls: ``None`` means the torch kernels.
FusedKernels = NativeLIF | TritonLIF | None


def _refuse(family: str, spec: SurrogateSpec, x: Tensor, reason: str) -> KernelUnavailableError:
    return KernelUnavailableError(
        f"{ENV_KERNEL}={family}: the fused neuron with surrogate {spec.name!r} cannot run "
        f"{family} kernels on this {x.device.type} {x.dtype} tensor: {reason}"
    )


def _native_reason(spec: SurrogateSpec, x: Tensor) -> str:
    if x.device.type != "cpu":
        return "compiled kernels run on CPU tensors only"
    if x.dtype not in NATIVE_DTYPES:
        return "compiled kernels take float32, float64, bfloat16 and float16 only"
    return native_status(spec)


def lif_kernels(spec: SurrogateSpec, x: Tensor, reset: str = "subtract") -> FusedKernels:
    """The kernels that run the fused LIF for ``spec`` on ``x`` (``None``: torch kernels)."""
    family = requested_kernel()
    if family == "torch":
        return None
    if family in (None, "triton") and (x.device.type == "cuda" or family == "triton"):
        found = triton_lif(spec, x, reset)
        if found is None and family == "triton":
            raise _refuse("triton", spec, x, triton_status(spec, x.device))
        if found is not None or x.device.type == "cuda":
            return found
    native = native_lif(spec, x, reset)
    if native is None and family == "native":
        raise _refuse("native", spec, x, _native_reason(spec, x))
    return native


def _leaky_native_reason(x: Tensor) -> str:
    if x.device.type != "cpu":
        return "compiled kernels run on CPU tensors only"
    if x.dtype not in NATIVE_DTYPES:
        return "compiled kernels take float32, float64, bfloat16 and float16 only"
    return native_leaky_status()


def leaky_kernels(x: Tensor) -> TritonLeaky | NativeLeaky | None:
    """The kernels of the fused leaky integrator on ``x`` (``None``: torch kernels).

    Triton on CUDA (or forced, on CPU under the interpreter); the compiled C kernels on CPU
    float32/float64/bfloat16/float16 (research's addition to this dispatcher).
    """
    family = requested_kernel()
    if family == "torch":
        return None
    if family == "native" or (family is None and x.device.type != "cuda"):
        # One branch per kernel family, each with its own refusal message.
        native = native_leaky(x)
        if native is None and family == "native":
            raise KernelUnavailableError(
                f"{ENV_KERNEL}=native: the fused leaky integrator cannot run compiled kernels "
                f"on this {x.device.type} {x.dtype} tensor: {_leaky_native_reason(x)}"
            )
        return native
    found = triton_leaky(x)
    if found is None and family == "triton":
        raise KernelUnavailableError(
            f"{ENV_KERNEL}=triton: the fused leaky integrator cannot run triton kernels on this "
            f"{x.device.type} {x.dtype} tensor: {triton_leaky_status(x.device)}"
        )
    return found


def leaky_kernel_choice(device: str) -> tuple[str, str]:
    """``(kernel, reason)`` for the fused leaky integrator on a ``device`` tensor."""
    family = requested_kernel()
    kind = torch.device(device).type
    if family == "torch":
        return "torch", f"forced by {ENV_KERNEL}=torch"
    if family == "triton" or (kind == "cuda" and family != "native"):
        status = triton_leaky_status(kind)
        if status == "triton":
            return "triton", f"forced by {ENV_KERNEL}=triton" if kind == "cpu" else ""
        return ("error" if family == "triton" else "torch"), status
    status = native_leaky_status() if kind == "cpu" else f"no compiled kernels for {kind}"
    if status == "compiled":
        return "native", ""
    return ("error" if family == "native" else "torch"), status


def compute_dtype(kernels: object, dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernels compute in: Triton and the compiled kernels lift
    float16/bfloat16 to float32 (the torch kernels compute in what they are given)."""
    lifting = isinstance(kernels, (TritonLIF, TritonLeaky, NativeLIF, NativeLeaky))
    if lifting and dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def fused_kernel_choice(spec: SurrogateSpec, device: str) -> tuple[str, str]:
    """``(kernel, reason)`` for the fused LIF with ``spec`` on a float32 ``device`` tensor.

    ``kernel`` is ``"triton"``, ``"native"`` or ``"torch"``; ``reason`` says why the faster
    ones do not run ('' when the fastest for that device runs).  Checking may build kernels.
    """
    family = requested_kernel()
    kind = torch.device(device).type
    if family == "torch":
        return "torch", f"forced by {ENV_KERNEL}=torch"
    if family == "triton" or kind == "cuda":
        status = triton_status(spec, kind)
        if status == "triton":
            return "triton", f"forced by {ENV_KERNEL}=triton" if kind == "cpu" else ""
        if family == "triton":
            return "error", f"{ENV_KERNEL}=triton cannot run here: {status}"
        return "torch", status
    status = native_status(spec) if kind == "cpu" else f"no compiled kernels for {kind}"
    if status == "compiled":
        return "native", ""
    if family == "native":
        return "error", f"{ENV_KERNEL}=native cannot run here: {status}"
    return "torch", status


#: The floating dtypes the listing probes, and their short names.
LISTED_DTYPES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
}


def kernel_dtypes(kernel: str, runs: object) -> str:
    """The input dtypes ``kernel`` takes as they are: on CPU asked of the dispatch itself
    (``runs(probe)`` is not ``None`` for a one-element tensor of the dtype), on CUDA from
    the table Triton's dispatch reads."""
    if kernel == "torch":
        return "any floating (bf16/fp16 computed in float32)"
    if kernel == "triton":
        return ", ".join(name for dtype, name in LISTED_DTYPES.items() if dtype in TRITON_DTYPES)
    if kernel != "native" or not callable(runs):
        return ""
    probes = {dtype: torch.zeros(1, 1, dtype=dtype) for dtype in LISTED_DTYPES}
    taken = [dtype for dtype, probe in probes.items() if runs(probe) is not None]
    return ", ".join(LISTED_DTYPES[dtype] for dtype in taken)


@register_kernel_report
def fused_kernel_rows(specs: Sequence[SurrogateSpec]) -> list[KernelChoice]:
    """The fused LIF operator's rows for the kernel listing: one per surrogate and device."""
    rows = []
    for spec in specs:
        for device in DEVICE_KINDS:
            kernel, reason = fused_kernel_choice(spec, device)
            dtypes = kernel_dtypes(kernel, functools.partial(native_lif, spec))
            op = "sc_neurocore_fused::lif"
            rows.append(KernelChoice(op, spec.name, device, kernel, reason, dtypes))
    return rows


@register_kernel_report
def leaky_kernel_rows(specs: Sequence[SurrogateSpec]) -> list[KernelChoice]:
    """The fused leaky integrator's rows (no surrogate: one per device kind)."""
    op, rows = "sc_neurocore_fused::leaky", []
    for device in DEVICE_KINDS:
        kernel, reason = leaky_kernel_choice(device)
        dtypes = kernel_dtypes(kernel, native_leaky)
        rows.append(KernelChoice(op, "", device, kernel, reason, dtypes))
    return rows
