"""The C source of a neuron's step program: ``neuron.c`` with every placeholder written out.

Every assignment of the program (:mod:`sc_neurocore.core.step_program`) becomes one C
statement: :func:`~sc_neurocore.core.formula.c_expression` of its tree, with every
variable renamed by position (``s<k>`` a state, ``p<j>`` a parameter, ``u<k>``, ``gp<k>``,
...), so no user name reaches C.  A compound expression of scalar parameters alone is
computed once, in double, and rounded to the compute type where it meets a per-neuron
value, which is what torch does with the Python floats it is given; every other operation
is the program's own, in its order, so the compiled spikes equal the torch kernels'.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...core.derivative import names_in, renamed
from ...core.expression import Bin, Call, Compare, Neg, Node, Num, Var
from ...core.formula import c_expression
from ...core.spec import SurrogateSpec
from ...core.step_program import (
    FIRE,
    GRAD_FIRE,
    GRAD_OUT,
    GRAD_X,
    SPIKE_VALUE,
    SURROGATE_GRAD,
    StepProgram,
    grad_in,
    grad_param,
    grad_prev,
    grad_updated,
    new,
    updated,
)
from .build import VECTOR_FUNCTIONS, exp_calls, fill_template

__all__ = ["SOURCE", "c_names", "generate_source", "history_rows", "memo_calls", "placeholders"]

SOURCE = Path(__file__).with_name("neuron.c")


def c_names(program: StepProgram) -> dict[str, str]:
    """Every name of ``program`` -> its C identifier (by position: no user name reaches C)."""
    names = {"x": "xin", FIRE: "fire", SPIKE_VALUE: "spike", SURROGATE_GRAD: "sg"}
    names.update({GRAD_OUT: "go", GRAD_FIRE: "gf", GRAD_X: "gx"})
    for k, state in enumerate(program.states):
        names[state] = f"s{k}"
        for prefix, name in (("u", updated), ("n", new), ("g", grad_in)):
            names[name(state)] = f"{prefix}{k}"
        names[grad_updated(state)], names[grad_prev(state)] = f"gu{k}", f"gp{k}"
    for j, param in enumerate(program.params):
        names[param], names[grad_param(param)] = f"p{j}", f"dp{j}"
    return names


def _rebuilt(node: Node, child: Callable[[Node], Node]) -> Node:
    """``node`` with ``child`` applied to each of its operands."""
    if isinstance(node, Neg):
        return Neg(child(node.operand))
    if isinstance(node, (Bin, Compare)):
        return dataclasses.replace(node, left=child(node.left), right=child(node.right))
    if isinstance(node, Call):
        return Call(node.function, tuple(child(a) for a in node.args))
    return node


def _hoisted(node: Node, scalars: frozenset[str], table: dict[Node, str]) -> Node:
    """``node`` with each largest compound subtree of scalar parameters alone replaced by a
    name ``h<i>`` (``table``: subtree -> name): torch computes those in Python floats."""
    if isinstance(node, (Num, Var)):
        return node
    if names_in(node) <= scalars:
        return Var(table.setdefault(node, f"h{len(table)}"))
    if isinstance(node, Call) and node.function == "fma":
        a, b, c = node.args
        if names_in(a) | names_in(b) <= scalars:  # torch: the float product, then + c
            return Bin("+", _hoisted(Bin("*", a, b), scalars, table), _hoisted(c, scalars, table))
    return _rebuilt(node, lambda operand: _hoisted(operand, scalars, table))


def memo_calls(program: StepProgram) -> tuple[Node, ...]:
    """The calls of vector-math functions (``exp``, ...) in the step's forward assignments
    whose arguments read only the step's inputs (states entering it, ``x``, parameters):
    the backward's first pass records their values beside the states, and its second pass
    reads them back instead of calling again (the call is most of an exp neuron's step)."""
    inputs = frozenset((*program.states, *program.params, "x"))
    found: dict[Node, None] = {}

    def visit(node: Node) -> Node:
        if isinstance(node, Call) and node.function in VECTOR_FUNCTIONS:
            if names_in(node) <= inputs:
                found.setdefault(node)
                return node
        return _rebuilt(node, visit)

    for assign in program.forward:
        visit(assign.value)
    return tuple(found)


def history_rows(program: StepProgram, surrogate: SurrogateSpec | None) -> int:
    """Rows per step of the backward's history (``ROWS`` in neuron.c): the states entering
    the step, the recorded calls of :func:`memo_calls`, and the surrogate's exp calls at the
    step's fire value (``build.exp_calls`` of its C form, as ``fill_template`` splits it)."""
    grad = surrogate.c_grad if program.spiking and surrogate is not None else None
    calls = len(exp_calls(grad)[0]) if grad else 0
    return len(program.states) + len(memo_calls(program)) + calls


def _memoised(node: Node, memos: dict[Node, str]) -> Node:
    """``node`` with every call of ``memos`` replaced by the name holding its value."""
    if node in memos:
        return Var(memos[node])
    return _rebuilt(node, lambda operand: _memoised(operand, memos))


@dataclass(frozen=True)
class _Writer:
    """The C text of one program's assignments, for one layout of its parameters."""

    program: StepProgram
    per_neuron: tuple[bool, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", c_names(self.program))
        object.__setattr__(self, "table", {})
        memos = {call: f"memo{i}" for i, call in enumerate(memo_calls(self.program))}
        object.__setattr__(self, "memos", memos)

    def expression(self, node: Node, memo: bool = True) -> str:
        scalars = frozenset(
            p for p, arrays in zip(self.program.params, self.per_neuron) if not arrays
        )
        if memo:
            node = _memoised(node, self.memos)  # type: ignore[attr-defined]
        tree = _hoisted(node, scalars, self.table)  # type: ignore[attr-defined]
        names: dict[str, str] = self.names  # type: ignore[attr-defined]
        return c_expression(renamed(tree, lambda name: names.get(name, name)))

    def lines(self, assigns: Sequence[Any]) -> str:
        names: dict[str, str] = self.names  # type: ignore[attr-defined]
        return " ".join(
            f"const scalar_t {names[a.target]} = {self.expression(a.value)};" for a in assigns
        )

    def scalars(self) -> str:
        """The scalar parameters and the hoisted values (call after every :meth:`lines`)."""
        doubles = {p: f"d{j}" for j, p in enumerate(self.program.params)}
        lines = [
            f"const double d{j} = scalars[{j}]; const scalar_t p{j} = (scalar_t)d{j};"
            for j, arrays in enumerate(self.per_neuron)
            if not arrays
        ]
        table: dict[Node, str] = self.table  # type: ignore[attr-defined]
        for tree, name in table.items():
            value = c_expression(renamed(tree, doubles.__getitem__)).replace("scalar_t", "double")
            lines.append(f"const scalar_t {name} = (scalar_t)({value});")
        return " ".join(lines)


def _rows(count: int, text: str) -> str:
    return " ".join(text.format(k=k) for k in range(count))


def placeholders(program: StepProgram, per_neuron: tuple[bool, ...]) -> dict[str, str]:
    """The text of every ``NEURON_*`` placeholder of ``neuron.c`` for ``program``."""
    writer = _Writer(program, per_neuron)
    k, arrays = len(program.states), [j for j, a in enumerate(per_neuron) if a]
    learn = program.param_gradients()
    memos: dict[Node, str] = writer.memos  # type: ignore[attr-defined]
    found = {
        "NEURON_STATE_COUNT": str(k),
        "NEURON_MEMO_COUNT": str(len(memos)),
        "NEURON_MEMO_COMPUTE": " ".join(
            f"const scalar_t {name} = {writer.expression(call, memo=False)};"
            for call, name in memos.items()
        ),
        "NEURON_MEMO_LOAD": _rows(len(memos), "const scalar_t memo{k} = memorow{k}[i];"),
        "NEURON_MEMO_KEEP": _rows(len(memos), "memorow{k}[i] = memo{k};"),
        "NEURON_PARAM_COUNT": str(len(program.params)),
        "NEURON_FORWARD": writer.lines(program.forward)
        + (" const scalar_t spike = (scalar_t)(fire > 0);" if program.spiking else "")
        + " "
        + writer.lines(program.leave),
        "NEURON_OUTPUT": writer.names[program.output],  # type: ignore[attr-defined]
        "NEURON_SURROGATE": "const scalar_t sg = surrogate_DTYPE(fire, callrows + i, chunk, "
        "sc_params);"
        if program.spiking
        else "",
        "NEURON_CALLS_KEEP": "surrogate_calls_DTYPE(fire, sc_params, callrows + i, chunk);"
        if program.spiking
        else "",
        "NEURON_BACKWARD": writer.lines(program.core_backward()),
        "NEURON_SHARES": writer.lines(learn)
        + " "
        + " ".join(f"share{j}[i] += dp{j};" for j in range(len(learn))),
        # job->arrays holds the per-neuron parameters only, in order: param j is at `slot`.
        "NEURON_ARRAYS": " ".join(
            f"const scalar_t *restrict array{j} = job->arrays[{slot}] + c;"
            for slot, j in enumerate(arrays)
        ),
        "NEURON_LOAD": _rows(k, "const scalar_t s{k} = row{k}[i];")
        + " "
        + " ".join(f"const scalar_t p{j} = array{j}[i];" for j in arrays),
        "NEURON_KEEP": _rows(k, "keep{k}[i] = n{k};"),
        "NEURON_ROWS_IN_PLACE": _rows(
            k, "scalar_t *restrict row{k} = state + {k} * chunk; scalar_t *keep{k} = row{k};"
        ),
        "NEURON_ROWS_RECORD": _rows(
            k,
            "const scalar_t *restrict row{k} = history + (t * ROWS + {k}) * chunk; "
            "scalar_t *restrict keep{k} = history + ((t + 1) * ROWS + {k}) * chunk;",
        )
        + " "
        + _rows(
            len(memos),
            "scalar_t *restrict memorow{k} = history + (t * ROWS + STATES + {k}) * chunk;",
        ),
        "NEURON_ROWS_REPLAY": _rows(
            k, "const scalar_t *restrict row{k} = history + (t * ROWS + {k}) * chunk;"
        )
        + " "
        + _rows(
            len(memos),
            "const scalar_t *restrict memorow{k} = history + (t * ROWS + STATES + {k}) * chunk;",
        ),
        "NEURON_ROWS_GRADS": _rows(k, "scalar_t *restrict grad{k} = grads + {k} * chunk;")
        + " "
        + " ".join(
            f"scalar_t *restrict share{j} = shares + {j} * chunk;"
            for j in range(len(program.params))
        ),
        "NEURON_GRADS_IN": _rows(k, "const scalar_t g{k} = grad{k}[i];"),
        "NEURON_GRADS_OUT": _rows(k, "grad{k}[i] = gp{k};"),
    }
    found["NEURON_SCALARS"] = writer.scalars()  # after every expression has been written
    return found


def generate_source(
    program: StepProgram,
    surrogate: SurrogateSpec | None,
    per_neuron: tuple[bool, ...],
    dtype: torch.dtype,
    vector_math: bool,
) -> str:
    """The C source of ``program`` with ``surrogate`` (None for a readout) for ``dtype``
    inputs (one dtype per library: the parity suite builds only what it runs)."""
    names, grad = ((), "0") if surrogate is None else (surrogate.param_names, surrogate.c_grad)
    assert grad is not None
    return fill_template(
        SOURCE,
        names,
        grad,
        vector_math,
        storage=True,
        placeholders=placeholders(program, per_neuron),
        dtypes=(str(dtype).removeprefix("torch."),),
    )
