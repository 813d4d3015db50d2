"""The fused operator generated for a neuron spec: ``sc_neurocore_neuron::<name>``.

One schema per spec, derived from its states and parameters (so compile, export and
``opcheck`` see named arguments)::

    <name>(Tensor x, Tensor? state_<s1>, ..., Tensor param_<p1>, ..., str surrogate,
           float[] surrogate_params) -> (Tensor out, Tensor <s1>, ...)
    <name>_backward(Tensor grad_out, Tensor? grad_<s1>, ..., Tensor x, Tensor? state_<s1>,
           ..., Tensor param_<p1>, ..., str surrogate, float[] surrogate_params, bool learn)
           -> (Tensor grad_x, Tensor grad_<s1>, ..., Tensor grad_<p1>, ...)

``out`` is the spike sequence (a readout's first state for ``fire=None``).  Parameters
broadcast to one time step; the backward is the reverse-time pass derived from the spec
(:mod:`sc_neurocore.core.step_program`), recomputing the states from the input.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..core.forksafe import reset_module_lock
from ..core.neuron_spec import NeuronSpec
from ..core.spec import SurrogateSpec
from ..core.step_program import StepProgram, program_of
from ..kernels.autocast import FUSED
from ..kernels.neuron_choice import neuron_kernels, operator_name
from ..kernels.operator import OperatorDef
from ..kernels.spec_table import spec_for, spec_key
from ..kernels.torch.neuron import kernel_value, kernels_of
from ..neuron_models import BUILTIN_NEURONS
from .dtypes import compute_dtype_of, state_dtype

__all__ = [
    "NAMESPACE",
    "BoundNeuron",
    "NeuronOperator",
    "bind_neuron",
    "operator_for",
    "operator_name",
]

NAMESPACE = "sc_neurocore_neuron"
_lock = threading.Lock()
reset_module_lock(__name__, "custom_op definitions")
_operators: dict[str, NeuronOperator] = {}


def _arguments(spec: NeuronSpec, name: str, backward: bool) -> type[tuple]:
    """The operator's arguments as one NamedTuple class (the schema comes from it)."""
    fields: list[tuple[str, Any]] = []
    if backward:
        fields += [("grad_out", Tensor)] + [(f"grad_{s}", Tensor | None) for s in spec.states]
    fields += [("x", Tensor)]
    fields += [(f"state_{s}", Tensor | None) for s in spec.states]
    fields += [(f"param_{p}", Tensor) for p in spec.param_names]
    fields += [("surrogate", str), ("surrogate_params", list[float])]
    if backward:
        fields += [("learn", bool)]
    return NamedTuple(f"{name}_{'backward_' if backward else ''}arguments", fields)  # type: ignore[misc, return-value]


@dataclass
class NeuronOperator:
    """The generated operator pair of one spec: its kernels, fake kernels and autograd."""

    spec: NeuronSpec
    program: StepProgram
    name: str

    def __post_init__(self) -> None:
        self.count = len(self.spec.states)
        self.forward = OperatorDef(
            f"{NAMESPACE}::{self.name}", _arguments(self.spec, self.name, False), 1 + self.count
        )
        self.forward.register_kernel(self.forward_kernel)
        self.forward.register_fake(self.forward_fake)
        self.forward.register_autograd(self.backward, self.setup_context)
        self.forward.register_autocast(FUSED)
        self.forward.register_decomposition(self.decomposition)
        self.backward_op = self.forward.define_backward(
            _arguments(self.spec, self.name, True),
            1 + self.count + len(self.spec.param_names),
            self.backward_kernel,
            self.backward_fake,
            no_double_backward=(
                f"Neuron {self.spec.name!r}: the fused operator has no second derivative "
                "(double backward); use fused=False (the stepwise layer) for higher orders"
            ),
        )

    def split(
        self, args: Sequence[Any]
    ) -> tuple[Tensor, list[Any], list[Tensor], str, list[float]]:
        """``(x, states, params, surrogate, surrogate params)`` of forward arguments."""
        k, p = self.count, len(self.spec.param_names)
        x, states, params = args[0], list(args[1 : 1 + k]), list(args[1 + k : 1 + k + p])
        return x, states, params, args[1 + k + p], list(args[2 + k + p])

    # -- kernels ---------------------------------------------------------------------------

    def _prepare(
        self, x: Tensor, states: list[Any], params: list[Tensor], surrogate: str
    ) -> tuple[Tensor, list[Tensor], dict[str, Any], Any]:
        dtype = compute_dtype_of(state_dtype(x, *states, *params))
        run = x.to(dtype)
        step = run[0]
        initial = [
            torch.zeros_like(step) if s is None else s.to(dtype).expand_as(step).contiguous()
            for s in states
        ]
        values = {n: kernel_value(p, dtype) for n, p in zip(self.spec.param_names, params)}
        # A readout has no spike, so no surrogate (its operators carry "").
        found = spec_for(surrogate) if self.program.spiking else None
        return run, initial, values, neuron_kernels(self.program, found, run)

    def forward_kernel(self, args: tuple) -> tuple[Tensor, ...]:
        x, states, params, surrogate, sparams = self.split(args)
        run, initial, values, kernels = self._prepare(x, states, params, surrogate)
        out, finals = kernels.forward(run, initial, values, sparams)
        state = state_dtype(x, *states, *params)
        # A spike follows the input's dtype; a readout's output is its state.
        return (out.to(x.dtype if self.program.spiking else state), *(f.to(state) for f in finals))

    def forward_fake(self, args: tuple) -> tuple[Tensor, ...]:
        x, states, params, _, _ = self.split(args)
        state = state_dtype(x, *states, *params)
        out = torch.empty_like(
            x,
            dtype=x.dtype if self.program.spiking else state,
            memory_format=torch.contiguous_format,
        )
        return (out, *(torch.empty_like(x[0], dtype=state) for _ in range(self.count)))

    def backward_kernel(self, args: tuple) -> tuple[Tensor, ...]:
        k = self.count
        grad_out, grads = args[0], list(args[1 : 1 + k])
        x, states, params, surrogate, sparams = self.split(args[1 + k : -1])
        learn = bool(args[-1])
        run, initial, values, kernels = self._prepare(x, states, params, surrogate)
        step = run[0]
        finals = [torch.zeros_like(step) if g is None else g.to(run.dtype) for g in grads]
        grad_x, grad_states, grad_params = kernels.backward(
            grad_out.to(run.dtype), finals, run, initial, values, sparams, learn
        )
        out_states = [
            g.to(x.dtype if s is None else s.dtype).sum_to_size(
                step.shape if s is None else s.shape
            )
            for g, s in zip(grad_states, states)
        ]
        out_params = [
            grad_params[n].sum_to_size(p.shape).to(p.dtype) if learn else torch.zeros_like(p)
            for n, p in zip(self.spec.param_names, params)
        ]
        return (grad_x.to(x.dtype), *out_states, *out_params)

    def backward_fake(self, args: tuple) -> tuple[Tensor, ...]:
        k = self.count
        x, states, params, _, _ = self.split(args[1 + k : -1])
        grad_states = [
            x.new_empty(x.shape[1:]) if s is None else torch.empty_like(s) for s in states
        ]
        grad_x = torch.empty_like(x, memory_format=torch.contiguous_format)
        return (grad_x, *grad_states, *(torch.empty_like(p) for p in params))

    def decomposition(self, args: tuple) -> tuple[Tensor, ...]:
        """The forward in plain aten ops, one step after another (the spec's step with a
        Heaviside spike), for exporters that lower the operator: ONNX unrolls it over the
        static ``T``.  Training and compiled graphs keep the fused kernels."""
        x, states, params, _, _ = self.split(args)
        state = state_dtype(x, *states, *params)
        dtype = compute_dtype_of(state)
        run = x.to(dtype)
        current: list[Tensor] = [
            torch.zeros_like(run[0]) if s is None else s.to(dtype).expand_as(run[0]) for s in states
        ]
        values = {n: p.to(dtype) for n, p in zip(self.spec.param_names, params)}
        kernels = kernels_of(self.program)
        outs = []
        for t in range(run.shape[0]):
            env = {**values, "x": run[t], **dict(zip(self.spec.states, current))}
            out, current = kernels.step(env)
            outs.append(out)
        return (torch.stack(outs).to(x.dtype), *(c.to(state) for c in current))

    # -- autograd ----------------------------------------------------------------------------

    def setup_context(self, ctx: Any, args: tuple, output: Any) -> None:
        x, states, params, surrogate, sparams = self.split(args)
        ctx.save_for_backward(x, *states, *params)
        ctx.surrogate, ctx.surrogate_params = surrogate, sparams
        ctx.set_materialize_grads(False)

    def backward(self, ctx: Any, grad_out: Tensor | None, *grad_finals: Tensor | None) -> dict:
        saved = ctx.saved_tensors
        x, k = saved[0], self.count
        states, params = saved[1 : 1 + k], saved[1 + k :]
        needs = ctx.needs_input_grad
        if grad_out is None:
            grad_out = x.new_zeros(()).expand(x.shape)
        learn = any(needs[1 + k : 1 + k + len(params)])
        grads = self.backward_op(
            grad_out,
            *grad_finals,
            x,
            *states,
            *params,
            ctx.surrogate,
            ctx.surrogate_params,
            learn,
        )
        names = self.forward.names
        return {name: g for name, g, need in zip(names, grads, needs) if need}


def operator_for(spec: NeuronSpec) -> NeuronOperator:
    """The operator of ``spec``, defined on first use (once per process and name)."""
    with _lock:
        found = _operators.get(spec.name)
        if found is not None and found.spec == spec:
            return found
        name = operator_name(spec)
        if found is not None:  # another spec holds the name in this process
            name = f"{name}_{abs(hash(spec)):x}"
        made = _operators.get(name)
        if made is None:
            made = _operators[name] = NeuronOperator(spec, program_of(spec), name)
        _operators.setdefault(spec.name, made)
        return made


@dataclass(frozen=True)
class BoundNeuron:
    """A spec's operator with its surrogate resolved once (a layer's fused call: nothing
    but tensor work when traced by torch.compile)."""

    op: Any
    surrogate: str
    surrogate_params: tuple[float, ...]

    def __call__(
        self, x: Tensor, states: Sequence[Tensor | None], params: Sequence[float | Tensor]
    ) -> tuple[Tensor, list[Tensor]]:
        tensors = [
            value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)
            for value in params
        ]
        out, *finals = self.op(x, *states, *tensors, self.surrogate, list(self.surrogate_params))
        return out, finals


def bind_neuron(
    spec: NeuronSpec, surrogate: SurrogateSpec, values: tuple[float, ...]
) -> BoundNeuron:
    """The fused call of ``spec`` with the surrogate ``surrogate`` (parameter ``values``)."""
    return BoundNeuron(operator_for(spec).forward.op, spec_key(surrogate), values)


def builtin_neuron(name: str, reset: str = "subtract") -> NeuronSpec:
    """A built-in neuron's spec with ``reset`` (the fused layers' equations)."""
    spec = next(spec for spec in BUILTIN_NEURONS if spec.name == name)
    return spec.with_reset(reset)


def bind_readout(spec: NeuronSpec) -> BoundNeuron:
    """The fused call of a readout (``fire=None``): no spike, so no surrogate ("")."""
    return BoundNeuron(operator_for(spec).forward.op, "", ())
