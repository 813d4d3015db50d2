"""The expression tree of a formula: its vocabulary, its nodes, and the checked parse.

:func:`tree_of` turns the :mod:`ast` of a formula's text into frozen nodes, refusing
anything outside the vocabulary (nothing is ever evaluated as Python);
:mod:`sc_neurocore.core.formula` derives every backend's form from that tree.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_EXPANDED_POWER",
    "Bin",
    "Call",
    "Compare",
    "FormulaError",
    "Neg",
    "Node",
    "Num",
    "Var",
    "integer_power",
    "tree_of",
]

#: Functions of the vocabulary and their number of arguments.
FUNCTIONS = {
    "abs": 1,
    "exp": 1,
    "log": 1,
    "sqrt": 1,
    "atan": 1,
    "tanh": 1,
    "cosh": 1,
    "erf": 1,
    "sigmoid": 1,
    "minimum": 2,
    "maximum": 2,
    "where": 3,
    "fma": 3,
}
CONSTANTS = {"pi": math.pi}
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
#: Integer exponents written out as products (pow() is slow and not vectorised).
MAX_EXPANDED_POWER = 4


class FormulaError(ValueError):
    """A formula outside the vocabulary; the message names the offending part."""


# The expression tree: one small frozen dataclass per node kind.
@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class Bin:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


Node = Num | Var | Neg | Bin | Call | Compare


def tree_of(node: ast.AST, names: frozenset[str], text: str) -> Node:
    """The whitelisted AST of ``text`` as a :data:`Node` tree; anything else is an error."""

    def refuse(what: str) -> FormulaError:
        return FormulaError(f"formula {text!r}: {what} is not in the formula vocabulary")

    def convert(node: ast.AST, condition: bool = False) -> Node:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise refuse(f"the literal {node.value!r}")
            return Num(float(node.value))
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return Num(CONSTANTS[node.id])
            if node.id not in names:
                allowed = ", ".join(sorted(names | CONSTANTS.keys()))
                raise FormulaError(f"formula {text!r}: unknown name {node.id!r} (known: {allowed})")
            return Var(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = convert(node.operand)
            return Neg(operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return Bin(_BINARY[type(node.op)], convert(node.left), convert(node.right))
        if isinstance(node, ast.Compare):
            if not condition:
                raise refuse("a comparison outside where()'s first argument")
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise refuse("a chained or unknown comparison")
            return Compare(
                _COMPARE[type(node.ops[0])], convert(node.left), convert(node.comparators[0])
            )
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise refuse(f"the function {called!r}")
            name = node.func.id
            if node.keywords or len(node.args) != FUNCTIONS[name]:
                raise FormulaError(
                    f"formula {text!r}: {name}() takes {FUNCTIONS[name]} positional argument(s)"
                )
            args = tuple(
                convert(a, condition=(name == "where" and i == 0)) for i, a in enumerate(node.args)
            )
            if name == "where" and not isinstance(args[0], Compare):
                raise FormulaError(
                    f"formula {text!r}: where()'s first argument must be a comparison"
                )
            return Call(name, args)
        raise refuse(f"{type(node).__name__} {ast.unparse(node)!r}")

    return convert(node)


def integer_power(node: Node) -> int | None:
    """A small positive integer exponent (written out as products), else None."""
    if isinstance(node, Num) and node.value.is_integer() and 1 <= node.value <= MAX_EXPANDED_POWER:
        return int(node.value)
    return None
