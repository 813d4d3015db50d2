"""Which kernels run a neuron spec's fused operator, and the calling convention they share.

Every family's kernels take the same arguments::

    forward(x, states, params, surrogate_params) -> (out, final states)
    backward(grad_out, grad_finals, x, states, params, surrogate_params, learn)
        -> (grad x, grad initial states, {param: per-neuron grad summed over time})

with ``x`` in the compute dtype, ``states`` full one-step tensors and ``params`` floats or
tensors broadcastable to one step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ..core.spec import SurrogateSpec
from ..core.step_program import StepProgram
from .torch.neuron import NeuronTorchKernels, kernels_of

__all__ = ["TorchNeuron", "neuron_kernels"]


@dataclass(frozen=True)
class TorchNeuron:
    """The torch family: the step program evaluated with torch ops."""

    kernels: NeuronTorchKernels
    surrogate: SurrogateSpec
    family: str = "torch"

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


def neuron_kernels(program: StepProgram, surrogate: SurrogateSpec, x: Tensor) -> TorchNeuron:
    """The kernels that run ``program`` with ``surrogate`` on ``x``."""
    return TorchNeuron(kernels_of(program), surrogate)
