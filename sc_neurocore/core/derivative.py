"""Symbolic algebra on formula trees: partial derivatives, substitution, simplification.

A neuron's fused backward pass is derived, not written: :func:`derivative` differentiates an
expression tree (:mod:`sc_neurocore.core.expression`) with respect to one name, and
:func:`simplify` folds what the rules leave behind (``0 * a``, ``a * 1``, ``2 * 3``) so the
generated kernels compute no more than a hand-written one would.  Comparisons (inside
``where``) are piecewise constant: their derivative is zero, as autograd treats them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from .expression import Bin, Call, Compare, Neg, Node, Num, Var

__all__ = ["derivative", "fused", "names_in", "renamed", "simplify", "substituted"]

ZERO, ONE, TWO = Num(0.0), Num(1.0), Num(2.0)


def names_in(node: Node) -> frozenset[str]:
    """Every variable name ``node`` reads."""
    if isinstance(node, Var):
        return frozenset((node.name,))
    if isinstance(node, Neg):
        return names_in(node.operand)
    if isinstance(node, (Bin, Compare)):
        return names_in(node.left) | names_in(node.right)
    if isinstance(node, Call):
        return frozenset().union(*(names_in(arg) for arg in node.args))
    return frozenset()


def substituted(node: Node, values: Mapping[str, Node]) -> Node:
    """``node`` with each variable named in ``values`` replaced by its tree."""
    if isinstance(node, Var):
        return values.get(node.name, node)
    if isinstance(node, Neg):
        return Neg(substituted(node.operand, values))
    if isinstance(node, Bin):
        return Bin(node.op, substituted(node.left, values), substituted(node.right, values))
    if isinstance(node, Compare):
        return Compare(node.op, substituted(node.left, values), substituted(node.right, values))
    if isinstance(node, Call):
        return Call(node.function, tuple(substituted(arg, values) for arg in node.args))
    return node


def renamed(node: Node, rename: Callable[[str], str]) -> Node:
    """``node`` with every variable renamed by ``rename`` (a backend's identifiers)."""
    return substituted(node, {name: Var(rename(name)) for name in names_in(node)})


# -- simplification -------------------------------------------------------------------------


def _value(node: Node) -> float | None:
    return node.value if isinstance(node, Num) else None


def _fold(op: str, a: float, b: float) -> float | None:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b != 0 else None
        value = a**b
        return value if isinstance(value, float) and math.isfinite(value) else None
    except (ArithmeticError, ValueError):
        return None


def _simplify_bin(op: str, left: Node, right: Node) -> Node:
    a, b = _value(left), _value(right)
    if a is not None and b is not None:
        folded = _fold(op, a, b)
        if folded is not None:
            return Num(folded)
    if op == "+":
        if a == 0:
            return right
        if b == 0:
            return left
        if isinstance(right, Neg):
            return _simplify_bin("-", left, right.operand)
    if op == "-":
        if b == 0:
            return left
        if a == 0:
            return simplify(Neg(right))
        if isinstance(right, Neg):
            return _simplify_bin("+", left, right.operand)
    if op == "*":
        if a == 0 or b == 0:
            return ZERO
        if a == 1:
            return right
        if b == 1:
            return left
        if a == -1:
            return simplify(Neg(right))
        if b == -1:
            return simplify(Neg(left))
    if op == "/":
        if a == 0:
            return ZERO
        if b == 1:
            return left
    if op == "**":
        if b == 1:
            return left
        if b == 0:
            return ONE
    return Bin(op, left, right)


def fused(node: Node) -> Node:
    """``node`` with every ``a*b + c`` (and ``c + a*b``) written ``fma(a, b, c)``: one
    rounding, as the cells' torch ops (``add`` with ``alpha``, ``addcmul``), the compiled
    kernels' ``fma`` and Triton's ``tl.fma`` all compute it."""
    if isinstance(node, Neg):
        return Neg(fused(node.operand))
    if isinstance(node, Compare):
        return Compare(node.op, fused(node.left), fused(node.right))
    if isinstance(node, Call):
        return Call(node.function, tuple(fused(arg) for arg in node.args))
    if not isinstance(node, Bin):
        return node
    left, right = fused(node.left), fused(node.right)
    if node.op == "+":
        for product, addend in ((left, right), (right, left)):
            if isinstance(product, Bin) and product.op == "*" and not isinstance(addend, Num):
                return Call("fma", (product.left, product.right, addend))
    return Bin(node.op, left, right)


def simplify(node: Node) -> Node:
    """``node`` with constants folded and identities (``a*1``, ``a+0``, ``0*a``) removed.

    Only rewrites that are exact in floating point for finite values are made, so a
    simplified tree computes what the original computes (``0 * a`` is 0 unless ``a`` is
    infinite, which a state or parameter never is in a finite simulation).
    """
    if isinstance(node, Neg):
        operand = simplify(node.operand)
        if isinstance(operand, Num):
            return Num(-operand.value)
        if isinstance(operand, Neg):
            return operand.operand
        return Neg(operand)
    if isinstance(node, Bin):
        return _simplify_bin(node.op, simplify(node.left), simplify(node.right))
    if isinstance(node, Compare):
        return Compare(node.op, simplify(node.left), simplify(node.right))
    if isinstance(node, Call):
        args = tuple(simplify(arg) for arg in node.args)
        if node.function == "where" and args[1] == args[2]:
            return args[1]
        return Call(node.function, args)
    return node


# -- differentiation ------------------------------------------------------------------------


def _mul(a: Node, b: Node) -> Node:
    return _simplify_bin("*", a, b)


def _add(a: Node, b: Node) -> Node:
    return _simplify_bin("+", a, b)


def _sub(a: Node, b: Node) -> Node:
    return _simplify_bin("-", a, b)


def _div(a: Node, b: Node) -> Node:
    return _simplify_bin("/", a, b)


def _call(name: str, *args: Node) -> Node:
    return Call(name, args)


def _outer(function: str, u: Node) -> Node:
    """d f(u) / du for the one-argument functions of the vocabulary."""
    if function == "abs":
        return _call("where", Compare("<", u, ZERO), Num(-1.0), ONE)
    if function == "exp":
        return _call("exp", u)
    if function == "log":
        return _div(ONE, u)
    if function == "sqrt":
        return _div(Num(0.5), _call("sqrt", u))
    if function == "atan":
        return _div(ONE, _add(ONE, _mul(u, u)))
    if function == "tanh":
        tanh = _call("tanh", u)
        return _sub(ONE, _mul(tanh, tanh))
    if function == "cosh":  # sinh(u), which the vocabulary spells with exp
        return _div(_sub(_call("exp", u), _call("exp", Neg(u))), TWO)
    if function == "erf":
        return _mul(Num(2.0 / math.sqrt(math.pi)), _call("exp", Neg(_mul(u, u))))
    if function == "sigmoid":
        sigmoid = _call("sigmoid", u)
        return _mul(sigmoid, _sub(ONE, sigmoid))
    raise ValueError(f"no derivative rule for {function}()")


def derivative(node: Node, name: str) -> Node:
    """The simplified partial derivative of ``node`` with respect to the variable ``name``."""
    if name not in names_in(node):
        return ZERO
    if isinstance(node, Var):
        return ONE
    if isinstance(node, Neg):
        return simplify(Neg(derivative(node.operand, name)))
    if isinstance(node, Bin):
        left, right = simplify(node.left), simplify(node.right)
        d_left, d_right = derivative(left, name), derivative(right, name)
        if node.op == "+":
            return _add(d_left, d_right)
        if node.op == "-":
            return _sub(d_left, d_right)
        if node.op == "*":
            return _add(_mul(d_left, right), _mul(left, d_right))
        if node.op == "/":
            # (a/b)' = a'/b - a b' / b^2
            return _sub(_div(d_left, right), _div(_mul(left, d_right), _mul(right, right)))
        # a ** b
        exponent = _value(right)
        if exponent is not None:
            reduced = _simplify_bin("**", left, Num(exponent - 1.0))
            return _mul(_mul(Num(exponent), reduced), d_left)
        power = simplify(node)
        via_exponent = _mul(d_right, _call("log", left))
        via_base = _div(_mul(right, d_left), left)
        return _mul(power, _add(via_exponent, via_base))
    if isinstance(node, Call):
        args = node.args
        if node.function == "where":
            condition, yes, no = args
            return simplify(_call("where", condition, derivative(yes, name), derivative(no, name)))
        if node.function == "fma":
            a, b, c = args
            product = Bin("*", a, b)
            return _add(derivative(product, name), derivative(c, name))
        if node.function in ("minimum", "maximum"):
            a, b = args
            op = "<" if node.function == "minimum" else ">"
            # Ties follow the second argument, as torch.minimum/maximum split them evenly:
            # a kernel never sits exactly on one in practice.
            return simplify(
                _call("where", Compare(op, a, b), derivative(a, name), derivative(b, name))
            )
        (operand,) = args
        return _mul(_outer(node.function, operand), derivative(operand, name))
    return ZERO  # Num, Compare
