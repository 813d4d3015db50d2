"""Triton kernels of any neuron spec's fused operator, generated from its step program.

:class:`TritonNeuron` has the calling convention of every neuron kernel family
(:mod:`sc_neurocore.kernels.neuron_choice`); its kernels are written by
:mod:`.neuron_source` from ``program_of(spec)`` and the surrogate's formula, one forward and
one backward per (program, surrogate formula), each compiled per compute dtype.  ``x``
arrives in the compute dtype (float32 for float16/bfloat16/float32 inputs, float64 for
float64) and so do the outputs; parameter-gradient sums are kept in float64 per neuron.

Nothing here imports Triton at module import.  Where the kernels run is decided by the
kernel selector (:mod:`sc_neurocore.kernels.neuron_choice`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from ...core.formula import Formula
from ...core.spec import SurrogateSpec
from ...core.step_program import StepProgram
from .launch import (
    BLOCK,
    compute_dtype,
    grid,
    interpreting,
    launch_options,
    on_device,
    parameter,
)
from .neuron_source import helpers_used, load_neuron_kernels

__all__ = [
    "DTYPES",
    "MAXNREG",
    "TritonNeuron",
    "neuron_options",
    "segment_steps",
    "triton_neuron_kernels",
    "triton_neuron_reason",
]

#: The dtypes the kernels take ``x`` in (the operator hands half inputs over as float32).
DTYPES = (torch.float32, torch.float64)


def segment_steps(steps: int) -> int:
    """The backward's recomputed segment: about sqrt(T) steps (memory O(sqrt(T)) per state)."""
    return max(1, math.isqrt(max(steps - 1, 0)) + 1)


def surrogate_expression(spec: SurrogateSpec) -> tuple[Formula | None, str]:
    """``(the spec's parsed formula, "")``, or ``(None, why there is none)``."""
    formula = spec.parsed_formula()
    if formula is None:
        return None, f"surrogate {spec.name!r} has no formula (its grad runs the torch kernels)"
    missing = [name for name in helpers_used(formula.triton()) if not _has_helper(name)]
    if missing:
        return None, f"the Triton helpers {missing} of its formula are not available"
    return formula, ""


def _has_helper(name: str) -> bool:
    from importlib import import_module

    return hasattr(import_module(__package__ or "sc_neurocore.kernels.triton"), name)


def _formula_of(program: StepProgram, surrogate: SurrogateSpec) -> tuple[Formula | None, str]:
    """The surrogate formula the kernels inline (none for a readout), or why there is none."""
    if not program.spiking:
        return None, ""
    return surrogate_expression(surrogate)


def triton_neuron_reason(program: StepProgram, surrogate: SurrogateSpec) -> str:
    """'' if the kernels of ``program`` with ``surrogate`` can be generated, else why not
    (whether Triton runs on a device is the kernel selector's question)."""
    return _formula_of(program, surrogate)[1]


#: ptxas's register limit for the float64 backward on CUDA, stated: left unstated, ptxas
#: held resonate_fire's float64 backward on sm_80 at 72 registers and spilled around float64
#: division's slow-path call; stated, it allocates 84 and spills nothing (docs/gpu.md).
#: Not for float32: there it only raised the registers (alif: 48 -> 64) for no spill saved.
MAXNREG = 255


def _compiling_for_cuda() -> bool:
    """Whether launches compile for an NVIDIA target (the option is CUDA's; the interpreter
    ignores options, and the AMD backend refuses ``maxnreg``)."""
    if interpreting():
        return False
    from triton.runtime.driver import driver

    backend: str = driver.active.get_current_target().backend
    return backend == "cuda"


def neuron_options(kernel: str, dtype: torch.dtype) -> dict[str, Any]:
    """The options of a neuron kernel's launch: every launch's, and for the float64
    backward on CUDA the stated register limit (:data:`MAXNREG`)."""
    options = launch_options(kernel, dtype)
    if kernel == "backward" and dtype == torch.float64 and _compiling_for_cuda():
        options["maxnreg"] = MAXNREG
    return options


def _stacked(tensors: Sequence[Tensor], like: Tensor) -> Tensor:
    """One contiguous ``(len, *step)`` buffer of per-step tensors, in ``like``'s dtype."""
    step = like.shape[1:]
    return torch.stack([t.to(like.dtype).expand(step) for t in tensors]).contiguous()


@dataclass(frozen=True)
class TritonNeuron:
    """The Triton family: the generated kernels of one (program, surrogate formula) pair
    (``formula`` None for a readout); surrogate parameters come in the formula's order."""

    program: StepProgram
    formula: Formula | None
    module: ModuleType
    family: str = "triton"

    def _parameters(self, params: Mapping[str, Any], x: Tensor) -> tuple[list[Any], list[Any]]:
        """``(pointers, strides + fp64 values)`` of the parameters, in the program's order."""
        triples = [parameter(params[name], x) for name in self.program.params]
        pointers = [array for array, _, _ in triples]
        scalars = [stride for _, stride, _ in triples] + [value for _, _, value in triples]
        return pointers, scalars

    def forward(
        self,
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
    ) -> tuple[Tensor, list[Tensor]]:
        x = x.contiguous()
        steps, n = x.shape[0], x[0].numel()
        out = torch.empty_like(x)
        finals = torch.empty((len(self.program.states), *x.shape[1:]), dtype=x.dtype,
                             device=x.device)  # fmt: skip
        if n and steps:
            pointers, scalars = self._parameters(params, x)
            with on_device(x):
                self.module.forward[grid(n)](
                    x, _stacked(states, x), out, finals, *pointers, steps, n, *scalars,
                    COMPUTE=compute_dtype(x.dtype), BLOCK=BLOCK,
                    **neuron_options("forward", x.dtype),
                )  # fmt: skip
        elif not steps:
            finals.copy_(_stacked(states, x))
        return out, list(finals.unbind(0))

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
        x = x.contiguous()
        steps, n = x.shape[0], x[0].numel()
        count = len(self.program.states)
        grad_x = torch.empty_like(x)
        grad_states = torch.empty((count, *x.shape[1:]), dtype=x.dtype, device=x.device)
        names = self.program.params
        sums = torch.zeros((len(names) if learn else 0, *x.shape[1:]), dtype=torch.float64,
                           device=x.device)  # fmt: skip
        if not (n and steps):
            grad_states.copy_(_stacked(grad_finals, x))
            return grad_x, list(grad_states.unbind(0)), dict(zip(names, sums.unbind(0)))
        # The gradient of out.sum() arrives expanded from one value: read it as that value.
        broadcast = all(stride == 0 for stride in grad_out.stride())
        grad_out = (grad_out.reshape(-1)[:1] if broadcast else grad_out).contiguous()
        segment = segment_steps(steps)
        checkpoints = torch.empty((-(-steps // segment), count, n), dtype=x.dtype,
                                  device=x.device)  # fmt: skip
        scratch = torch.empty((segment, count, n), dtype=x.dtype, device=x.device)
        pointers, scalars = self._parameters(params, x)
        surrogate_values = list(surrogate_params) if self.formula else []
        with on_device(x):
            self.module.backward[grid(n)](
                grad_out, 0 if broadcast else 1, _stacked(grad_finals, x), x,
                _stacked(states, x), checkpoints, scratch, grad_x, grad_states, sums,
                *pointers, steps, segment, n, *scalars, *(surrogate_values or [0.0]),
                LEARN=learn, COMPUTE=compute_dtype(x.dtype), BLOCK=BLOCK,
                **neuron_options("backward", x.dtype),
            )  # fmt: skip
        return grad_x, list(grad_states.unbind(0)), dict(zip(names, sums.unbind(0)))


def triton_neuron_kernels(program: StepProgram, surrogate: SurrogateSpec) -> TritonNeuron:
    """The Triton kernels of ``program`` with ``surrogate`` (after
    :func:`triton_neuron_reason` said they can be generated; modules are kept per pair)."""
    formula = _formula_of(program, surrogate)[0]
    return TritonNeuron(program, formula, load_neuron_kernels(program, formula))
