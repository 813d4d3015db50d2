"""The fused neurons' operators (``lif``, ``leaky``) as operator kinds of the kernel selector.

Per family, when each can run: Triton on CUDA tensors (on CPU only forced, under the
interpreter), native (compiled C) on CPU float32/float64/bfloat16/float16 tensors (half
inputs computed in float32), torch everywhere.  :mod:`sc_neurocore.kernels.selector`
decides; the functions below are what the operators and the users call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..core.settings import ENV_KERNEL, KERNEL_FAMILIES, requested_kernel
from ..core.spec import SurrogateSpec
from .native.leaky import NativeLeaky, native_leaky_kernels, native_leaky_status
from .native.lif import DTYPES as NATIVE_DTYPES
from .native.lif import NativeLIF, native_lif_kernels, native_status
from .selector import SELECTOR, Chooser, Family, OperatorKind
from .triton.fused_source import load_kernels
from .triton.leaky import DTYPES as TRITON_LEAKY_DTYPES
from .triton.leaky import TritonLeaky
from .triton.lif import DTYPES as TRITON_DTYPES
from .triton.lif import TritonLIF, surrogate_expression, triton_lif_kernels
from .triton.neurons import LEAKY as LEAKY_TEMPLATE

__all__ = [
    "ENV_KERNEL",
    "KERNEL_FAMILIES",
    "LEAKY_KIND",
    "LIF_KIND",
    "FusedKernels",
    "compute_dtype",
    "fused_kernel_choice",
    "leaky_kernel_choice",
    "leaky_kernels",
    "lif_kernels",
    "requested_kernel",
]

#: What the operator calls: ``None`` means the torch kernels.
FusedKernels = NativeLIF | TritonLIF | None

#: A fused LIF operator's subject: its surrogate and its reset mode (compiled into Triton's).
LIFSubject = tuple[SurrogateSpec, str]


def _native_device(kind: str, dtype: torch.dtype) -> str:
    if kind != "cpu":
        return f"native kernels run on CPU tensors, not {kind}"
    if dtype not in NATIVE_DTYPES:
        return "native kernels take float32, float64, bfloat16 and float16 only"
    return ""


def _triton_device(kind: str, dtype: torch.dtype, dtypes: Sequence[torch.dtype]) -> str:
    reason = SELECTOR.triton_reason(kind, exact_fma=True)
    if not reason and dtype not in dtypes:
        return f"Triton kernels take float16, bfloat16, float32 and float64, not {dtype}"
    return reason


def _status(status: str) -> str:
    return "" if status == "native" else status


def _lif_triton_reason(subject: LIFSubject, kind: str, dtype: torch.dtype) -> str:
    return _triton_device(kind, dtype, TRITON_DTYPES) or surrogate_expression(subject[0])[1]


def _lif_native_reason(subject: LIFSubject, kind: str, dtype: torch.dtype) -> str:
    return _native_device(kind, dtype) or _status(native_status(subject[0]))


def _lif_native(subject: LIFSubject) -> NativeLIF:
    found = native_lif_kernels(*subject)
    assert isinstance(found, NativeLIF)
    return found


def _can(subject: Any, kind: str, dtype: torch.dtype) -> str:
    return ""


def _none(subject: Any) -> None:
    return None


#: The fused LIF operator ``sc_neurocore_fused::lif`` (subject: ``(spec, reset)``).
LIF_KIND = SELECTOR.register(
    OperatorKind(
        name="lif",
        families={
            "triton": Family(_lif_triton_reason, lambda s: triton_lif_kernels(s[0], s[1])),
            "native": Family(_lif_native_reason, _lif_native),
            "torch": Family(_can, _none),
        },
        op=lambda subject: "sc_neurocore_fused::lif",
        subjects=lambda specs: [(spec, "subtract") for spec in specs],
        label=lambda subject: subject[0].name,
        describe=lambda subject: f"the fused neuron with surrogate {subject[0].name!r}",
    )
)


def _leaky_native_reason(subject: None, kind: str, dtype: torch.dtype) -> str:
    return _native_device(kind, dtype) or _status(native_leaky_status())


def _leaky_native(subject: None) -> NativeLeaky:
    found = native_leaky_kernels()
    assert isinstance(found, NativeLeaky)
    return found


#: The fused leaky integrator ``sc_neurocore_fused::leaky`` (no surrogate: one subject).
LEAKY_KIND = SELECTOR.register(
    OperatorKind(
        name="leaky",
        families={
            "triton": Family(
                lambda s, kind, dtype: _triton_device(kind, dtype, TRITON_LEAKY_DTYPES),
                lambda s: TritonLeaky(load_kernels(LEAKY_TEMPLATE)),
            ),
            "native": Family(
                _leaky_native_reason,
                _leaky_native,
            ),
            "torch": Family(_can, _none),
        },
        op=lambda subject: "sc_neurocore_fused::leaky",
        subjects=lambda specs: [None],
        label=lambda subject: "",
        describe=lambda subject: "the fused leaky integrator",
    )
)

#: (spec, reset) -> the decisions of that fused LIF operator's calls.
_lif_choosers: dict[LIFSubject, Chooser] = {}
_leaky_chooser = SELECTOR.chooser(LEAKY_KIND, None)


def lif_kernels(spec: SurrogateSpec, x: Tensor, reset: str = "subtract") -> FusedKernels:
    """The kernels that run the fused LIF for ``spec`` on ``x`` (``None``: torch kernels);
    :class:`~sc_neurocore.core.errors.KernelUnavailableError` where the forced family can't."""
    subject = (spec, reset)
    chooser = _lif_choosers.get(subject)
    if chooser is None:
        chooser = _lif_choosers.setdefault(subject, SELECTOR.chooser(LIF_KIND, subject))
    kernels: FusedKernels = chooser.kernels(x)
    return kernels


def leaky_kernels(x: Tensor) -> TritonLeaky | NativeLeaky | None:
    """The kernels of the fused leaky integrator on ``x`` (``None``: torch kernels)."""
    kernels: TritonLeaky | NativeLeaky | None = _leaky_chooser.kernels(x)
    return kernels


def fused_kernel_choice(spec: SurrogateSpec, device: str) -> tuple[str, str]:
    """``(kernel, reason)`` for the fused LIF with ``spec`` on a float32 ``device`` tensor.

    ``kernel`` is ``"triton"``, ``"native"``, ``"torch"`` or ``"error"``; ``reason`` says why
    the faster ones do not run ('' when the fastest for that device runs).  Checking may
    build kernels.
    """
    found = SELECTOR.decide(LIF_KIND, (spec, "subtract"), torch.device(device).type, torch.float32)
    return found.family, found.reason


def leaky_kernel_choice(device: str) -> tuple[str, str]:
    """``(kernel, reason)`` for the fused leaky integrator on a float32 ``device`` tensor."""
    found = SELECTOR.decide(LEAKY_KIND, None, torch.device(device).type, torch.float32)
    return found.family, found.reason


def compute_dtype(kernels: object, dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernels compute in: every fused family's kernels (Triton, native: the
    one calling convention) lift float16/bfloat16 to float32; ``None``, the torch kernels,
    compute in what they are given."""
    if kernels is not None and dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype
