"""torch.func transforms and double backward on every registered (surrogate, path) pair.

The reference is always the spec: g(x) from ``spec.grad`` and, for second derivatives,
autograd of ``spec.grad`` itself.  Matching the spec on every path means the paths agree.
"""

from __future__ import annotations

import pytest
import torch
from torch.func import grad, jacfwd, jacrev, vmap

import sc_neurocore

from .compat_matrix import feature
from .conftest import registered_pairs

PAIRS = registered_pairs()


def _x(*shape: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64) * 2
    x.view(-1)[0] = 0.0  # the kink of every surrogate
    return x


def _bound(pair: tuple[str, str]):
    """(surrogate name, its callable on the pair's path with default parameters)."""
    return pair[0], sc_neurocore.get_surrogate(*pair)


def _g(surrogate: str, x: torch.Tensor) -> torch.Tensor:
    spec = sc_neurocore.get_spec(surrogate)
    return spec.grad(x, **spec.defaults).expand_as(x)


def _g_prime(surrogate: str, x: torch.Tensor) -> torch.Tensor:
    """d g / dx by autograd of the spec's own formula (zero where g does not depend on x)."""
    x = x.detach().clone().requires_grad_(True)
    g = _g(surrogate, x)
    if not g.requires_grad:
        return torch.zeros_like(x)
    (second,) = torch.autograd.grad(g.sum(), x, allow_unused=True, materialize_grads=True)
    return second


@feature("func")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_func_grad_gives_spec_gradient(pair: tuple[str, str]) -> None:
    surrogate, f = _bound(pair)
    x = _x(7)
    weights = torch.linspace(0.5, 2.0, 7, dtype=torch.float64)
    result = grad(lambda t: (f(t) * weights).sum())(x)
    torch.testing.assert_close(result, weights * _g(surrogate, x), rtol=1e-12, atol=1e-14)


@feature("func")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_vmap_forward_and_per_sample_grad(pair: tuple[str, str]) -> None:
    surrogate, f = _bound(pair)
    batch = _x(5, 3)
    assert torch.equal(vmap(f)(batch), (batch > 0).to(batch.dtype))
    per_sample = vmap(grad(lambda row: f(row).sum()))(batch)
    torch.testing.assert_close(per_sample, _g(surrogate, batch), rtol=1e-12, atol=1e-14)
    # vmap over a non-leading dimension, as batching rules must honour in_dims.
    columns = vmap(f, in_dims=1, out_dims=1)(batch)
    assert torch.equal(columns, (batch > 0).to(batch.dtype))


@feature("func")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_jacrev_is_diagonal_spec_gradient(pair: tuple[str, str]) -> None:
    surrogate, f = _bound(pair)
    x = _x(6)
    jacobian = jacrev(f)(x)
    torch.testing.assert_close(jacobian, torch.diag(_g(surrogate, x)), rtol=1e-12, atol=1e-14)


@feature("func")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_grad_of_grad_under_vmap_is_spec_second_derivative(pair: tuple[str, str]) -> None:
    surrogate, f = _bound(pair)
    x = _x(6)
    second = vmap(grad(grad(f)))(x)
    torch.testing.assert_close(second, _g_prime(surrogate, x), rtol=1e-10, atol=1e-12)


@feature("func")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_forward_mode_is_refused_with_a_clear_error(pair: tuple[str, str]) -> None:
    """Pinned: no tangent formula is defined (jvp/jacfwd), on every path alike."""
    surrogate, f = _bound(pair)
    with pytest.raises(NotImplementedError, match="jvp"):
        jacfwd(f)(_x(3))


@feature("double_backward")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_double_backward_matches_spec(pair: tuple[str, str]) -> None:
    surrogate, f = _bound(pair)
    x = _x(9).requires_grad_(True)
    grad_out = torch.linspace(0.5, 1.5, 9, dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(f(x), x, grad_out, create_graph=True)
    torch.testing.assert_close(first, grad_out * _g(surrogate, x), rtol=1e-12, atol=1e-14)
    # The backward is itself differentiable: w.r.t. x (g') and w.r.t. grad_out (g).
    d_x, d_grad_out = torch.autograd.grad(
        first.sum(), (x, grad_out), allow_unused=True, materialize_grads=True
    )
    torch.testing.assert_close(
        d_x, grad_out.detach() * _g_prime(surrogate, x), rtol=1e-10, atol=1e-12
    )
    torch.testing.assert_close(d_grad_out, _g(surrogate, x.detach()), rtol=1e-12, atol=1e-14)


@feature("double_backward")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_backward_without_create_graph_leaves_grad_out_intact(pair: tuple[str, str]) -> None:
    """The in-place fast backward writes only into its own buffer, never into grad_out."""
    surrogate, f = _bound(pair)
    x = _x(9).requires_grad_(True)
    grad_out = torch.ones_like(x, requires_grad=True)
    (first,) = torch.autograd.grad(f(x), x, grad_out)
    torch.testing.assert_close(first, _g(surrogate, x.detach()), rtol=1e-12, atol=1e-14)
    assert torch.equal(grad_out, torch.ones_like(grad_out))  # not written in place
