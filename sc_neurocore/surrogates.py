"""The six built-in surrogate gradients: math only, no execution machinery.

Each surrogate states its function g (the stand-in for the derivative of the Heaviside
step at ``x = v - threshold``) once, as a ``formula`` (see :mod:`sc_neurocore.core.formula`):
its torch reference ``grad``, the C expression of the compiled kernels (``c_grad``) and
the Triton kernels' expression are all derived from it.  Two hand-written forms remain:

* ``grad_mul``: ``grad_out * g(x)`` with a single allocation and an in-place chain,
  used when no graph of the backward pass is recorded (it is several times faster);
* ``primitive``: an antiderivative p with p' = g, for paths that rely on autograd.

Every form keeps x's dtype and stays finite for finite x: large ``|x|`` only ever
reaches a denominator, where an overflow to ``inf`` yields the correct 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .core.hookspecs import hookimpl
from .core.spec import STEEPNESS_HALF_WIDTH, Scale, SurrogateSpec
from .kernels.torch.scalars import scalar_like

PI = math.pi
H = STEEPNESS_HALF_WIDTH  # the common steepness k has half-width at half maximum H / k


# fast_sigmoid: g = slope / (1 + slope*|x|)^2, Zenke & Ganguli 2018 (SuperSpike's fast sigmoid).
def fast_sigmoid_grad_mul(x: Tensor, grad_out: Tensor, slope: float = 25.0) -> Tensor:
    # slope / (1 + slope|x|)^2 == 1 / (slope * (|x| + 1/slope)^2): square and scale in one pass
    t = x.abs().add_(1.0 / slope)
    torch.addcmul(scalar_like(0.0, x), t, t, value=slope, out=t)
    return torch.div(grad_out, t, out=t)


def fast_sigmoid_primitive(x: Tensor, slope: float = 25.0) -> Tensor:
    return slope * x / (1 + slope * x.abs())


# superspike: g = 1 / (1 + beta*|x|)^2, Zenke & Ganguli 2018.
def superspike_grad_mul(x: Tensor, grad_out: Tensor, beta: float = 10.0) -> Tensor:
    # (1 + beta|x|)^2 == beta^2 (|x| + 1/beta)^2: square and scale in one pass
    t = x.abs().add_(1.0 / beta)
    torch.addcmul(scalar_like(0.0, x), t, t, value=beta * beta, out=t)
    return torch.div(grad_out, t, out=t)


def superspike_primitive(x: Tensor, beta: float = 10.0) -> Tensor:
    return x / (1 + beta * x.abs())


# atan: g = alpha / (2 * (1 + (pi*alpha*x/2)^2)), Fang et al. 2021.
def atan_grad_mul(x: Tensor, grad_out: Tensor, alpha: float = 2.0) -> Tensor:
    # alpha / (2 (1 + (pi alpha x / 2)^2)) == 1 / (2/alpha + (pi^2 alpha / 2) x^2)
    t = torch.empty_like(x)
    torch.addcmul(scalar_like(2.0 / alpha, x), x, x, value=PI * PI * alpha / 2, out=t)
    return torch.div(grad_out, t, out=t)


def atan_primitive(x: Tensor, alpha: float = 2.0) -> Tensor:
    return torch.atan(PI * alpha * x / 2) / PI


# sigmoid: g = slope * s * (1 - s), s = sigmoid(slope*x); the logistic derivative.
def sigmoid_grad_mul(x: Tensor, grad_out: Tensor, slope: float = 5.0) -> Tensor:
    # s (1 - s) == 1 / (2 (1 + cosh(slope x))); cosh overflows to inf exactly where g -> 0
    t = torch.mul(x, slope).cosh_()
    torch.add(scalar_like(2.0 / slope, x), t, alpha=2.0 / slope, out=t)
    return torch.div(grad_out, t, out=t)


def sigmoid_primitive(x: Tensor, slope: float = 5.0) -> Tensor:
    return torch.sigmoid(slope * x)


# straight_through: g = 1, Bengio et al. 2013.
def straight_through_grad_mul(x: Tensor, grad_out: Tensor) -> Tensor:
    # g is identically 1: the incoming gradient passes through untouched (no copy).
    return grad_out


def straight_through_primitive(x: Tensor) -> Tensor:
    return x


# triangular: g = max(0, 1 - |x|/width) / width, Esser et al. 2016 / Bellec et al. 2018.
def triangular_grad_mul(x: Tensor, grad_out: Tensor, width: float = 1.0) -> Tensor:
    t = x.abs()
    torch.add(scalar_like(1.0 / width, x), t, alpha=-1.0 / (width * width), out=t)
    return t.clamp_(min=0).mul_(grad_out)


def triangular_primitive(x: Tensor, width: float = 1.0) -> Tensor:
    xc = torch.clamp(x, -width, width)
    return xc / width - xc * xc.abs() / (2 * width * width)


# One spec per surrogate: the specs are data, alike in shape and different in every value.
BUILTIN_SURROGATES: tuple[SurrogateSpec, ...] = (
    SurrogateSpec.from_formula(
        name="fast_sigmoid",
        params=(("slope", 25.0),),
        formula="slope / (1 + slope * abs(x)) ** 2",
        grad_mul=fast_sigmoid_grad_mul,
        primitive=fast_sigmoid_primitive,
        scale=Scale("slope"),
        description="Derivative of the fast sigmoid x/(1+|x|): slope / (1 + slope|x|)^2",
        reference="Zenke & Ganguli 2018, SuperSpike, Neural Computation 30(6)",
    ),
    SurrogateSpec.from_formula(
        name="superspike",
        params=(("beta", 10.0),),
        formula="1 / (1 + beta * abs(x)) ** 2",
        grad_mul=superspike_grad_mul,
        primitive=superspike_primitive,
        scale=Scale("beta"),
        description="SuperSpike's unit-peak fast sigmoid derivative: 1 / (1 + beta|x|)^2",
        reference="Zenke & Ganguli 2018, SuperSpike, Neural Computation 30(6)",
    ),
    SurrogateSpec.from_formula(
        name="atan",
        params=(("alpha", 2.0),),
        formula="alpha / (2 * (1 + (pi * alpha * x / 2) ** 2))",
        grad_mul=atan_grad_mul,
        primitive=atan_primitive,
        scale=Scale("alpha", 2 / (PI * H)),
        description="Arctangent derivative: alpha / (2 (1 + (pi alpha x / 2)^2))",
        reference="Fang et al. 2021, Incorporating learnable membrane time constant, ICCV",
    ),
    SurrogateSpec.from_formula(
        name="sigmoid",
        params=(("slope", 5.0),),
        formula="slope * exp(-abs(slope * x)) / (1 + exp(-abs(slope * x))) ** 2",
        grad_mul=sigmoid_grad_mul,
        primitive=sigmoid_primitive,
        scale=Scale("slope", 2 * math.atanh(math.sqrt(0.5)) / H),
        description="Logistic derivative: slope s (1 - s), s = sigmoid(slope x)",
        reference="Neftci, Mostafa & Zenke 2019, IEEE Signal Processing Magazine 36(6)",
    ),
    SurrogateSpec.from_formula(
        name="straight_through",
        params=(),
        formula="1",
        grad_mul=straight_through_grad_mul,
        primitive=straight_through_primitive,
        description="Straight-through estimator: the gradient passes unchanged (g = 1)",
        reference="Bengio, Leonard & Courville 2013, arXiv:1308.3432",
    ),
    SurrogateSpec.from_formula(
        name="triangular",
        params=(("width", 1.0),),
        formula="maximum(0, 1 - abs(x) / width) / width",
        grad_mul=triangular_grad_mul,
        primitive=triangular_primitive,
        scale=Scale("width", 2 * H, inverse=True),
        description="Triangular window: max(0, 1 - |x|/width) / width",
        reference="Bellec et al. 2018, Long short-term memory and learning-to-learn, NeurIPS",
    ),
)


@hookimpl
def sc_neurocore_register_surrogates() -> tuple[SurrogateSpec, ...]:
    return BUILTIN_SURROGATES
