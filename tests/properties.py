"""Hypothesis strategies shared by the property tests: tensors of every shape, dtype,
layout and device a user may pass, and parameter values valid and invalid.

A drawn case is built from a contiguous float64 *leaf* (what gradients are taken with
respect to) and a *layout* that turns it into the tensor the library sees, so the
reference gradient of any layout is exact: ``d/dleaf sum(layout(leaf) * w)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: dtypes every entry point refuses (spikes take the input's dtype).
INVALID_DTYPES = (torch.int32, torch.int64, torch.bool, torch.complex64)
SPECIALS = (0.0, -0.0, math.inf, -math.inf, math.nan, 1e30, -1e30, 1e-30, 3e38)
LAYOUTS = ("contiguous", "transposed", "strided", "expanded", "channels_last")

settings.register_profile(
    "sc-neurocore",
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI results are reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("sc-neurocore")


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """``valid`` 7 times in 8 (uniform roll; shrinks towards valid)."""
    return st.sampled_from(range(8)).flatmap(lambda roll: invalid if roll == 7 else valid)


@dataclass
class Case:
    """One drawn input: ``x = layout(leaf)``, cast to ``dtype`` and placed on ``device``."""

    leaf: torch.Tensor
    layout: Callable[[torch.Tensor], torch.Tensor]
    layout_name: str
    dtype: torch.dtype
    device: str

    def tensor(self, requires_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(leaf, x)``; ``leaf`` requires grad when asked and the dtype allows it."""
        leaf = self.leaf.to(device=self.device, dtype=self.dtype)
        if requires_grad and self.dtype.is_floating_point:
            leaf.requires_grad_(True)
        return leaf, self.layout(leaf)

    def __repr__(self) -> str:
        return (
            f"Case(shape={tuple(self.leaf.shape)}, layout={self.layout_name}, "
            f"dtype={self.dtype}, device={self.device})"
        )


def _layout(name: str, shape: tuple[int, ...]) -> tuple[tuple[int, ...], Callable]:
    """The leaf's shape and the function turning the leaf into the tensor of ``shape``."""
    if name == "transposed" and len(shape) >= 2:
        leaf = (*shape[:-2], shape[-1], shape[-2])
        return leaf, lambda t: t.transpose(-1, -2)
    if name == "strided" and len(shape) >= 1:
        return (*shape[:-1], shape[-1] * 2), lambda t: t[..., ::2]
    if name == "expanded" and len(shape) >= 1:
        return (1, *shape[1:]), lambda t: t.expand(shape)
    if name == "channels_last" and len(shape) == 4:
        return shape, lambda t: t.contiguous(memory_format=torch.channels_last)
    return shape, lambda t: t


@st.composite
def values_of(draw: st.DrawFn, shape: tuple[int, ...]) -> torch.Tensor:
    """float64 values of ``shape``: a random scale, with special values planted."""
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 0.3, 1.0, 10.0, 1e4]))
    values = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    values = values * scale
    flat = values.view(-1)
    for index, special in enumerate(draw(st.lists(st.sampled_from(SPECIALS), max_size=3))):
        if index < flat.numel():
            flat[index] = special
    return values


@st.composite
def tensor_cases(
    draw: st.DrawFn,
    shapes: st.SearchStrategy[tuple[int, ...]] | None = None,
    invalid_dtypes: bool = True,
) -> Case:
    shape = draw(
        shapes if shapes is not None else st.lists(st.integers(0, 3), max_size=4).map(tuple)
    )
    layout = draw(st.sampled_from(LAYOUTS))
    leaf_shape, transform = _layout(layout, shape)
    floats = st.sampled_from(FLOAT_DTYPES)
    dtype = draw(mostly(floats, st.sampled_from(INVALID_DTYPES)) if invalid_dtypes else floats)
    device = draw(st.sampled_from(["cpu", "cpu", "meta"]))
    return Case(draw(values_of(leaf_shape)), transform, layout, dtype, device)


#: Surrogate parameter values: (value, valid?)
VALID_PARAMS = st.one_of(
    st.floats(0.05, 50.0),
    st.integers(1, 20),
    st.sampled_from([1e-6, 1e6]),
    st.floats(0.1, 10.0).map(lambda v: torch.tensor(v)),
    st.floats(0.1, 10.0).map(lambda v: torch.tensor([v], dtype=torch.float64)),
)
INVALID_PARAMS = st.sampled_from(
    [
        0,
        0.0,
        -1.5,
        -3,
        math.nan,
        math.inf,
        -math.inf,
        "2.0",
        None,
        1 + 2j,
        [2.0],
        torch.tensor([1.0, 2.0]),
        torch.tensor(2.0, device="meta"),
        torch.tensor(2.0, requires_grad=True),
        torch.tensor(True),
        torch.tensor(-1.0),
        torch.tensor(math.nan),
    ]
)


def tolerance(dtype: torch.dtype) -> float:
    """Relative tolerance for a gradient computed in ``dtype`` by different op orders."""
    return 8 * torch.finfo(dtype).eps


def assert_same_bits(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.device == expected.device, f"{what}: device {actual.device}"
    if actual.device.type != "meta":  # exact, with NaN equal to NaN (a NaN input stays NaN)
        torch.testing.assert_close(
            actual, expected, rtol=0, atol=0, equal_nan=True, msg=lambda m: f"{what}: {m}"
        )


def assert_gradient(actual: torch.Tensor | None, expected: torch.Tensor, what: str) -> None:
    assert actual is not None, f"{what}: no gradient"
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, what
    if actual.device.type == "meta":
        return
    rtol = tolerance(actual.dtype)
    peak = float(expected.double().nan_to_num(0, 0, 0).abs().max()) if expected.numel() else 1.0
    torch.testing.assert_close(
        actual.double(),
        expected.double(),
        rtol=rtol,
        atol=rtol * max(peak, 1e-12),
        equal_nan=True,
        msg=lambda message: f"{what}: {message}",
    )
