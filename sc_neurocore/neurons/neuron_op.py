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

import keyword
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..core.neuron_spec import NeuronSpec
from ..core.spec import SurrogateSpec
from ..core.step_program import StepProgram, program_of
from ..interchange.operators import defining
from ..kernels.autocast import FUSED, register_autocast_policy
from ..kernels.neuron_choice import neuron_kernels
from ..kernels.torch.lif import kernel_value
from .dtypes import compute_dtype_of, state_dtype

__all__ = ["NAMESPACE", "NeuronOperator", "operator_for", "resolve_surrogate", "surrogate_key"]

NAMESPACE = "sc_neurocore_neuron"
_library = torch.library.Library(NAMESPACE, "FRAGMENT")
_lock = threading.Lock()
_operators: dict[str, NeuronOperator] = {}
#: Surrogate specs the layers handed over, by the key the operator's schema carries.
_surrogates: dict[str, SurrogateSpec] = {}


def surrogate_key(spec: SurrogateSpec) -> str:
    """The string the operators carry for ``spec``: its name where the default registry
    holds this very spec (an exported program then names it), else name@identity."""
    from ..core.registry import default_registry

    try:
        if default_registry.get_spec(spec.name) is spec:
            return spec.name
    except LookupError:
        pass
    key = f"{spec.name}@{id(spec):x}"
    _surrogates[key] = spec
    return key


def resolve_surrogate(key: str) -> SurrogateSpec:
    """The spec behind ``key``: a layer's own, else the registry's of that name (reload)."""
    found = _surrogates.get(key)
    if found is not None:
        return found
    from ..core.registry import get_spec

    return get_spec(key)


def _schema(spec: NeuronSpec, name: str) -> tuple[str, str]:
    states, params = spec.states, spec.param_names
    state_args = ", ".join(f"Tensor? state_{s}" for s in states)
    param_args = ", ".join(f"Tensor param_{p}" for p in params)
    tail = "str surrogate, float[] surrogate_params"
    forward = (
        f"{name}(Tensor x, {state_args}, {param_args}, {tail}) -> "
        f"(Tensor, {', '.join('Tensor' for _ in states)})"
    )
    grads = ", ".join(f"Tensor? grad_{s}" for s in states)
    outs = ", ".join("Tensor" for _ in (*states, *params))
    backward = (
        f"{name}_backward(Tensor grad_out, {grads}, Tensor x, {state_args}, {param_args}, "
        f"{tail}, bool learn) -> (Tensor, {outs})"
    )
    return forward.replace(", , ", ", "), backward.replace(", , ", ", ")


@dataclass
class NeuronOperator:
    """The operator pair of one spec and how its arguments are laid out."""

    spec: NeuronSpec
    program: StepProgram
    name: str

    def __post_init__(self) -> None:
        self.states = len(self.spec.states)
        self.params = len(self.spec.param_names)
        namespace = getattr(torch.ops, NAMESPACE)
        self.forward_op = getattr(namespace, self.name).default
        self.backward_op = getattr(namespace, f"{self.name}_backward").default

    def split(
        self, args: Sequence[Any]
    ) -> tuple[Tensor, list[Any], list[Tensor], str, list[float]]:
        """``(x, states, params, surrogate, surrogate params)`` of a forward call."""
        k, p = self.states, self.params
        x, states, params = args[0], list(args[1 : 1 + k]), list(args[1 + k : 1 + k + p])
        return x, states, params, args[1 + k + p], list(args[2 + k + p])

    def __call__(
        self,
        x: Tensor,
        states: Sequence[Tensor | None],
        params: Sequence[Tensor],
        surrogate: str,
        surrogate_params: Sequence[float],
    ) -> tuple[Tensor, list[Tensor]]:
        out, *finals = self.forward_op(x, *states, *params, surrogate, list(surrogate_params))
        return out, finals

    # -- kernels ---------------------------------------------------------------------------

    def _prepare(
        self, x: Tensor, states: list[Any], params: list[Tensor], surrogate: str
    ) -> tuple[Tensor, list[Tensor], dict[str, Any], torch.dtype, Any]:
        dtype = compute_dtype_of(state_dtype(x, *states, *params))
        run = x.to(dtype)
        step = run[0]
        initial = [
            torch.zeros_like(step) if s is None else s.to(dtype).expand_as(step).contiguous()
            for s in states
        ]
        values = {n: kernel_value(p, dtype) for n, p in zip(self.spec.param_names, params)}
        kernels = neuron_kernels(self.program, resolve_surrogate(surrogate), run)
        return run, initial, values, dtype, kernels

    def forward_kernel(self, *args: Any) -> tuple[Tensor, ...]:
        x, states, params, surrogate, sparams = self.split(args)
        run, initial, values, dtype, kernels = self._prepare(x, states, params, surrogate)
        out, finals = kernels.forward(run, initial, values, sparams)
        state = state_dtype(x, *states, *params)
        return (out.to(x.dtype), *(f.to(state) for f in finals))

    def forward_fake(self, *args: Any) -> tuple[Tensor, ...]:
        x, states, params, _, _ = self.split(args)
        state = state_dtype(x, *states, *params)
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        return (out, *(torch.empty_like(x[0], dtype=state) for _ in range(self.states)))

    def backward_kernel(self, *args: Any) -> tuple[Tensor, ...]:
        k = self.states
        grad_out, grads = args[0], list(args[1 : 1 + k])
        x, states, params, surrogate, sparams = self.split(args[1 + k : -1])
        learn = bool(args[-1])
        run, initial, values, dtype, kernels = self._prepare(x, states, params, surrogate)
        step = run[0]
        finals = [torch.zeros_like(step) if g is None else g.to(dtype) for g in grads]
        grad_x, grad_states, grad_params = kernels.backward(
            grad_out.to(dtype), finals, run, initial, values, sparams, learn
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

    def backward_fake(self, *args: Any) -> tuple[Tensor, ...]:
        k = self.states
        x, states, params, _, _ = self.split(args[1 + k : -1])
        grad_states = [
            x.new_empty(x.shape[1:]) if s is None else torch.empty_like(s) for s in states
        ]
        grad_x = torch.empty_like(x, memory_format=torch.contiguous_format)
        return (grad_x, *grad_states, *(torch.empty_like(p) for p in params))

    # -- autograd ----------------------------------------------------------------------------

    def setup_context(self, ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        x, states, params, surrogate, sparams = self.split(inputs)
        ctx.save_for_backward(x, *states, *params)
        ctx.surrogate, ctx.surrogate_params = surrogate, sparams
        ctx.set_materialize_grads(False)

    def backward(self, ctx: Any, grad_out: Tensor | None, *grad_finals: Tensor | None) -> tuple:
        saved = ctx.saved_tensors
        x = saved[0]
        states, params = saved[1 : 1 + self.states], saved[1 + self.states :]
        needs = ctx.needs_input_grad
        if grad_out is None:
            grad_out = x.new_zeros(()).expand(x.shape)
        learn = any(needs[1 + self.states : 1 + self.states + self.params])
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
        chosen = tuple(g if need else None for g, need in zip(grads, needs))
        return (*chosen, None, None)


def _refuse_double_backward(ctx: Any, *grads: Any) -> tuple:
    raise RuntimeError(
        "Neuron: the fused operator has no second derivative (double backward); use "
        "fused=False (the stepwise layer) for higher-order gradients"
    )


def _define(spec: NeuronSpec, name: str) -> NeuronOperator:
    forward_schema, backward_schema = _schema(spec, name)
    with defining():
        _library.define(forward_schema)
        _library.define(backward_schema)
    operator = NeuronOperator.__new__(NeuronOperator)
    operator.spec, operator.program, operator.name = spec, program_of(spec), name
    qualified = f"{NAMESPACE}::{name}"
    handle = operator  # registered before __post_init__ looks the ops up
    _library.impl(name, lambda *a: handle.forward_kernel(*a), "CompositeExplicitAutograd")
    _library.impl(
        f"{name}_backward", lambda *a: handle.backward_kernel(*a), "CompositeExplicitAutograd"
    )
    torch.library.register_fake(qualified, lambda *a: handle.forward_fake(*a), lib=_library)
    torch.library.register_fake(
        f"{qualified}_backward", lambda *a: handle.backward_fake(*a), lib=_library
    )
    torch.library.register_autograd(
        qualified, handle.backward, setup_context=handle.setup_context, lib=_library
    )
    torch.library.register_autograd(
        f"{qualified}_backward",
        _refuse_double_backward,
        setup_context=lambda ctx, inputs, output: None,
        lib=_library,
    )
    register_autocast_policy(_library, name, FUSED)
    register_autocast_policy(_library, f"{name}_backward", FUSED)
    operator.__post_init__()
    return operator


def operator_for(spec: NeuronSpec) -> NeuronOperator:
    """The operator of ``spec``, defined on first use (once per process and name)."""
    with _lock:
        found = _operators.get(spec.name)
        if found is not None and found.spec == spec:
            return found
        name = spec.name + ("_" if keyword.iskeyword(spec.name) else "")
        if found is not None:  # another spec holds the name in this process
            name = f"{name}_{abs(hash(spec)):x}"
        found = _operators.get(name)
        if found is None:
            found = _operators[name] = _define(spec, name)
        _operators.setdefault(spec.name, found)
        return found
