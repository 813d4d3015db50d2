"""The sign an expression has by its form alone, whatever its names' values.

The C emission uses it to call the exp of a non-positive argument (``sc_exp_nonpositive``,
cheaper: no overflow path) where a formula's exp argument cannot be positive, as the
surrogates' ``exp(-abs(...))``.  The rules hold in floating point (rounding is monotone, so a
sum or product of non-negative values stays non-negative); NaN is allowed anywhere, since
every consumer passes it through.  A name is of unknown sign: parameters are not assumed
positive.
"""

from __future__ import annotations

from .expression import Bin, Call, Neg, Node, Num, integer_power

__all__ = ["nonnegative", "nonpositive"]

#: Functions of the vocabulary whose value is never negative.
_NONNEGATIVE_FUNCTIONS = frozenset({"abs", "exp", "sqrt", "cosh", "sigmoid"})


def nonnegative(node: Node) -> bool:
    """Whether ``node`` is >= 0 (or NaN) for every value of its names."""
    if isinstance(node, Num):
        return node.value >= 0
    if isinstance(node, Neg):
        return nonpositive(node.operand)
    if isinstance(node, Call):
        if node.function in _NONNEGATIVE_FUNCTIONS:
            return True
        if node.function == "minimum":
            return all(nonnegative(a) for a in node.args)
        if node.function == "maximum":
            return any(nonnegative(a) for a in node.args)
        return False
    if isinstance(node, Bin):
        left, right = node.left, node.right
        if node.op == "**":
            power = integer_power(right)
            return (power is not None and power % 2 == 0) or nonnegative(left)
        if node.op == "*" and left == right:
            return True
        if node.op in ("*", "/"):
            return _same_sign(left, right)
        if node.op == "+":
            return nonnegative(left) and nonnegative(right)
        if node.op == "-":
            return nonnegative(left) and nonpositive(right)
    return False


def nonpositive(node: Node) -> bool:
    """Whether ``node`` is <= 0 (or NaN) for every value of its names."""
    if isinstance(node, Num):
        return node.value <= 0
    if isinstance(node, Neg):
        return nonnegative(node.operand)
    if isinstance(node, Call):
        if node.function == "minimum":
            return any(nonpositive(a) for a in node.args)
        if node.function == "maximum":
            return all(nonpositive(a) for a in node.args)
        return False
    if isinstance(node, Bin):
        left, right = node.left, node.right
        if node.op in ("*", "/"):
            return (nonnegative(left) and nonpositive(right)) or (
                nonpositive(left) and nonnegative(right)
            )
        if node.op == "+":
            return nonpositive(left) and nonpositive(right)
        if node.op == "-":
            return nonpositive(left) and nonnegative(right)
    return False


def _same_sign(left: Node, right: Node) -> bool:
    return (nonnegative(left) and nonnegative(right)) or (nonpositive(left) and nonpositive(right))
