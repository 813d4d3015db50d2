"""Torch kernels of any neuron's step program: the stepwise step, and a fused forward and
reverse-time backward that keep no autograd graph.

The step program (:mod:`sc_neurocore.core.step_program`) says what one step computes; these
kernels evaluate its assignments with torch ops, in the dtype they are given.  The fused
forward writes only the output sequence and the final states.  The backward recomputes
the states from the input and the initial states: once over all of time keeping a
checkpoint of the states every ``segment`` steps, then segment by segment from the last,
keeping one segment's steps while it walks them in reverse.  Peak memory is
``O((T/segment + segment) * states)`` per neuron instead of ``O(T * states)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from ...core.formula import torch_closure
from ...core.step_program import (
    FIRE,
    GRAD_OUT,
    GRAD_X,
    SPIKE_VALUE,
    SURROGATE_GRAD,
    StepProgram,
    grad_in,
    grad_param,
    grad_prev,
    new,
)

__all__ = ["NeuronTorchKernels", "kernel_value", "kernels_of"]

Value = Any  # a Tensor, or a float for a fixed parameter
Env = dict[str, Value]
#: The surrogate's g(f) for a fire value f (parameters bound).
SurrogateGrad = Callable[[Tensor], Tensor]


def kernel_value(value: Tensor, dtype: torch.dtype) -> Value:
    """A one-element CPU tensor as a float, anything else cast to the compute ``dtype``.

    Only a CPU value is read on the host: reading a CUDA one (``.item()``) would wait for
    the GPU on every call, so it stays a tensor, which every kernel family also takes.
    """
    if value.numel() == 1 and value.device.type == "cpu":
        return float(value.item())
    return value.to(dtype)


def _compiled(
    assigns: Sequence[Any],
) -> tuple[tuple[str, Callable[[Mapping[str, Any]], Value]], ...]:
    return tuple((a.target, torch_closure(a.value)) for a in assigns)


def _run(lines: tuple[tuple[str, Callable[[Mapping[str, Any]], Value]], ...], env: Env) -> None:
    for target, closure in lines:
        env[target] = closure(env)


class NeuronTorchKernels:
    """A step program's assignments as torch closures, and the fused loops over time."""

    def __init__(self, program: StepProgram) -> None:
        self.program = program
        self.states = program.states
        self._forward = _compiled(program.forward)
        self._leave = _compiled(program.leave)
        self._backward = _compiled(program.core_backward())
        self._params = _compiled(program.param_gradients())

    # -- one step ------------------------------------------------------------------------

    def step(
        self, env: Env, spike: Callable[[Tensor], Tensor] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """One step on ``env`` (previous states, ``x``, params): ``(output, new states)``.

        ``spike(f)`` makes the spike (the layer's surrogate: differentiable); ``None`` gives
        the plain ``f > 0``.  The reset reads the detached spike.
        """
        _run(self._forward, env)
        if self.program.spiking:
            f = env[FIRE]
            out = (f > 0).to(f.dtype) if spike is None else spike(f)
            env[SPIKE_VALUE] = out.detach()
        _run(self._leave, env)
        finals = [_as_tensor(env[new(s)], env["x"]) for s in self.states]
        if not self.program.spiking:
            out = finals[0]
        return out, finals

    # -- fused loops -----------------------------------------------------------------------

    def forward(
        self, x: Tensor, states: Sequence[Tensor], params: Mapping[str, Value]
    ) -> tuple[Tensor, list[Tensor]]:
        """``(outputs (T, ...), final states)`` from the initial ``states``; no graph."""
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        current = list(states)
        for t in range(x.shape[0]):
            env: Env = {**params, "x": x[t], **dict(zip(self.states, current))}
            out[t], current = self.step(env)
        return out, current

    def backward(
        self,
        grad_out: Tensor,
        grad_finals: Sequence[Tensor],
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Value],
        surrogate_grad: SurrogateGrad,
        learn: bool,
        segment: int | None = None,
    ) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
        """``(grad x, grad initial states, grad params summed over time)``.

        ``grad_out`` is the gradient of the outputs, ``grad_finals`` of the final states;
        ``learn`` asks for the parameters' gradients (per neuron, not yet reduced).
        """
        steps = x.shape[0]
        segment = segment or max(1, math.isqrt(steps))
        checkpoints = [list(states)]
        current = list(states)
        with torch.no_grad():
            for t in range(steps):
                if t and t % segment == 0:
                    checkpoints.append(current)
                env: Env = {**params, "x": x[t], **dict(zip(self.states, current))}
                current = self.step(env)[1]
        grad_x = torch.empty_like(x, memory_format=torch.contiguous_format)
        carried = {grad_in(s): g for s, g in zip(self.states, grad_finals)}
        sums: dict[str, Tensor] = {}
        for index in range(len(checkpoints) - 1, -1, -1):
            start = index * segment
            envs: list[Env] = []
            current = checkpoints[index]
            for t in range(start, min(start + segment, steps)):
                env = {**params, "x": x[t], **dict(zip(self.states, current))}
                current = self.step(env)[1]
                envs.append(env)
            for offset in range(len(envs) - 1, -1, -1):
                env = envs[offset]
                t = start + offset
                env[GRAD_OUT] = grad_out[t]
                if self.program.spiking:
                    env[SURROGATE_GRAD] = surrogate_grad(env[FIRE])
                env.update(carried)
                _run(self._backward, env)
                if learn:
                    _run(self._params, env)
                    for param in self.program.params:
                        share = env[grad_param(param)]
                        if isinstance(share, Tensor) or share != 0:
                            sums[param] = sums.get(param, 0) + share
                grad_x[t] = env[GRAD_X]
                carried = {grad_in(s): env[grad_prev(s)] for s in self.states}
        grad_states = [_as_tensor(carried[grad_in(s)], x[0]) for s in self.states]
        grads = {param: _as_tensor(sums.get(param, 0.0), x[0]) for param in self.program.params}
        return grad_x, grad_states, grads


def _as_tensor(value: Value, like: Tensor) -> Tensor:
    """A step value as a tensor of one step's shape (a constant becomes a filled one)."""
    if isinstance(value, Tensor):
        return value if value.shape == like.shape else value.expand_as(like)
    return torch.full_like(like, float(value))


@lru_cache(maxsize=256)
def kernels_of(program: StepProgram) -> NeuronTorchKernels:
    """The torch kernels of ``program`` (cached per program)."""
    return NeuronTorchKernels(program)
