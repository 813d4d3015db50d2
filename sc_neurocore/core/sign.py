"""The sign an expression has by its form alone, whatever its names' values.

The C emission uses it to call the exp of a non-positive argument (``sc_exp_nonpositive``,
cheaper: no overflow path) where a formula's exp argument cannot be positive, as the
surrogates' ``exp(-abs(...))``.  The rules hold in floating point (rounding is monotone, so a
sum or product of non-negative values stays non-negative); NaN is allowed anywhere, since
every consumer passes it through.  A name is of unknown sign: parameters are not assumed
positive.
"""

from __future__ import annotations

from collections.abc import Callable

from .expression import Bin, Call, Neg, Node, Num, integer_power

__all__ = ["nonnegative", "nonpositive"]

#: Functions of the vocabulary whose value is never negative.
_NONNEGATIVE_FUNCTIONS = frozenset({"abs", "exp", "sqrt", "cosh", "sigmoid"})


def nonnegative(node: Node) -> bool:
    """Whether ``node`` is >= 0 (or NaN) for every value of its names."""
    if isinstance(node, Num):
        return node.value >= 0
    if isinstance(node, Call) and node.function in _NONNEGATIVE_FUNCTIONS:
        return True
    if isinstance(node, Bin) and node.op == "**":
        power = integer_power(node.right)
        return (power is not None and power % 2 == 0) or nonnegative(node.left)
    if isinstance(node, Bin) and node.op == "*" and node.left == node.right:
        return True
    return _by_parts(node, nonnegative, nonpositive, "maximum")


def nonpositive(node: Node) -> bool:
    """Whether ``node`` is <= 0 (or NaN) for every value of its names."""
    if isinstance(node, Num):
        return node.value <= 0
    return _by_parts(node, nonpositive, nonnegative, "minimum")


Test = Callable[[Node], bool]


def _by_parts(node: Node, same: Test, opposite: Test, either: str) -> bool:
    """The rules both signs share, from the operands: ``same`` tests the sign asked for,
    ``opposite`` the other; ``either`` is the function one such operand makes so."""
    if isinstance(node, Neg):
        return opposite(node.operand)
    if isinstance(node, Call) and node.function in ("minimum", "maximum"):
        combine = any if node.function == either else all
        return combine(same(a) for a in node.args)
    if not isinstance(node, Bin):
        return False
    left, right = node.left, node.right
    if node.op in ("*", "/"):  # >= 0: operands of one sign; <= 0: of opposite signs
        if same is nonnegative:
            return (same(left) and same(right)) or (opposite(left) and opposite(right))
        return (same(left) and opposite(right)) or (opposite(left) and same(right))
    if node.op == "+":
        return same(left) and same(right)
    if node.op == "-":
        return same(left) and opposite(right)
    return False
