"""NeuronSpec: a neuron as a few equations, checked once, from which every backend follows.

One time step of a neuron with states ``s1, s2, ...``, input ``x`` and parameters ``p``:

1. ``update``: each state's new value from the previous states, ``x`` and the parameters.
   A bare state name is the previous value; ``<state>_new`` is another state's updated
   value of this step (a current feeding the membrane in the same step).  The step order
   follows from those references; a cycle among them is an error.
2. ``fire``: the spike is ``surrogate(fire)`` (a Heaviside step of ``fire`` forward),
   computed from the updated states; ``None`` for a neuron that does not spike (a readout,
   whose output is its first state's sequence).
3. ``reset``: states from the updated states and the spike ``s``, all at once.  The spike
   enters the reset detached (no gradient through the reset), the convention of the cells.

Expressions use the formula vocabulary of surrogate specs (:mod:`sc_neurocore.core.formula`).
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .derivative import names_in
from .expression import CONSTANTS, FUNCTIONS, FormulaError, Node, tree_of

__all__ = ["INPUT", "NEW_SUFFIX", "RESET_MODES", "SPIKE", "NeuronSpec", "update_order"]

#: The input's name in ``update`` expressions and the spike's name in ``reset`` expressions.
INPUT, SPIKE = "x", "s"
#: ``<state>_new`` in an update is that state's updated value of the same step.
NEW_SUFFIX = "_new"
#: How a layer may replace the reset of a neuron's first state (see :meth:`NeuronSpec.with_reset`).
RESET_MODES = ("subtract", "zero", "none")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = frozenset((INPUT, SPIKE, *FUNCTIONS, *CONSTANTS))


def _parse(spec: str, where: str, text: object, names: frozenset[str]) -> Node:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"neuron spec {spec!r}: {where} must be a non-empty formula, got {text!r}")
    try:
        body = ast.parse(text.strip(), mode="eval").body
        return tree_of(body, names, text)
    except SyntaxError as error:
        raise ValueError(
            f"neuron spec {spec!r}: {where} {text!r} is not an expression: {error.msg}"
        ) from None
    except FormulaError as error:
        raise ValueError(f"neuron spec {spec!r}: {where}: {error}") from None


def _check_name(spec: str, kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(
            f"neuron spec {spec!r}: {kind} name {name!r} must be an identifier "
            "(a letter, then letters, digits or '_')"
        )
    if name in _RESERVED:
        raise ValueError(f"neuron spec {spec!r}: {kind} name {name!r} is reserved")
    return name


def _frozen(spec: str, what: str, mapping: object) -> Mapping[str, str]:
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"neuron spec {spec!r}: {what} must be a dict, got {type(mapping).__name__}"
        )
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class NeuronSpec:
    """A neuron model: its states, parameters with defaults, and the three step equations."""

    name: str
    states: tuple[str, ...]
    params: tuple[tuple[str, float], ...]
    update: Mapping[str, str]
    fire: str | None
    reset: Mapping[str, str]
    description: str = ""
    #: The parsed trees: ``update``/``reset`` by state, ``fire`` (or None); built by the checks.
    trees: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False, init=False)

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ValueError(
                f"neuron spec name must be lower-case letters, digits and '_', got {name!r}"
            )
        states = tuple(self.states) if isinstance(self.states, (tuple, list)) else None
        if not states:
            raise ValueError(f"neuron spec {name!r}: states must be a non-empty tuple of names")
        for state in states:
            _check_name(name, "state", state)
        params = self._checked_params(states)
        update = _frozen(name, "update", self.update)
        reset = _frozen(name, "reset", self.reset)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "update", update)
        object.__setattr__(self, "reset", reset)
        if not isinstance(self.description, str):
            raise TypeError(f"neuron spec {name!r}: description must be a string")
        object.__setattr__(self, "trees", MappingProxyType(self._trees()))

    def _checked_params(self, states: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
        name = self.name
        checked: list[tuple[str, float]] = []
        for entry in self.params:
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise ValueError(
                    f"neuron spec {name!r}: each param must be (name, default), got {entry!r}"
                )
            param, default = entry
            _check_name(name, "param", param)
            if param in states:
                raise ValueError(f"neuron spec {name!r}: param {param!r} shadows a state")
            if isinstance(default, bool) or not isinstance(default, (int, float)):
                raise ValueError(
                    f"neuron spec {name!r}: param {param!r} default must be a number, "
                    f"got {default!r}"
                )
            checked.append((param, float(default)))
        seen = [param for param, _ in checked] + list(states)
        duplicated = sorted({n for n in seen if seen.count(n) > 1})
        if duplicated:
            raise ValueError(f"neuron spec {name!r}: name {duplicated[0]!r} is declared twice")
        for state in states:
            if f"{state}{NEW_SUFFIX}" in seen:
                raise ValueError(
                    f"neuron spec {name!r}: name {state}{NEW_SUFFIX!r} is reserved for the "
                    f"updated value of state {state!r}"
                )
        return tuple(checked)

    def _trees(self) -> dict[str, Any]:
        name, states = self.name, self.states
        params = frozenset(self.param_names)
        unknown = sorted(set(self.update) - set(states))
        if unknown:
            raise ValueError(f"neuron spec {name!r}: update names {unknown[0]!r}, not a state")
        missing = [state for state in states if state not in self.update]
        if missing:
            raise ValueError(f"neuron spec {name!r}: state {missing[0]!r} has no update")
        new = frozenset(f"{state}{NEW_SUFFIX}" for state in states)
        update_names = frozenset(states) | params | new | {INPUT}
        update = {
            state: _parse(name, f"update of {state!r}", self.update[state], update_names)
            for state in states
        }
        fire = None
        if self.fire is not None:
            fire = _parse(name, "fire", self.fire, frozenset(states) | params | {INPUT})
        elif self.reset:
            raise ValueError(
                f"neuron spec {name!r}: a neuron without fire (a readout) cannot reset "
                f"(reset names {sorted(self.reset)[0]!r})"
            )
        unknown = sorted(set(self.reset) - set(states))
        if unknown:
            raise ValueError(f"neuron spec {name!r}: reset names {unknown[0]!r}, not a state")
        reset_names = frozenset(states) | params | {INPUT, SPIKE}
        reset = {
            state: _parse(name, f"reset of {state!r}", text, reset_names)
            for state, text in self.reset.items()
        }
        update_order(name, states, update)
        return {"update": MappingProxyType(update), "fire": fire, "reset": MappingProxyType(reset)}

    def __hash__(self) -> int:
        return hash(
            (
                self.name,
                self.states,
                self.params,
                tuple(self.update.items()),
                self.fire,
                tuple(self.reset.items()),
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from the equations (the parsed trees and read-only views do not pickle).
        arguments = (self.name, self.states, self.params, dict(self.update), self.fire)
        return (NeuronSpec, (*arguments, dict(self.reset), self.description))

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(param for param, _ in self.params)

    @property
    def defaults(self) -> dict[str, float]:
        return dict(self.params)

    @property
    def spiking(self) -> bool:
        return self.fire is not None

    def with_reset(self, mode: str, *, v_reset: float = 0.0) -> NeuronSpec:
        """This neuron with its first state's reset replaced: ``"subtract"`` keeps the
        spec's own, ``"zero"`` sets the state to the param ``v_reset`` where it spiked
        (``v*(1-s) + s*v_reset``, exact for 0/1 spikes), ``"none"`` drops it."""
        if mode not in RESET_MODES:
            raise ValueError(f"reset must be one of {RESET_MODES}, got {mode!r}")
        if mode == "subtract":
            return self
        if not self.spiking:
            raise ValueError(f"neuron {self.name!r} does not spike: it has no reset to replace")
        first = self.states[0]
        reset = {state: text for state, text in self.reset.items() if state != first}
        params = self.params
        if mode == "zero":
            reset[first] = f"{first}*(1 - s) + s*v_reset"
            if "v_reset" not in self.param_names:
                params = (*params, ("v_reset", float(v_reset)))
        return NeuronSpec(
            f"{self.name}_reset_{mode}",
            self.states,
            params,
            dict(self.update),
            self.fire,
            reset,
            self.description,
        )


def update_order(spec: str, states: tuple[str, ...], update: Mapping[str, Node]) -> tuple[str, ...]:
    """The states in an order where each update comes after the updates it reads
    (``<state>_new``); the declared order among independent ones.  A cycle is an error."""
    needs = {
        state: {
            name[: -len(NEW_SUFFIX)]
            for name in names_in(update[state])
            if name.endswith(NEW_SUFFIX) and name[: -len(NEW_SUFFIX)] in states
        }
        for state in states
    }
    order: list[str] = []
    while len(order) < len(states):
        ready = [s for s in states if s not in order and needs[s] <= set(order)]
        if not ready:
            stuck = [s for s in states if s not in order]
            raise ValueError(
                f"neuron spec {spec!r}: the updates of {stuck} read each other's new values "
                f"(a cycle the step order cannot express), first at {stuck[0]!r}"
            )
        order.append(ready[0])
    return tuple(order)


def neuron_specs(items: Iterable[object], source: str) -> list[NeuronSpec]:
    """``items`` checked to be NeuronSpecs (what a plugin's hook returned)."""
    specs = []
    for item in items:
        if not isinstance(item, NeuronSpec):
            raise TypeError(f"{source} returned {type(item).__name__}, not a NeuronSpec")
        specs.append(item)
    return specs
