"""The element-wise surrogate operators as an operator kind of the kernel selector.

Each surrogate's ``sc_neurocore::<name>`` operator runs Triton kernels (CUDA, from the
spec's formula), native kernels (compiled C, CPU float32/float64, from its ``c_grad``) or
torch kernels; :mod:`sc_neurocore.kernels.selector` decides which, here are the rules per
family.  The switch (``SC_NEUROCORE_KERNEL``, :func:`set_kernel`, :func:`use_kernel`) is
re-exported for the callers that import it from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..core.errors import KernelUnavailableError
from ..core.settings import ENV_KERNEL, KERNEL_FAMILIES, requested_kernel, set_kernel, use_kernel
from ..core.spec import SurrogateSpec
from .native.elementwise import DTYPES as NATIVE_DTYPES
from .native.elementwise import NativeElementwise, native_elementwise
from .native.runtime import DISABLED
from .selector import DEVICE_KINDS, SELECTOR, Chooser, Family, OperatorKind
from .torch.surrogate import heaviside, surrogate_backward

__all__ = [
    "ELEMENTWISE_KIND",
    "ENV_KERNEL",
    "KERNEL_FAMILIES",
    "ElementwiseDispatch",
    "ElementwiseKernels",
    "KernelUnavailableError",
    "native_reason",
    "requested_kernel",
    "set_kernel",
    "triton_reason",
    "use_kernel",
]


@dataclass(frozen=True)
class ElementwiseKernels:
    """One family's spike ``fn(x)`` and backward ``fn(x, grad_out, params)`` for a spec."""

    family: str
    spike: Callable[[Tensor], Tensor]
    backward: Callable[[Tensor, Tensor, tuple[float, ...]], Tensor]


def triton_reason(spec: SurrogateSpec, kind: str, dtype: torch.dtype = torch.float32) -> str:
    """'' if the element-wise Triton kernels of ``spec`` can run on ``kind`` tensors, else why."""
    if spec.formula is None:
        return f"surrogate {spec.name!r} has no formula (plugin API 1 spec: torch kernels)"
    return SELECTOR.triton_reason(kind)


def native_reason(spec: SurrogateSpec, kind: str, dtype: torch.dtype) -> str:
    """'' if the native element-wise kernels of ``spec`` run on such tensors, else why."""
    if kind != "cpu":
        return f"native kernels run on CPU tensors, not {kind}"
    if dtype not in NATIVE_DTYPES:
        return f"native kernels take float32 and float64, not {dtype}"
    if not SELECTOR.switch.native:
        return DISABLED
    found = native_elementwise(spec)
    return found if isinstance(found, str) else ""


def _triton(spec: SurrogateSpec) -> ElementwiseKernels:
    from .triton import elementwise

    formula = spec.parsed_formula()
    assert formula is not None

    def backward(x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
        return elementwise.backward(formula, x, grad_out, params)

    return ElementwiseKernels("triton", elementwise.spike, backward)


def _native(spec: SurrogateSpec) -> ElementwiseKernels:
    found = native_elementwise(spec)
    assert isinstance(found, NativeElementwise)
    return ElementwiseKernels("native", found.spike, found.backward)


def torch_kernels(spec: SurrogateSpec) -> ElementwiseKernels:
    """The torch kernels of ``spec``: Heaviside forward, ``grad``'s backward."""
    grad, grad_mul, names = spec.grad, spec.grad_mul, spec.param_names

    def backward(x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
        return surrogate_backward(grad, grad_mul, x, grad_out, dict(zip(names, params)))

    return ElementwiseKernels("torch", heaviside, backward)


def _operator(spec: SurrogateSpec) -> str:
    # The custom_op path's naming: sc_neurocore::<surrogate> (paths/custom_op.py).
    return f"sc_neurocore::{spec.name}"


def _specs(specs: Sequence[SurrogateSpec]) -> Sequence[SurrogateSpec]:
    return specs


#: The element-wise surrogate operators ``sc_neurocore::<name>`` (subject: the spec).
ELEMENTWISE_KIND = SELECTOR.register(
    OperatorKind(
        name="elementwise",
        families={
            "triton": Family(triton_reason, _triton),
            "native": Family(native_reason, _native),
            "torch": Family(lambda spec, kind, dtype: "", torch_kernels),
        },
        op=_operator,
        subjects=_specs,
        label=lambda spec: spec.name,
        describe=lambda spec: f"surrogate {spec.name!r}",
        torch_dtypes="any floating (computed in its dtype)",
    )
)


class ElementwiseDispatch(Chooser):
    """The kernel decisions of one spec's element-wise operator (kept per dtype and device
    kind), and its torch kernels for the callers that need them directly."""

    __slots__ = ("spec", "torch")

    def __init__(self, spec: SurrogateSpec) -> None:
        super().__init__(SELECTOR, ELEMENTWISE_KIND, spec)
        self.spec = spec
        self.torch = torch_kernels(spec)

    def choice(self, kind: str, dtype: torch.dtype = torch.float32) -> tuple[str, str]:
        """``(family, reason)`` for a ``kind``/``dtype`` tensor: the family that runs (or
        ``"error"``) and why a faster one does not ('' when the fastest runs)."""
        found = SELECTOR.decide(ELEMENTWISE_KIND, self.spec, kind, dtype)
        return found.family, found.reason

    def rows(self) -> list[dict[str, str]]:
        """The listing's rows of this spec's operator, one per device kind (for ``explain``)."""
        return [row.as_dict() for row in SELECTOR.rows(ELEMENTWISE_KIND, [self.spec], DEVICE_KINDS)]
