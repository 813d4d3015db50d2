"""The formula vocabulary: what parses, what is refused, and that every derived form agrees."""

from __future__ import annotations

import math

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.formula import FUNCTIONS, FormulaError, parse
from sc_neurocore.core.spec import SurrogateSpec

REFUSED = [
    "__import__('os')",
    "x.abs()",
    "open(x)",
    "lambda: x",
    "x if x > 0 else 0",
    "slope",  # unknown name for this parameter list
    "x > 0",  # comparison outside where()
    "where(x, 1, 0)",  # condition must be a comparison
    "where(0 < x < 1, 1, 0)",  # chained comparison
    "exp(x, 2)",
    "exp(x=x)",
    "True * x",
    "'1' * x",
    "x @ x",
    "[x][0]",
    "",
]


@pytest.mark.parametrize("text", REFUSED)
def test_outside_the_vocabulary_is_refused(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text, ("width",))


def test_every_function_of_the_vocabulary_parses_and_evaluates() -> None:
    x = torch.linspace(0.1, 2.0, 7, dtype=torch.float64)
    for name, arity in FUNCTIONS.items():
        args = ["x > 1" if name == "where" and i == 0 else "x" for i in range(arity)]
        formula = parse(f"{name}({', '.join(args)})", ())
        value = formula.torch(x)
        assert value.dtype == x.dtype and value.shape == x.shape, name
        assert formula.c() and formula.triton(), name


def test_torch_form_matches_math_and_keeps_dtype() -> None:
    formula = parse("a * exp(-abs(x)) + sigmoid(x) ** 2 - where(x >= 0, pi, 1) / sqrt(a)", ("a",))
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=dtype)
        assert formula.torch(x, a=2.0).dtype == dtype
    x = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    expected = [
        2 * math.exp(-abs(v))
        + (1 / (1 + math.exp(-v))) ** 2
        - (math.pi if v >= 0 else 1) / math.sqrt(2)
        for v in x.tolist()
    ]
    torch.testing.assert_close(formula.torch(x, a=2.0), torch.tensor(expected, dtype=torch.float64))


def test_constant_formula_fills_x_shape() -> None:
    x = torch.zeros(2, 3, dtype=torch.float16)
    value = parse("2 * pi", ()).torch(x)
    assert value.shape == (2, 3) and value.dtype == torch.float16
    assert torch.all(value == torch.tensor(2 * math.pi, dtype=torch.float16))


def test_c_and_triton_forms() -> None:
    formula = parse("minimum(1, abs(x)) ** 2 / w + x ** 2.5", ("w",))
    c = formula.c()
    assert "fabs(x)" in c and "pow(x, ((scalar_t)2.5))" in c and "**" not in c
    assert "((scalar_t)1.0)" in c  # literals keep a float kernel in float
    triton = formula.triton()
    assert "tl.minimum(1.0, tl.abs(x))" in triton and "sc_pow(x, 2.5)" in triton
    assert formula.uses() == frozenset({"minimum", "abs", "pow"})


def test_a_spec_with_a_bad_formula_names_the_surrogate() -> None:
    with pytest.raises(ValueError, match="'broken'.*unknown name 'slope'"):
        SurrogateSpec(
            name="broken",
            params=(("beta", 1.0),),
            grad=lambda x, beta: x,
            description="d",
            formula="slope * x",
        )
    with pytest.raises(TypeError, match="'broken': formula must be a string"):
        SurrogateSpec(name="broken", params=(), grad=lambda x: x, description="d", formula=3)


def test_from_formula_derives_grad_and_c_grad() -> None:
    spec = SurrogateSpec.from_formula("bump", (("w", 2.0),), "maximum(0, 1 - abs(x) / w)", "d")
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0])
    torch.testing.assert_close(spec.grad(x), torch.tensor([0.0, 0.5, 1.0, 0.5, 0.0]))
    torch.testing.assert_close(spec.grad(x, w=1.0), torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0]))
    assert spec.c_grad == parse("maximum(0, 1 - abs(x) / w)", ("w",)).c()
    again = SurrogateSpec.from_formula("bump", (("w", 2.0),), "maximum(0, 1 - abs(x) / w)", "d")
    assert again == spec  # the derived grad is shared, so equal specs compare equal


@pytest.mark.parametrize("surrogate", sc_neurocore.list_surrogates())
def test_registered_formula_matches_grad(surrogate: str) -> None:
    spec = sc_neurocore.get_spec(surrogate)
    formula = spec.parsed_formula()
    if formula is None:
        pytest.skip(f"{surrogate} has no formula (plugin API 1 spec: torch kernels only)")
    x = torch.linspace(-4, 4, 801, dtype=torch.float64)
    torch.testing.assert_close(formula.torch(x, **spec.defaults), spec.grad(x, **spec.defaults))
