"""The math of each surrogate: ``*_grad``, ``*_grad_mul`` and ``*_primitive``.

Conventions: a window's edge belongs to the window (``<=``), and a primitive that
limits its input does so with :func:`_within`, whose derivative is 1 up to and
including the bounds, so every path agrees on every input.  (``torch.clamp`` is not
used for that: its derivative at a bound is 1 before torch 2.14 and 0 from 2.14 on.)
Where a primitive has a kink at 0, each branch is evaluated on a limited input so the
branch ``torch.where`` discards never produces an overflow whose zero gradient would
turn into NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SQRT_2PI = math.sqrt(2.0 * math.pi)
SQRT_PI = math.sqrt(math.pi)
SQRT_2 = math.sqrt(2.0)


def _within(x: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """``x`` limited to [low, high] (like ``clamp``) with derivative 1 on the closed interval."""
    if low is not None:
        x = torch.where(x < low, low, x)
    if high is not None:
        x = torch.where(x > high, high, x)
    return x


# rectangular: g = 1/width on |x| <= width/2 (Wu et al. 2018).
def rectangular_grad(x: Tensor, width: float = 1.0) -> Tensor:
    return (x.abs() <= width / 2).to(x.dtype) / width


def rectangular_grad_mul(x: Tensor, grad_out: Tensor, width: float = 1.0) -> Tensor:
    # le_ on a float tensor writes 1.0/0.0 in place: the only allocation is abs().
    return x.abs().le_(width / 2).mul_(grad_out).div_(width)


def rectangular_primitive(x: Tensor, width: float = 1.0) -> Tensor:
    return _within(x, -width / 2, width / 2) / width


# exponential: g = alpha exp(-beta |x|) (SLAYER's escape-rate density).
def exponential_grad(x: Tensor, alpha: float = 1.0, beta: float = 1.0) -> Tensor:
    return alpha * torch.exp(-beta * x.abs())


def exponential_grad_mul(
    x: Tensor, grad_out: Tensor, alpha: float = 1.0, beta: float = 1.0
) -> Tensor:
    return x.abs().mul_(-beta).exp_().mul_(grad_out).mul_(alpha)


def exponential_primitive(x: Tensor, alpha: float = 1.0, beta: float = 1.0) -> Tensor:
    # (alpha/beta) sign(x) (1 - exp(-beta|x|)), written per side: differentiating
    # sign(x) * ... would give 0 instead of alpha at x = 0.
    rising = torch.expm1(beta * _within(x, high=0.0))  # x <= 0: exp(beta x) - 1
    falling = -torch.expm1(-beta * _within(x, low=0.0))  # x > 0: 1 - exp(-beta x)
    return (alpha / beta) * torch.where(x > 0, falling, rising)


# gaussian: the normal density with standard deviation sigma.
def gaussian_grad(x: Tensor, sigma: float = 0.5) -> Tensor:
    return torch.exp(-(x**2) / (2 * sigma * sigma)) / (sigma * SQRT_2PI)


def gaussian_grad_mul(x: Tensor, grad_out: Tensor, sigma: float = 0.5) -> Tensor:
    t = x.square().mul_(-0.5 / (sigma * sigma)).exp_()
    return t.mul_(grad_out).div_(sigma * SQRT_2PI)


def gaussian_primitive(x: Tensor, sigma: float = 0.5) -> Tensor:
    return 0.5 * torch.erf(x / (sigma * SQRT_2))


# multi_gaussian (Yin et al. 2021): a central Gaussian raised by h, two wide ones
# scale times broader, centred at +-sigma and subtracted with weight h.
def _normal(x: Tensor, mean: float, std: float) -> Tensor:
    return torch.exp(-((x - mean) ** 2) / (2 * std * std)) / (std * SQRT_2PI)


def multi_gaussian_grad(
    x: Tensor, sigma: float = 0.5, height: float = 0.15, scale: float = 6.0
) -> Tensor:
    wide = scale * sigma
    return (
        (1 + height) * _normal(x, 0.0, sigma)
        - height * _normal(x, sigma, wide)
        - height * _normal(x, -sigma, wide)
    )


def _add_normal_(out: Tensor, tmp: Tensor, x: Tensor, mean: float, std: float, w: float) -> None:
    """``out += w * N(x; mean, std)`` using ``tmp`` as scratch space."""
    torch.sub(x, mean, out=tmp).square_().mul_(-0.5 / (std * std)).exp_()
    out.add_(tmp, alpha=w / (std * SQRT_2PI))


def multi_gaussian_grad_mul(
    x: Tensor, grad_out: Tensor, sigma: float = 0.5, height: float = 0.15, scale: float = 6.0
) -> Tensor:
    # Three exponentials of different arguments need one scratch tensor besides the result.
    wide = scale * sigma
    out = x.square().mul_(-0.5 / (sigma * sigma)).exp_().mul_((1 + height) / (sigma * SQRT_2PI))
    tmp = torch.empty_like(out)
    _add_normal_(out, tmp, x, sigma, wide, -height)
    _add_normal_(out, tmp, x, -sigma, wide, -height)
    return out.mul_(grad_out)


def multi_gaussian_primitive(
    x: Tensor, sigma: float = 0.5, height: float = 0.15, scale: float = 6.0
) -> Tensor:
    wide = (scale * sigma) * SQRT_2
    return 0.5 * (
        (1 + height) * torch.erf(x / (sigma * SQRT_2))
        - height * torch.erf((x - sigma) / wide)
        - height * torch.erf((x + sigma) / wide)
    )


# piecewise_quadratic: 3/(4w) max(0, 1 - (x/w)^2), a window with unit area whose
# primitive is a clamped cubic (the quadratic member of the piecewise family).
def piecewise_quadratic_grad(x: Tensor, width: float = 1.0) -> Tensor:
    return torch.clamp(1 - (x / width) ** 2, min=0) * (0.75 / width)


def piecewise_quadratic_grad_mul(x: Tensor, grad_out: Tensor, width: float = 1.0) -> Tensor:
    t = x.div(width).square_().neg_().add_(1.0).clamp_(min=0)
    return t.mul_(grad_out).mul_(0.75 / width)


def piecewise_quadratic_primitive(x: Tensor, width: float = 1.0) -> Tensor:
    u = torch.clamp(x, -width, width) / width
    return 0.75 * u - 0.25 * u**3


# soft_sign: derivative of (1 + a x / (1 + |a x|)) / 2.
def soft_sign_grad(x: Tensor, alpha: float = 2.0) -> Tensor:
    return alpha / (2 * (1 + alpha * x.abs()) ** 2)


def soft_sign_grad_mul(x: Tensor, grad_out: Tensor, alpha: float = 2.0) -> Tensor:
    # a / (2 (1 + a|x|)^2) == 1 / (2a (|x| + 1/a)^2); large |x| overflows to inf -> 0
    t = x.abs().add_(1.0 / alpha).square_().mul_(2 * alpha)
    return torch.div(grad_out, t, out=t)


def soft_sign_primitive(x: Tensor, alpha: float = 2.0) -> Tensor:
    return 0.5 * (alpha * x) / (1 + alpha * x.abs())


# erfc: derivative of erfc(-alpha x) / 2, the Gaussian written by its steepness.
def erfc_grad(x: Tensor, alpha: float = 2.0) -> Tensor:
    return (alpha / SQRT_PI) * torch.exp(-((alpha * x) ** 2))


def erfc_grad_mul(x: Tensor, grad_out: Tensor, alpha: float = 2.0) -> Tensor:
    t = x.square().mul_(-alpha * alpha).exp_()
    return t.mul_(grad_out).mul_(alpha / SQRT_PI)


def erfc_primitive(x: Tensor, alpha: float = 2.0) -> Tensor:
    return 0.5 * torch.erfc(-alpha * x)


# tanh: derivative of (1 + tanh(beta x)) / 2, written with cosh to avoid 1 - tanh^2
# cancelling to 0 long before the true value underflows.
def tanh_grad(x: Tensor, beta: float = 2.0) -> Tensor:
    return (beta / 2) / torch.cosh(beta * x) ** 2


def tanh_grad_mul(x: Tensor, grad_out: Tensor, beta: float = 2.0) -> Tensor:
    t = x.mul(beta).cosh_().square_().mul_(2.0 / beta)
    return torch.div(grad_out, t, out=t)


def tanh_primitive(x: Tensor, beta: float = 2.0) -> Tensor:
    return 0.5 * torch.tanh(beta * x)
