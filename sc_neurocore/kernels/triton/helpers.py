"""Device functions that a formula's Triton expression calls where ``triton.language`` has none.

``libdevice`` has these, but only on CUDA, and the interpreter (``TRITON_INTERPRET=1``,
which CI uses) cannot run it; these are written in ``tl.exp``/``tl.log`` arithmetic and
work on both, in the precision of their argument (fp32 or fp64).
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["load_parameter", "sc_atan", "sc_cosh", "sc_pow", "sc_tanh"]

HALF_PI = tl.constexpr(1.5707963267948966)
QUARTER_PI = tl.constexpr(0.7853981633974483)
TAN_PI_8 = tl.constexpr(0.41421356237309503)
INF = tl.constexpr(float("inf"))


@triton.jit
def sc_cosh(a):
    """cosh(a) = (e^a + e^-a) / 2; overflows to inf where cosh does."""
    return 0.5 * (tl.exp(a) + tl.exp(-a))


@triton.jit
def sc_tanh(a):
    """tanh(a): its Taylor series for |a| < 0.125 (no cancellation), else from e^(-2|a|)."""
    m = tl.abs(a)
    s = a * a
    p = -0.0014558343870513183
    p = 0.003592128036572481 + s * p
    p = -0.008863235529902197 + s * p
    p = 0.021869488536155203 + s * p
    p = -0.05396825396825397 + s * p
    p = 0.13333333333333333 + s * p
    p = -0.3333333333333333 + s * p
    series = a + a * s * p
    t = tl.exp(-2.0 * m)
    r = (1.0 - t) / (1.0 + t)
    return tl.where(m < 0.125, series, tl.where(a < 0, -r, r))


@triton.jit
def sc_atan(a):
    """atan(a): reduced to |u| <= tan(pi/8), then 23 terms of its odd series (fp64-exact)."""
    m = tl.abs(a)
    big = m > 1.0
    r = tl.where(big, 1.0 / tl.where(big, m, 1.0), m)  # atan(m) = pi/2 - atan(1/m)
    mid = r > TAN_PI_8
    u = tl.where(mid, (r - 1.0) / (r + 1.0), r)  # atan(r) = pi/4 + atan((r-1)/(r+1))
    s = u * u
    p = 0.022222222222222223
    p = -0.023255813953488372 + s * p
    p = 0.024390243902439025 + s * p
    p = -0.02564102564102564 + s * p
    p = 0.02702702702702703 + s * p
    p = -0.02857142857142857 + s * p
    p = 0.030303030303030304 + s * p
    p = -0.03225806451612903 + s * p
    p = 0.034482758620689655 + s * p
    p = -0.037037037037037035 + s * p
    p = 0.04 + s * p
    p = -0.043478260869565216 + s * p
    p = 0.047619047619047616 + s * p
    p = -0.05263157894736842 + s * p
    p = 0.058823529411764705 + s * p
    p = -0.06666666666666667 + s * p
    p = 0.07692307692307693 + s * p
    p = -0.09090909090909091 + s * p
    p = 0.1111111111111111 + s * p
    p = -0.14285714285714285 + s * p
    p = 0.2 + s * p
    p = -0.3333333333333333 + s * p
    p = 1.0 + s * p
    v = u * p
    v = tl.where(mid, v + QUARTER_PI, v)
    v = tl.where(big, HALF_PI - v, v)
    return tl.where(a < 0, -v, v)


@triton.jit
def sc_pow(a, b):
    """a ** b for a >= 0 as exp(b log a), 0 ** b as C's pow; NaN for a < 0, as in C."""
    at_zero = tl.where(b > 0, 0.0, tl.where(b == 0, 1.0, INF))
    return tl.where(a == 0, at_zero, tl.exp(b * tl.log(a)))


@triton.jit
def load_parameter(ptr, offs, stride, value, mask, COMPUTE: tl.constexpr):
    """A neuron parameter (``launch.parameter``'s triple): a tensor read at offs * stride
    (0: one value, 1: one per neuron), or with stride -1 the fp64 scalar argument ``value``,
    nothing read, so a host value never becomes a device copy."""
    loaded = tl.load(ptr + offs * stride, mask=mask & (offs * 0 + stride >= 0), other=0)
    return (loaded.to(tl.float64) + value).to(COMPUTE)
