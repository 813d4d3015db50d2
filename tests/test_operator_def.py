"""OperatorDef (kernels/operator.py): one object owns an operator's registrations.

A toy operator ``scale(x, factor, y?, label, weights) -> (x * factor, x + 1)`` with a
backward companion is defined through it, and torch's own ``opcheck`` (schema, fake,
autograd registration, dispatch) checks the result, so the class serves any schema and
any number of tensor outputs, as the generated neuron operators need.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
import torch
from torch import Tensor

from sc_neurocore.kernels.autocast import FUSED, POLICIES
from sc_neurocore.kernels.operator import OperatorDef, schema_type


class ScaleArguments(NamedTuple):
    x: Tensor
    factor: float
    y: Tensor | None
    label: str
    weights: list[float]


def _scale(args: ScaleArguments) -> tuple[Tensor, Tensor]:
    return args.x * args.factor, args.x + 1


def _scale_backward(args: Any) -> Tensor:
    return args.grad_scaled * args.factor + args.grad_shifted


SCALE = OperatorDef("sc_neurocore_test::scale", ScaleArguments, returns=2)
SCALE.register_kernel(_scale)
SCALE.register_fake(lambda args: (torch.empty_like(args.x), torch.empty_like(args.x)))


def _setup(ctx: Any, args: ScaleArguments, output: Any) -> None:
    ctx.factor = args.factor


def _backward(ctx: Any, grad_scaled: Tensor, grad_shifted: Tensor) -> dict[str, Tensor]:
    grad = SCALE_BACKWARD(grad_scaled, grad_shifted, ctx.factor)
    return {"x": grad} if SCALE.needs(ctx).x else {}


SCALE.register_autograd(_backward, _setup)
SCALE_BACKWARD = SCALE.define_backward(
    [("grad_scaled", Tensor), ("grad_shifted", Tensor), ("factor", float)],
    1,
    _scale_backward,
    lambda args: torch.empty_like(args.grad_scaled),
    no_double_backward="scale: no second derivative",
)
SCALE.register_autocast(FUSED)
SCALE.register_vmap(lambda info, in_dims, args: (SCALE(*args), (in_dims.x, in_dims.x)))


def _args(x: Tensor) -> tuple[Any, ...]:
    return (x, 3.0, None, "label", [1.0, 2.0])


def test_the_schema_comes_from_the_arguments() -> None:
    assert SCALE.schema == (
        "scale(Tensor x, float factor, Tensor? y, str label, float[] weights) -> (Tensor, Tensor)"
    )
    assert SCALE_BACKWARD.schema == (
        "scale_backward(Tensor grad_scaled, Tensor grad_shifted, float factor) -> Tensor"
    )
    assert str(SCALE.op._schema) == f"sc_neurocore_test::{SCALE.schema}"


def test_kernels_fake_and_autograd_pass_opcheck() -> None:
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(SCALE.op, _args(x))
    scaled, shifted = SCALE(*_args(x))
    (scaled.sum() + 2 * shifted.sum()).backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 5.0))


def test_backward_companion_refuses_a_second_derivative() -> None:
    x = torch.randn(3, requires_grad=True)
    scaled, _ = SCALE(*_args(x))
    incoming = torch.ones(3, requires_grad=True)  # the companion records a node for it
    (grad,) = torch.autograd.grad(scaled, x, incoming, create_graph=True)
    with pytest.raises(RuntimeError, match="no second derivative"):
        grad.sum().backward()


def test_vmap_and_autocast_policy() -> None:
    x = torch.randn(5, 3)
    scaled, shifted = torch.vmap(lambda row: SCALE(*_args(row)))(x)
    torch.testing.assert_close(scaled, 3 * x)
    torch.testing.assert_close(shifted, x + 1)
    assert POLICIES[SCALE.qualname] == POLICIES[SCALE_BACKWARD.qualname] == FUSED


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [(Tensor, "Tensor"), (Tensor | None, "Tensor?"), (list[int], "int[]"), (bool, "bool")],
)
def test_schema_types(annotation: object, expected: str) -> None:
    assert schema_type(annotation) == expected


def test_bad_definitions_are_refused_with_the_value() -> None:
    with pytest.raises(TypeError, match="complex"):
        schema_type(complex)
    with pytest.raises(ValueError, match="'no_namespace'"):
        OperatorDef("no_namespace", ScaleArguments)
    with pytest.raises(ValueError, match="returns must be at least 1, got 0"):
        OperatorDef("sc_neurocore_test::nothing", ScaleArguments, returns=0)
