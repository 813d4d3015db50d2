"""A neuron spec's time step as ordered assignments, forward and reverse, for every backend.

:func:`program_of` turns a :class:`~sc_neurocore.core.neuron_spec.NeuronSpec` into a
:class:`StepProgram`: the forward assignments of one step and the backward assignments of
the same step in reverse time, derived symbolically (:mod:`sc_neurocore.core.derivative`).
Backends (torch reference, compiled C, Triton) only translate the assignments; none of them
knows a neuron.

Names inside the program: the spec's own names are the previous states, ``x`` and the
parameters; the program's start with ``_`` (which no spec name may):

* forward: ``_u_<state>`` updated state, ``_f`` the fire value, ``_s`` the 0/1 spike
  (``_f > 0``), ``_n_<state>`` the state leaving the step;
* backward inputs: ``_sg`` the surrogate's gradient at ``_f``, ``_go`` the gradient of the
  step's output (spike, or a readout's first state), ``_g_<state>`` the gradient of the
  state leaving the step;
* backward outputs: ``_gp_<state>`` gradient of the state entering the step (the previous
  step's ``_g_<state>``), ``_gx`` of the input, ``_dp_<param>`` this step's share of a
  parameter's gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .derivative import ZERO, derivative, fused, simplify, substituted
from .expression import Bin, Node, Var
from .neuron_spec import INPUT, NEW_SUFFIX, SPIKE, NeuronSpec, update_order

__all__ = [
    "FIRE",
    "GRAD_FIRE",
    "GRAD_OUT",
    "GRAD_X",
    "SPIKE_VALUE",
    "SURROGATE_GRAD",
    "Assign",
    "StepProgram",
    "grad_in",
    "grad_param",
    "grad_prev",
    "new",
    "program_of",
    "updated",
]

FIRE, SPIKE_VALUE, SURROGATE_GRAD = "_f", "_s", "_sg"
GRAD_OUT, GRAD_FIRE, GRAD_X = "_go", "_gf", "_gx"


def updated(state: str) -> str:
    return f"_u_{state}"


def new(state: str) -> str:
    return f"_n_{state}"


def grad_in(state: str) -> str:
    """The gradient of ``state`` as it leaves the step (an input of the backward step)."""
    return f"_g_{state}"


def grad_updated(state: str) -> str:
    return f"_gu_{state}"


def grad_prev(state: str) -> str:
    return f"_gp_{state}"


def grad_param(param: str) -> str:
    return f"_dp_{param}"


@dataclass(frozen=True)
class Assign:
    """``target = value``: one line of a step, in a backend-neutral tree."""

    target: str
    value: Node


def _sum(terms: list[Node]) -> Node:
    total: Node = ZERO
    for term in terms:
        total = simplify(Bin("+", total, term))
    return total


def _times(a: Node, b: Node) -> Node:
    return simplify(Bin("*", a, b))


@dataclass(frozen=True)
class StepProgram:
    """One step of a neuron, forward and reverse, as assignments (see the module doc)."""

    spec: NeuronSpec
    #: The update order (each update after the new values it reads).
    order: tuple[str, ...]
    #: ``_u_<state>`` in ``order``, then ``_f`` for a spiking neuron.
    forward: tuple[Assign, ...]
    #: ``_n_<state>`` for every state (after ``_s = _f > 0``), reset or carried.
    leave: tuple[Assign, ...]
    #: The reverse step: ``_gf``, ``_gu_*``, ``_gp_*``, ``_gx``, then ``_dp_*``.
    backward: tuple[Assign, ...]

    @property
    def states(self) -> tuple[str, ...]:
        return self.spec.states

    @property
    def params(self) -> tuple[str, ...]:
        return self.spec.param_names

    @property
    def spiking(self) -> bool:
        return self.spec.spiking

    @property
    def output(self) -> str:
        """The name of the step's output: the spike, or a readout's first state."""
        return SPIKE_VALUE if self.spiking else updated(self.states[0])

    def param_gradients(self) -> tuple[Assign, ...]:
        return tuple(a for a in self.backward if a.target.startswith("_dp_"))

    def core_backward(self) -> tuple[Assign, ...]:
        """The reverse step without the parameter shares (when no parameter learns)."""
        return tuple(a for a in self.backward if not a.target.startswith("_dp_"))


def _forward(spec: NeuronSpec, order: tuple[str, ...]) -> tuple[list[Assign], dict[str, Node]]:
    to_updated = {f"{s}{NEW_SUFFIX}": Var(updated(s)) for s in spec.states}
    forward = [
        Assign(updated(s), simplify(substituted(spec.trees["update"][s], to_updated)))
        for s in order
    ]
    after_update = {s: Var(updated(s)) for s in spec.states}
    if spec.trees["fire"] is not None:
        forward.append(Assign(FIRE, simplify(substituted(spec.trees["fire"], after_update))))
    resets = {
        s: simplify(substituted(tree, {**after_update, SPIKE: Var(SPIKE_VALUE)}))
        for s, tree in spec.trees["reset"].items()
    }
    leaving = {s: resets.get(s, Var(updated(s))) for s in spec.states}
    return forward, leaving


def _backward(
    spec: NeuronSpec, order: tuple[str, ...], forward: list[Assign], leaving: dict[str, Node]
) -> list[Assign]:
    updates = {a.target: a.value for a in forward if a.target != FIRE}
    fire = next((a.value for a in forward if a.target == FIRE), None)
    backward: list[Assign] = []
    # Every way a value reaches the loss through this step, given the gradients leaving it.
    leave_terms = [(Var(grad_in(s)), leaving[s]) for s in spec.states]
    fire_terms: list[tuple[Node, Node]] = []
    if fire is not None:
        backward.append(Assign(GRAD_FIRE, _times(Var(GRAD_OUT), Var(SURROGATE_GRAD))))
        fire_terms = [(Var(GRAD_FIRE), fire)]

    def through(terms: list[tuple[Node, Node]], name: str) -> list[Node]:
        return [_times(weight, derivative(tree, name)) for weight, tree in terms]

    update_terms: list[tuple[Node, Node]] = []
    for state in reversed(order):
        name = updated(state)
        terms = through(leave_terms + fire_terms + update_terms, name)
        if fire is None and state == spec.states[0]:
            terms.append(Var(GRAD_OUT))  # a readout's output is its first state
        backward.append(Assign(grad_updated(state), _sum(terms)))
        update_terms.append((Var(grad_updated(state)), updates[name]))
    for state in spec.states:
        backward.append(Assign(grad_prev(state), _sum(through(update_terms, state))))
    everything = leave_terms + fire_terms + update_terms
    backward.append(Assign(GRAD_X, _sum(through(everything, INPUT))))
    for param in spec.param_names:
        backward.append(Assign(grad_param(param), _sum(through(everything, param))))
    return backward


@lru_cache(maxsize=256)
def program_of(spec: NeuronSpec) -> StepProgram:
    """The step program of ``spec`` (cached per spec)."""
    order = update_order(spec.name, spec.states, spec.trees["update"])
    forward, leaving = _forward(spec, order)
    backward = _backward(spec, order, forward, leaving)
    leave = [Assign(new(s), leaving[s]) for s in spec.states]

    def rounded_once(assigns: list[Assign]) -> tuple[Assign, ...]:
        return tuple(Assign(a.target, fused(a.value)) for a in assigns)

    return StepProgram(
        spec, order, rounded_once(forward), rounded_once(leave), rounded_once(backward)
    )
