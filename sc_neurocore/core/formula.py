"""One formula of a surrogate's g(x), from which every backend's form is derived.

A formula is a Python-syntax expression over ``x`` and the spec's parameter names in a
small vocabulary (no other names, attributes, keywords or statements):

* numbers (``2``, ``0.5``, ``1e-3``), the constant ``pi``;
* ``+ - * /``, unary ``-``, ``**`` (an integer literal exponent becomes multiplications);
* ``abs exp log sqrt atan tanh cosh erf sigmoid`` of one argument;
* ``minimum(a, b)``, ``maximum(a, b)``;
* ``where(condition, a, b)``, the condition one comparison ``< <= > >= == !=``;
* ``fma(a, b, c)``: ``a*b + c`` rounded once (neuron step programs write every
  ``a*b + c`` so; see :mod:`sc_neurocore.core.step_program`).

:func:`parse` checks the text against that vocabulary with :mod:`ast` (nothing is ever
evaluated as Python) and returns a :class:`Formula`, which gives the torch reference
(:meth:`Formula.torch`, differentiable torch ops in x's dtype), one C99 ``<tgmath.h>``
expression (:meth:`Formula.c`, for the compiled CPU kernels) and one Triton expression
(:meth:`Formula.triton`, for ``@triton.jit`` bodies; helpers come from
:mod:`sc_neurocore.kernels.triton`).  All three follow the same operations in the same
order, so they differ only by rounding.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from .expression import (
    FUNCTIONS,
    Bin,
    Call,
    Compare,
    FormulaError,
    Neg,
    Node,
    Num,
    Var,
    integer_power,
    tree_of,
)
from .sign import nonpositive

__all__ = [
    "FUNCTIONS",
    "Formula",
    "FormulaError",
    "c_expression",
    "parse",
    "torch_closure",
    "triton_expression",
]


def _number(value: float) -> str:
    return repr(float(value))


def _c_number(value: float) -> str:
    # A bare double literal would promote a float kernel's arithmetic to double.
    return f"((scalar_t){float(value)!r})"


# -- the C expression -----------------------------------------------------------------

_C_FUNCTIONS = {"abs": "fabs"}


def _c(node: Node) -> str:
    if isinstance(node, Num):
        return _c_number(node.value)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Neg):
        return f"(-{_c(node.operand)})"
    if isinstance(node, Compare):
        return f"({_c(node.left)} {node.op} {_c(node.right)})"
    if isinstance(node, Bin):
        if node.op == "**":
            power = integer_power(node.right)
            if power is not None:
                return "(" + " * ".join([_c(node.left)] * power) + ")"
            return f"pow({_c(node.left)}, {_c(node.right)})"
        return f"({_c(node.left)} {node.op} {_c(node.right)})"
    args = [_c(a) for a in node.args]
    if node.function == "where":
        return f"({args[0]} ? {args[1]} : {args[2]})"
    if node.function == "sigmoid":
        return f"(1 / (1 + exp(-{args[0]})))"
    if node.function == "exp" and nonpositive(node.args[0]):  # kernels/native/vexp.c
        return f"sc_exp_nonpositive({args[0]})"
    if node.function in ("minimum", "maximum"):  # a select vectorises where fmin/fmax may not
        a, b = args
        return f"({a} {'<' if node.function == 'minimum' else '>'} {b} ? {a} : {b})"
    return f"{_C_FUNCTIONS.get(node.function, node.function)}({', '.join(args)})"


# -- the Triton expression ------------------------------------------------------------

#: Vocabulary functions that triton.language has; the others are jit helpers named
#: ``sc_<function>`` in :mod:`sc_neurocore.kernels.triton`.
_TRITON_FUNCTIONS = {
    "abs": "tl.abs",
    "exp": "tl.exp",
    "log": "tl.log",
    "sqrt": "tl.sqrt",
    "erf": "tl.erf",
    "sigmoid": "tl.sigmoid",
    "minimum": "tl.minimum",
    "fma": "tl.fma",
    "maximum": "tl.maximum",
    "where": "tl.where",
}
TRITON_HELPERS = ("sc_atan", "sc_tanh", "sc_cosh", "sc_pow")


def _has_names(node: Node) -> bool:
    if isinstance(node, Var):
        return True
    if isinstance(node, Neg):
        return _has_names(node.operand)
    if isinstance(node, (Bin, Compare)):
        return _has_names(node.left) or _has_names(node.right)
    return isinstance(node, Call) and any(_has_names(a) for a in node.args)


def _folded(node: Node) -> float | None:
    """A name-free subtree's value, computed in Python's float64 (None if it is not one)."""
    if isinstance(node, Num) or isinstance(node, Compare) or _has_names(node):
        return None
    try:
        value = torch_closure(node)({})
    except (ArithmeticError, ValueError, TypeError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def _triton(node: Node) -> str:
    # Triton types a function of literals (sqrt(2 * pi)) as fp32: fold it to one literal,
    # which then takes the precision of the fp64 or fp32 value it meets.
    value = _folded(node)
    if value is not None:
        return _number(value)
    if isinstance(node, Num):
        return _number(node.value)
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Neg):
        return f"(-{_triton(node.operand)})"
    if isinstance(node, (Compare, Bin)) and node.op != "**":
        return f"({_triton(node.left)} {node.op} {_triton(node.right)})"
    if isinstance(node, Bin):
        power = integer_power(node.right)
        if power is not None:
            return "(" + " * ".join([_triton(node.left)] * power) + ")"
        return f"sc_pow({_triton(node.left)}, {_triton(node.right)})"
    assert isinstance(node, Call)
    name = _TRITON_FUNCTIONS.get(node.function, f"sc_{node.function}")
    return f"{name}({', '.join(_triton(a) for a in node.args)})"


# -- the torch reference --------------------------------------------------------------

Value = Any  # a Tensor, or a Python float while no operand depends on x
_TORCH_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "atan": torch.atan,
    "tanh": torch.tanh,
    "cosh": torch.cosh,
    "erf": torch.erf,
    "sigmoid": torch.sigmoid,
}
_MATH_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "atan": math.atan,
    "tanh": math.tanh,
    "cosh": math.cosh,
    "erf": math.erf,
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def torch_closure(node: Node) -> Callable[[Mapping[str, Any]], Value]:
    """``node`` as a closure over an environment of names -> tensors or floats.

    Constant subtrees stay Python floats; ``where`` of two constants fills the shape of
    ``env["x"]`` (every formula has an ``x``: a surrogate's argument, a neuron's input)."""
    if isinstance(node, Num):
        value = node.value
        return lambda env: value
    if isinstance(node, Var):
        name = node.name
        return lambda env: env[name]
    if isinstance(node, Neg):
        operand = torch_closure(node.operand)
        return lambda env: -operand(env)
    if isinstance(node, (Bin, Compare)):
        left, right, op = (
            torch_closure(node.left),
            torch_closure(node.right),
            _ARITHMETIC[node.op],
        )
        return lambda env: op(left(env), right(env))
    args = [torch_closure(a) for a in node.args]
    name = node.function
    if name == "where":
        cond, yes, no = args

        def where(env: Mapping[str, Any]) -> Value:
            a, b = yes(env), no(env)
            if not isinstance(a, Tensor) and not isinstance(b, Tensor):
                a = torch.full_like(env["x"], a)
            return torch.where(cond(env), a, b)

        return where
    if name == "fma":
        return _fma_closure(*args)
    if name in ("minimum", "maximum"):
        first, second = args
        pick = torch.minimum if name == "minimum" else torch.maximum
        python = min if name == "minimum" else max
        bound = "max" if name == "minimum" else "min"

        def extreme(env: Mapping[str, Any]) -> Value:
            a, b = first(env), second(env)
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                return pick(a, b)
            if isinstance(a, Tensor):
                return torch.clamp(a, **{bound: b})
            if isinstance(b, Tensor):
                return torch.clamp(b, **{bound: a})
            return python(a, b)

        return extreme
    (operand,) = args
    tensor_fn, float_fn = _TORCH_FUNCTIONS[name], _MATH_FUNCTIONS[name]

    def apply(env: Mapping[str, Any]) -> Value:
        value = operand(env)
        return tensor_fn(value) if isinstance(value, Tensor) else float_fn(value)

    return apply


def _fma_closure(
    *args: Callable[[Mapping[str, Any]], Value],
) -> Callable[[Mapping[str, Any]], Value]:
    """``a*b + c`` rounded once, with the torch ops a cell's decay uses (``torch.add`` with
    ``alpha``, ``torch.addcmul``): what the compiled kernels' ``fma`` and Triton's
    ``tl.fma`` compute, so fused and stepwise neurons agree bit for bit."""
    first, second, third = args

    def fma(env: Mapping[str, Any]) -> Value:
        a, b, c = first(env), second(env), third(env)
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            return a * b + c
        if not isinstance(c, Tensor):
            c = scalar_tensor(c, a if isinstance(a, Tensor) else b)
        if not isinstance(a, Tensor):
            return torch.add(c, b, alpha=a)
        if not isinstance(b, Tensor):
            return torch.add(c, a, alpha=b)
        return torch.addcmul(c, a, b)

    return fma


def scalar_tensor(value: float, like: Tensor) -> Tensor:
    """``value`` as a 0-dim tensor of ``like``'s dtype and device."""
    return torch.tensor(value, dtype=like.dtype, device=like.device)


@dataclass(frozen=True)
class Formula:
    """A parsed formula of ``x`` and ``params``; build one with :func:`parse`."""

    text: str
    params: tuple[str, ...]
    tree: Node = field(repr=False)
    _closure: Callable[[Mapping[str, Any]], Value] = field(repr=False, compare=False)

    def torch(self, x: Tensor, **params: float) -> Tensor:
        """g(x) with differentiable torch ops, in x's dtype (the reference form)."""
        value = self._closure({**params, "x": x})
        return value if isinstance(value, Tensor) else torch.full_like(x, value)

    def c(self) -> str:
        """g(x) as one C99 ``<tgmath.h>`` expression of ``x`` and the parameter names."""
        return _c(self.tree)

    def triton(self) -> str:
        """g(x) as one Triton expression of ``x`` and the parameter names.

        It expects ``tl`` (triton.language) and the helpers :data:`TRITON_HELPERS`
        (``from sc_neurocore.kernels.triton import sc_atan, ...``) in the kernel's
        globals; ``x`` and the parameters should be fp32 (or fp64) values.
        """
        return _triton(self.tree)

    def constant(self) -> float | None:
        """g's value if it does not depend on ``x`` or any parameter (straight-through: 1)."""
        return self.tree.value if isinstance(self.tree, Num) else None

    def uses(self) -> frozenset[str]:
        """The functions the formula calls (``**`` with a non-integer exponent: ``pow``)."""
        found: set[str] = set()

        def walk(node: Node) -> None:
            if isinstance(node, Call):
                found.add(node.function)
                for arg in node.args:
                    walk(arg)
            elif isinstance(node, (Bin, Compare)):
                if isinstance(node, Bin) and node.op == "**" and integer_power(node.right) is None:
                    found.add("pow")
                walk(node.left)
                walk(node.right)
            elif isinstance(node, Neg):
                walk(node.operand)

        walk(self.tree)
        return frozenset(found)


def c_expression(node: Node) -> str:
    """``node`` as one C99 ``<tgmath.h>`` expression (variables by their own names)."""
    return _c(node)


def triton_expression(node: Node) -> str:
    """``node`` as one Triton expression (variables by their own names)."""
    return _triton(node)


@lru_cache(maxsize=512)
def parse(text: str, params: tuple[str, ...]) -> Formula:
    """Check ``text`` against the vocabulary, with ``x`` and ``params`` as its names."""
    if not isinstance(text, str) or not text.strip():
        raise FormulaError(f"a formula must be a non-empty string, got {text!r}")
    try:
        expression = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"formula {text!r} is not an expression: {error.msg}") from None
    tree = tree_of(expression.body, frozenset(("x", *params)), text)
    return Formula(text, tuple(params), tree, torch_closure(tree))
