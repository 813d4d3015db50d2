"""Which kernels run a neuron spec's fused operator, and the calling convention they share.

Every family's kernels take the same arguments::

    forward(x, states, params, surrogate_params) -> (out, final states)
    backward(grad_out, grad_finals, x, states, params, surrogate_params, learn)
        -> (grad x, grad initial states, {param: per-neuron grad summed over time})

with ``x`` in the compute dtype, ``states`` full one-step tensors and ``params`` floats or
tensors broadcastable to one step; the parameters' gradients are read only when ``learn``
(a family may return none otherwise).

:func:`neuron_kernels` asks the one kernel selector (:mod:`.selector`, operator kind
``neuron``, also what ``sc-neurocore kernels`` lists): unforced, the compiled C kernels run CPU
float32/float64 (and bfloat16/float16) tensors wherever the compiler built them, the
Triton kernels generated from the program CUDA tensors (CPU tensors only when forced under
``TRITON_INTERPRET=1``, as for the fused LIF), the torch kernels everything else; a forced
family where it cannot run raises
:class:`~sc_neurocore.core.errors.KernelUnavailableError` naming the reason.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..core.errors import KernelUnavailableError
from ..core.neuron_spec import NeuronSpec
from ..core.settings import ENV_KERNEL
from ..core.spec import SurrogateSpec
from ..core.step_program import StepProgram
from .native.neuron import NativeNeuron, native_neuron
from .native.runtime import DISABLED
from .native.runtime import DTYPES as NATIVE_DTYPES
from .selector import DEVICE_KINDS, PREFERRED, SELECTOR, Chooser, Family, OperatorKind
from .spec_table import neuron_programs
from .torch.neuron import NeuronTorchKernels, kernels_of
from .triton.neuron import DTYPES as TRITON_DTYPES
from .triton.neuron import TritonNeuron, triton_neuron_kernels, triton_neuron_reason

__all__ = [
    "FAMILIES",
    "NEURON_KIND",
    "NativeNeuronFamily",
    "TorchNeuron",
    "TritonNeuron",
    "chooser_of",
    "neuron_choice",
    "neuron_families",
    "neuron_kernels",
    "operator_name",
]


@dataclass(frozen=True)
class TorchNeuron:
    """The torch family: the step program evaluated with torch ops."""

    kernels: NeuronTorchKernels
    surrogate: SurrogateSpec | None  # None for a readout (no spike)
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
        surrogate = self.surrogate

        def surrogate_grad(f: Tensor) -> Tensor:
            assert surrogate is not None, "a readout's backward has no spike to differentiate"
            return surrogate.grad(f, **dict(zip(surrogate.param_names, surrogate_params)))

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


def operator_name(spec: NeuronSpec) -> str:
    """The operator name of ``spec`` in its namespace: the spec's name, with a ``_`` after
    a Python keyword (``if`` -> ``if_``: ``torch.ops.sc_neurocore_neuron.if_``)."""
    return spec.name + ("_" if keyword.iskeyword(spec.name) else "")


#: What a neuron operator's call runs: one family's kernels.
NeuronKernels = TorchNeuron | NativeNeuronFamily | TritonNeuron
#: A neuron operator's subject: its step program and its surrogate (None for a readout).
NeuronSubject = tuple[StepProgram, SurrogateSpec | None]


def _native_reason(subject: NeuronSubject, kind: str, dtype: torch.dtype) -> str:
    """'' if the compiled kernels of the subject run on such tensors, else why."""
    program, surrogate = subject
    if kind != "cpu":
        return f"native kernels run on CPU tensors, not {kind}"
    if dtype not in NATIVE_DTYPES:
        return "native kernels take float32, float64, bfloat16 and float16 only"
    if not SELECTOR.switch.native:
        return DISABLED
    found = native_neuron(program, surrogate, (False,) * len(program.params), dtype)  # type: ignore[arg-type]
    return found if isinstance(found, str) else ""


def _native(subject: NeuronSubject) -> NativeNeuronFamily:
    program, surrogate = subject
    fallback = TorchNeuron(kernels_of(program), surrogate)  # type: ignore[arg-type]
    forced = SELECTOR.switch.forced == "native"
    return NativeNeuronFamily(program, surrogate, fallback, forced)  # type: ignore[arg-type]


def _triton_reason(subject: NeuronSubject, kind: str, dtype: torch.dtype) -> str:
    """'' if the generated Triton kernels of the subject run on such tensors, else why."""
    # The kernels write every a*b + c as tl.fma: an interpreter must round it once.
    reason = SELECTOR.triton_reason(kind, exact_fma=True)
    if not reason and dtype not in TRITON_DTYPES:
        return f"the generated Triton kernels take float32 and float64, not {dtype}"
    return reason or triton_neuron_reason(*subject)  # type: ignore[arg-type]


def _torch(subject: NeuronSubject) -> TorchNeuron:
    return TorchNeuron(kernels_of(subject[0]), subject[1])  # type: ignore[arg-type]


#: The neuron listed with every surrogate: the one the fused ``LIF`` layer runs.
LISTED_WITH_EVERY_SURROGATE = "lif"


def _subjects(specs: Sequence[SurrogateSpec]) -> list[NeuronSubject]:
    """Each registered neuron with the first listed surrogate (a row per neuron and device:
    the family depends on the neuron; building every pair's kernels would cost minutes), and
    the LIF, which the fused ``LIF`` layer runs, with every surrogate."""
    if not specs:
        return []
    subjects: list[NeuronSubject] = []
    for program in neuron_programs():
        if not program.spiking:
            subjects.append((program, None))
        elif program.spec.name == LISTED_WITH_EVERY_SURROGATE:
            subjects += [(program, spec) for spec in specs]
        else:
            subjects.append((program, specs[0]))
    return subjects


#: The neurons' fused operators ``sc_neurocore_neuron::<name>`` (subject: program, surrogate).
NEURON_KIND = SELECTOR.register(
    OperatorKind(
        name="neuron",
        families={
            "triton": Family(_triton_reason, lambda s: triton_neuron_kernels(*s)),
            "native": Family(_native_reason, _native),
            "torch": Family(lambda s, kind, dtype: "", _torch),
        },
        op=lambda s: f"sc_neurocore_neuron::{operator_name(s[0].spec)}",
        subjects=_subjects,
        label=lambda s: "" if s[1] is None else s[1].name,
        describe=lambda s: (
            f"neuron {s[0].spec.name!r}"
            + ("" if s[1] is None else f" with surrogate {s[1].name!r}")
        ),
    )
)

#: The families that can run a neuron's fused operator per device kind, fastest first: the
#: selector's order, which the parity suite walks for the CPU.
FAMILIES: dict[str, tuple[str, ...]] = {
    kind: tuple(f for f in (*PREFERRED.get(kind, ()), "torch") if f in NEURON_KIND.families)
    for kind in DEVICE_KINDS
}


def neuron_families(kind: str) -> tuple[str, ...]:
    """The families that can run neurons on ``kind`` tensors, fastest first."""
    return FAMILIES.get(kind, ("torch",))


#: (program, surrogate) by identity -> the chooser of that operator's calls (the entry keeps
#: both objects, so an identity is never reused while cached)
_choosers: dict[tuple[int, int], tuple[StepProgram, SurrogateSpec | None, Chooser]] = {}


def chooser_of(program: StepProgram, surrogate: SurrogateSpec | None) -> Chooser:
    """The selector's chooser for one neuron operator's calls."""
    key = (id(program), id(surrogate))
    entry = _choosers.get(key)
    if entry is None:
        entry = _choosers[key] = (
            program,
            surrogate,
            SELECTOR.chooser(NEURON_KIND, (program, surrogate)),
        )
    return entry[2]


def neuron_kernels(
    program: StepProgram, surrogate: SurrogateSpec | None, x: Tensor
) -> NeuronKernels:
    """The kernels that run ``program`` with ``surrogate`` on ``x``: the selector's decision
    (a forced family that cannot run raises, naming why)."""
    decision = chooser_of(program, surrogate).decision(x)
    kernels = decision.require()
    if isinstance(kernels, TorchNeuron) and decision.reason != kernels.reason:
        kernels = dataclasses.replace(kernels, reason=decision.reason)
    return kernels


def neuron_choice(
    program: StepProgram,
    surrogate: SurrogateSpec | None,
    kind: str,
    dtype: torch.dtype = torch.float32,
) -> tuple[str, str]:
    """``(family, reason)`` for ``kind``/``dtype`` tensors: the selector's one decision."""
    found = SELECTOR.decide(NEURON_KIND, (program, surrogate), kind, dtype)
    return found.family, found.reason
