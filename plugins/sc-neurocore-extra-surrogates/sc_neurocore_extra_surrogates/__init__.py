"""Eight surrogate gradients from the literature, added to sc-neurocore as a plugin.

Installing this distribution registers them through the ``sc_neurocore.plugins``
entry point; every installed execution path then serves them with no further code.
Each surrogate ships four forms of the same function g(x), x = v - threshold:

* ``grad``: g(x) in plain differentiable torch ops (the reference);
* ``grad_mul``: ``grad_out * g(x)`` updating one fresh tensor in place (the fast
  backward used when no graph of the backward is recorded);
* ``primitive``: an antiderivative p with p' = g (for paths built on autograd);
* ``formula``: g(x) once more in sc-neurocore's formula vocabulary, from which it
  generates the compiled CPU and the Triton kernels (and the fused LIF's ``c_grad``);
  its conformance kit checks every derived form against ``grad``.

All of them keep x's dtype and stay finite for finite x: wherever an intermediate
can overflow, the overflow lands in an ``exp(-inf)`` or a denominator and yields 0.
"""

from __future__ import annotations

import math

from sc_neurocore import Scale, SurrogateSpec, hookimpl
from sc_neurocore.core.spec import STEEPNESS_HALF_WIDTH as H

from . import formulas as f

#: The sc-neurocore plugin API this package is written for.
SC_NEUROCORE_PLUGIN_API = 1

__version__ = "0.1.0"

#: Half-width at half maximum of multi_gaussian at sigma = 1 with the default height and scale
#: (found numerically; the width is proportional to sigma).
MULTI_GAUSSIAN_HALF_WIDTH = 1.14245

# One spec per surrogate: the specs are data, alike in shape and different in every value.
SURROGATES: tuple[SurrogateSpec, ...] = (
    SurrogateSpec(
        name="rectangular",
        params=(("width", 1.0),),
        grad=f.rectangular_grad,
        grad_mul=f.rectangular_grad_mul,
        primitive=f.rectangular_primitive,
        formula="where(abs(x) <= width / 2, 1, 0) / width",
        scale=Scale("width", 2 * H, inverse=True),
        description="Boxcar window: 1/width where |x| <= width/2, else 0",
        reference="Wu et al. 2018, Spatio-temporal backpropagation (STBP), Front. Neurosci. 12:331",
    ),
    SurrogateSpec(
        name="exponential",
        params=(("alpha", 1.0), ("beta", 1.0)),
        grad=f.exponential_grad,
        grad_mul=f.exponential_grad_mul,
        primitive=f.exponential_primitive,
        formula="alpha * exp(-beta * abs(x))",
        scale=Scale("beta", math.log(2) / H),
        description="SLAYER's spike escape rate: alpha exp(-beta |x|)",
        reference="Shrestha & Orchard 2018, SLAYER: spike layer error reassignment, NeurIPS",
    ),
    SurrogateSpec(
        name="gaussian",
        params=(("sigma", 0.5),),
        grad=f.gaussian_grad,
        grad_mul=f.gaussian_grad_mul,
        primitive=f.gaussian_primitive,
        formula="exp(-(x ** 2) / (2 * sigma * sigma)) / (sigma * sqrt(2 * pi))",
        scale=Scale("sigma", H / math.sqrt(2 * math.log(2)), inverse=True),
        description="Normal density: exp(-x^2 / (2 sigma^2)) / (sigma sqrt(2 pi))",
        reference="Yin, Corradi & Bohte 2021, Nature Machine Intelligence 3 (Gaussian baseline)",
    ),
    SurrogateSpec(
        name="multi_gaussian",
        params=(("sigma", 0.5), ("height", 0.15), ("scale", 6.0)),
        grad=f.multi_gaussian_grad,
        grad_mul=f.multi_gaussian_grad_mul,
        primitive=f.multi_gaussian_primitive,
        formula=(
            "(1 + height) * exp(-(x ** 2) / (2 * sigma * sigma)) / (sigma * sqrt(2 * pi))"
            " - height * exp(-((x - sigma) ** 2) / (2 * (scale * sigma) * (scale * sigma)))"
            " / ((scale * sigma) * sqrt(2 * pi))"
            " - height * exp(-((x + sigma) ** 2) / (2 * (scale * sigma) * (scale * sigma)))"
            " / ((scale * sigma) * sqrt(2 * pi))"
        ),
        scale=Scale("sigma", H / MULTI_GAUSSIAN_HALF_WIDTH, inverse=True),
        description=(
            "(1+h) N(0, s) - h N(s, scale s) - h N(-s, scale s); negative side lobes by design"
        ),
        reference="Yin, Corradi & Bohte 2021, Accurate and efficient time-domain classification "
        "with adaptive spiking recurrent neural networks, Nature Machine Intelligence 3",
    ),
    SurrogateSpec(
        name="piecewise_quadratic",
        params=(("width", 1.0),),
        grad=f.piecewise_quadratic_grad,
        grad_mul=f.piecewise_quadratic_grad_mul,
        primitive=f.piecewise_quadratic_primitive,
        formula="maximum(0, 1 - (x / width) ** 2) * (0.75 / width)",
        scale=Scale("width", math.sqrt(2) * H, inverse=True),
        description="Quadratic window: 3/(4 width) max(0, 1 - (x/width)^2)",
        reference="Esser et al. 2016, PNAS 113(41); Bellec et al. 2018, NeurIPS (piecewise family)",
    ),
    SurrogateSpec(
        name="soft_sign",
        params=(("alpha", 2.0),),
        grad=f.soft_sign_grad,
        grad_mul=f.soft_sign_grad_mul,
        primitive=f.soft_sign_primitive,
        formula="alpha / (2 * (1 + alpha * abs(x)) ** 2)",
        scale=Scale("alpha"),
        description="Derivative of the soft-sign step (1 + ax/(1+|ax|))/2: a / (2 (1 + a|x|)^2)",
        reference="Elliott 1993, A better activation function for artificial neural networks",
    ),
    SurrogateSpec(
        name="erfc",
        params=(("alpha", 2.0),),
        grad=f.erfc_grad,
        grad_mul=f.erfc_grad_mul,
        primitive=f.erfc_primitive,
        formula="(alpha / sqrt(pi)) * exp(-((alpha * x) ** 2))",
        scale=Scale("alpha", math.sqrt(math.log(2)) / H),
        description="Derivative of the step erfc(-alpha x)/2: alpha/sqrt(pi) exp(-(alpha x)^2)",
        reference="Neftci, Mostafa & Zenke 2019, IEEE Signal Processing Magazine 36(6)",
    ),
    SurrogateSpec(
        name="tanh",
        params=(("beta", 2.0),),
        grad=f.tanh_grad,
        grad_mul=f.tanh_grad_mul,
        primitive=f.tanh_primitive,
        formula="(beta / 2) / cosh(beta * x) ** 2",
        scale=Scale("beta", math.acosh(math.sqrt(2)) / H),
        description="Derivative of the step (1 + tanh(beta x))/2: beta / (2 cosh^2(beta x))",
        reference="Neftci, Mostafa & Zenke 2019, IEEE Signal Processing Magazine 36(6)",
    ),
)


@hookimpl
def sc_neurocore_register_surrogates() -> tuple[SurrogateSpec, ...]:
    return SURROGATES
