"""Which kernels run a neuron spec's fused operator, and the calling convention they share.

Every family's kernels take the same arguments::

    forward(x, states, params, surrogate_params) -> (out, final states)
    backward(grad_out, grad_finals, x, states, params, surrogate_params, learn)
        -> (grad x, grad initial states, {param: per-neuron grad summed over time})

with ``x`` in the compute dtype, ``states`` full one-step tensors and ``params`` floats or
tensors broadcastable to one step; the parameters' gradients are read only when ``learn``
(a family may return none otherwise).

:func:`neuron_kernels` picks the family under the package's one kernel switch
(``SC_NEUROCORE_KERNEL``, ``SC_NEUROCORE_NATIVE``): unforced, the compiled C kernels run CPU
float32/float64 (and bfloat16/float16) tensors wherever the compiler built them, the
Triton kernels generated from the program CUDA tensors (CPU tensors only when forced under
``TRITON_INTERPRET=1``, as for the fused LIF), the torch kernels everything else; a forced
family where it cannot run raises
:class:`~sc_neurocore.core.errors.KernelUnavailableError` naming the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..core.errors import KernelUnavailableError
from ..core.settings import ENV_KERNEL, requested_kernel
from ..core.spec import SurrogateSpec
from ..core.step_program import StepProgram
from .native.lif import native_enabled
from .native.neuron import NativeNeuron, native_neuron
from .selector import SELECTOR
from .torch.neuron import NeuronTorchKernels, kernels_of
from .triton.launch import interpreting
from .triton.neuron import DTYPES as TRITON_DTYPES
from .triton.neuron import TritonNeuron, triton_neuron_kernels, triton_neuron_reason

__all__ = [
    "FAMILIES",
    "NativeNeuronFamily",
    "TorchNeuron",
    "TritonNeuron",
    "native_reason",
    "neuron_families",
    "neuron_kernels",
    "triton_reason",
]


@dataclass(frozen=True)
class TorchNeuron:
    """The torch family: the step program evaluated with torch ops."""

    kernels: NeuronTorchKernels
    surrogate: SurrogateSpec
    family: str = "torch"
    #: why a faster family does not run ('' where none was asked)
    reason: str = ""

    def forward(
        self,
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
    ) -> tuple[Tensor, list[Tensor]]:
        return self.kernels.forward(x, states, params)

    def backward(
        self,
        grad_out: Tensor,
        grad_finals: Sequence[Tensor],
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
        learn: bool,
    ) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
        named = dict(zip(self.surrogate.param_names, surrogate_params))
        grad = self.surrogate.grad

        def surrogate_grad(f: Tensor) -> Tensor:
            return grad(f, **named)

        return self.kernels.backward(
            grad_out, grad_finals, x, states, params, surrogate_grad, learn
        )


@dataclass
class NativeNeuronFamily:
    """The compiled C family: one library per layout of the parameters (built on first
    use); a layout whose build fails runs the torch family, or raises where forced."""

    program: StepProgram
    surrogate: SurrogateSpec
    fallback: TorchNeuron
    forced: bool
    family: str = "native"

    def __post_init__(self) -> None:
        self._libraries: dict[tuple[Any, ...], NativeNeuron | str] = {}
        self._names = self.program.params  # computed by the spec on every access

    def _kernels(self, x: Tensor, params: Mapping[str, Any]) -> NativeNeuron | TorchNeuron:
        key = (tuple(isinstance(params[p], Tensor) for p in self._names), x.dtype)
        found = self._libraries.get(key)
        if found is None:
            found = native_neuron(self.program, self.surrogate, *key)
            self._libraries[key] = found
        if isinstance(found, NativeNeuron):
            return found
        if self.forced:
            raise KernelUnavailableError(
                f"{ENV_KERNEL}=native: neuron {self.program.spec.name!r} cannot run compiled "
                f"kernels: {found}"
            )
        return self.fallback

    def forward(
        self,
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
    ) -> tuple[Tensor, list[Tensor]]:
        return self._kernels(x, params).forward(x, states, params, surrogate_params)

    def backward(
        self,
        grad_out: Tensor,
        grad_finals: Sequence[Tensor],
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
        learn: bool,
    ) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
        kernels = self._kernels(x, params)
        return kernels.backward(grad_out, grad_finals, x, states, params, surrogate_params, learn)


#: The families that run a neuron's fused operator per device kind, fastest first: the
#: choice walks this order, and the parity suite runs every family listed for the CPU.
FAMILIES: dict[str, tuple[str, ...]] = {"cpu": ("native", "torch"), "cuda": ("triton", "torch")}


def neuron_families(kind: str) -> tuple[str, ...]:
    """The families that can run neurons on ``kind`` tensors, fastest first."""
    return FAMILIES.get(kind, ("torch",))


def native_reason(
    program: StepProgram, surrogate: SurrogateSpec, kind: str, dtype: torch.dtype
) -> str:
    """'' if the compiled kernels of ``program`` run on such tensors, else why."""
    if kind != "cpu":
        return f"compiled kernels run on CPU tensors, not {kind}"
    if not native_enabled():
        return "compiled kernels are disabled (SC_NEUROCORE_NATIVE=0 or set_native_enabled)"
    found = native_neuron(program, surrogate, (False,) * len(program.params), dtype)
    return found if isinstance(found, str) else ""


def triton_reason(
    program: StepProgram, surrogate: SurrogateSpec, kind: str, dtype: torch.dtype
) -> str:
    """'' if the generated Triton kernels of ``program`` run on such tensors, else why."""
    reason = SELECTOR.triton_reason(kind)  # no tl.fma: any interpreter runs them exactly
    if not reason and dtype not in TRITON_DTYPES:
        return f"the generated Triton kernels take float32 and float64, not {dtype}"
    return reason or triton_neuron_reason(program, surrogate)


Family = TorchNeuron | NativeNeuronFamily | TritonNeuron
#: (program, surrogate, device kind, dtype, forced family, native switch) by identity ->
#: the family (the entry keeps both objects, so an identity is never reused while cached)
_chosen: dict[tuple[Any, ...], tuple[StepProgram, SurrogateSpec, Family]] = {}


def neuron_kernels(program: StepProgram, surrogate: SurrogateSpec, x: Tensor) -> Family:
    """The kernels that run ``program`` with ``surrogate`` on ``x`` (cached per choice)."""
    forced = requested_kernel()
    key = (id(program), id(surrogate), x.device.type, x.dtype, forced, native_enabled(),
           interpreting())  # fmt: skip
    entry = _chosen.get(key)
    if entry is None:
        entry = _chosen[key] = (program, surrogate, _choose(program, surrogate, x, forced))
    return entry[2]


def _choose(
    program: StepProgram, surrogate: SurrogateSpec, x: Tensor, forced: str | None
) -> Family:
    kind, dtype = x.device.type, x.dtype
    reasons = []
    for family in neuron_families(kind) if forced is None else (forced,):
        if family == "triton":
            reason = triton_reason(program, surrogate, kind, dtype)
            if not reason:
                return triton_neuron_kernels(program, surrogate)
            if forced == "triton":
                raise KernelUnavailableError(
                    f"{ENV_KERNEL}=triton: neuron {program.spec.name!r} with surrogate "
                    f"{surrogate.name!r} cannot run triton kernels on a {kind} {dtype} tensor: "
                    f"{reason}"
                )
            reasons.append(reason)
        if family == "native":
            reason = native_reason(program, surrogate, kind, dtype)
            if not reason:
                fallback = TorchNeuron(kernels_of(program), surrogate)
                return NativeNeuronFamily(program, surrogate, fallback, forced == "native")
            if forced == "native":
                raise KernelUnavailableError(
                    f"{ENV_KERNEL}=native: neuron {program.spec.name!r} cannot run compiled "
                    f"kernels on a {kind} {dtype} tensor: {reason}"
                )
            reasons.append(reason)
    return TorchNeuron(kernels_of(program), surrogate, reason="; ".join(reasons))
