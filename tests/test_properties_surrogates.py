"""Property tests: every registered surrogate x path, on generated inputs (shapes with 0-size
and 0-d, every dtype, non-contiguous/expanded/channels-last strides, cpu and meta,
special values) and parameter values (valid and invalid).  Each case either raises the
documented error (TypeError / ValueError naming the surrogate) or equals the reference:
the forward bit for bit ``(x > 0).to(x.dtype)``, the gradient ``grad_out * g(x)`` to a
tolerance of the dtype, through whatever layout the input had."""

from __future__ import annotations

import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

import sc_neurocore
from sc_neurocore.core import callforms
from sc_neurocore.core.callforms import CALL_FORM_NAMES
from sc_neurocore.core.registry import get_spec

from .conftest import registered_pairs
from .properties import (
    INVALID_PARAMS,
    VALID_PARAMS,
    Case,
    assert_gradient,
    assert_same_bits,
    tensor_cases,
)

PAIRS = registered_pairs()
IDS = [f"{surrogate}@{path}" for surrogate, path in PAIRS]
#: registry name -> the dispatcher call form of a built-in (atan -> atan_surrogate)
CALL_FORMS = {name: getattr(callforms, form) for form, name in CALL_FORM_NAMES.items()}


def _reference_gradient(case: Case, leaf: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """d/dleaf of sum(layout(leaf) * weight): the surrogate's backward through the layout."""
    probe = leaf.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((case.layout(probe) * weight).sum(), probe)
    return grad


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
@given(case=tensor_cases(), data=st.data())
def test_forward_and_gradient_equal_the_reference_or_raise(
    pair: tuple[str, str], case: Case, data: st.DataObject
) -> None:
    surrogate, path = pair
    spec = get_spec(surrogate)
    overrides = {}
    if spec.param_names:
        name = data.draw(st.sampled_from(spec.param_names))
        overrides[name] = data.draw(VALID_PARAMS)
    fn = sc_neurocore.get_surrogate(surrogate, path, **overrides)
    leaf, x = case.tensor(requires_grad=True)
    if not case.dtype.is_floating_point:
        event("refused: dtype")
        with pytest.raises(TypeError, match=f"surrogate {surrogate!r}"):
            fn(x)
        return
    event(f"compared: {case.device}")
    out = fn(x)
    what = f"{surrogate}@{path} on {case}"
    assert_same_bits(out, (x.detach() > 0).to(x.dtype), what)
    if surrogate in CALL_FORMS:
        same = CALL_FORMS[surrogate](x.detach(), **fn.params, path=path)
        assert_same_bits(same, out.detach(), f"call form of {what}")
    grad_out = torch.linspace(0.5, 1.5, out.numel(), dtype=torch.float64).reshape(out.shape)
    grad_out = grad_out.to(device=out.device, dtype=out.dtype)
    (grad,) = torch.autograd.grad(out, leaf, grad_out)
    with torch.no_grad():
        weight = grad_out * spec.grad(x.detach(), **fn.params)
    assert_gradient(grad, _reference_gradient(case, leaf, weight), f"gradient of {what}")


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
@given(value=INVALID_PARAMS, data=st.data())
def test_invalid_parameter_values_are_refused_naming_the_surrogate(
    pair: tuple[str, str], value: object, data: st.DataObject
) -> None:
    surrogate, path = pair
    names = get_spec(surrogate).param_names or ("not_a_parameter",)
    name = data.draw(st.sampled_from(names))
    with pytest.raises((TypeError, ValueError), match=f"surrogate {surrogate!r}"):
        sc_neurocore.get_surrogate(surrogate, path, **{name: value})
    if surrogate in CALL_FORMS:
        with pytest.raises((TypeError, ValueError), match=f"surrogate {surrogate!r}"):
            CALL_FORMS[surrogate](torch.ones(3), **{name: value}, path=path)


@pytest.mark.parametrize("pair", PAIRS, ids=IDS)
@given(
    x=st.one_of(
        st.floats(allow_nan=True),
        st.integers(),
        st.lists(st.floats(-2, 2), max_size=3),
        st.none(),
        st.text(max_size=3),
    )
)
def test_anything_but_a_tensor_is_refused(pair: tuple[str, str], x: object) -> None:
    surrogate, path = pair
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        sc_neurocore.get_surrogate(surrogate, path)(x)


def test_a_bool_parameter_is_refused_even_after_the_same_int() -> None:
    sc_neurocore.get_surrogate("atan", "legacy_autograd", alpha=1)
    with pytest.raises(TypeError, match="must be a real number"):
        sc_neurocore.get_surrogate("atan", "legacy_autograd", alpha=True)
