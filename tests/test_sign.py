"""The sign of a formula by its form (core/sign.py) and the exp the C emission picks from it."""

from __future__ import annotations

import math

import pytest
import torch

from sc_neurocore.core.formula import parse
from sc_neurocore.core.sign import nonnegative, nonpositive

PARAMS = ("a", "b")
#: (formula, non-negative by its form, non-positive by its form)
CASES = [
    ("abs(x)", True, False),
    ("-abs(a * x)", False, True),
    ("x * x", True, False),
    ("-(x ** 2) / 2", False, True),
    ("-x", False, False),
    ("-a * abs(x)", False, False),  # a parameter may be negative
    ("exp(x) + sqrt(abs(x))", True, False),
    ("minimum(0, x)", False, True),
    ("maximum(0, x)", True, False),
    ("-abs(x) - abs(a)", False, True),
    ("abs(x) - x", False, False),
    ("2 - abs(x)", False, False),
    ("-cosh(x) * sigmoid(b)", False, True),
    ("x ** 3", False, False),
    ("0", True, True),
]


@pytest.mark.parametrize("text,positive,negative", CASES)
def test_the_sign_by_form(text: str, positive: bool, negative: bool) -> None:
    tree = parse(text, PARAMS).tree
    assert (nonnegative(tree), nonpositive(tree)) == (positive, negative)


@pytest.mark.parametrize("text,positive,negative", CASES)
def test_a_claimed_sign_holds_for_any_values(text: str, positive: bool, negative: bool) -> None:
    """Over values of every sign, infinities and NaN: a claimed sign is never wrong (NaN
    aside), in float32 as in float64."""
    grid = [-1e30, -3.0, -1.0, -1e-3, -0.0, 0.0, 1e-3, 0.5, 2.0, 1e30, -math.inf, math.inf]
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor(grid + [math.nan], dtype=dtype)
        for a in grid:
            for b in (-2.0, 3.0):
                value = parse(text, PARAMS).torch(x, a=a, b=b)
                value = torch.as_tensor(value, dtype=dtype).expand(x.shape)
                known = ~torch.isnan(value)
                if positive:
                    assert (value[known] >= 0).all(), (text, a, b, value)
                if negative:
                    assert (value[known] <= 0).all(), (text, a, b, value)


def test_the_c_form_calls_the_nonpositive_exp_only_where_the_sign_is_known() -> None:
    assert "sc_exp_nonpositive((-fabs(" in parse("exp(-abs(a * x))", PARAMS).c()
    assert "sc_exp_nonpositive(" in parse("exp(-(x * x) / 2)", PARAMS).c()
    for text in ("exp(x)", "exp(-x)", "exp(-a * abs(x))", "exp(minimum(x, 5))"):
        c = parse(text, PARAMS).c()
        assert "sc_exp_nonpositive" not in c and "exp(" in c, c
