"""Randman: random smooth manifolds turned into one-spike-per-unit spike-timing patterns.

Written from the description in Zenke & Vogels (2021, Neural Computation 33(4)). Each
class is one random smooth map from the manifold ``[0, 1]^dim`` into ``units`` embedding
coordinates. Coordinate ``j`` of class ``c`` is a product over manifold dimensions ``d``
of a random Fourier series with a spectrum that decays with the smoothness ``alpha``::

    f_cj(u) = prod_d  sum_{k=1..frequencies}  a_cjdk / k**alpha * sin(2 pi (k u_d b_cjdk + p_cjdk))

with ``a, b, p`` uniform in [0, 1). A sample of class ``c`` evaluates ``f_c`` at a point
``u`` drawn uniformly from the manifold; every coordinate is min-max normalised over the
class's samples and becomes the single spike time of one input unit,
``round(value * (window - 1))``. Larger ``alpha`` means smoother manifolds; more
dimensions and classes make the task harder.

``noise_units`` (an extension, 0 in the published configuration) appends input units whose
one spike falls at a uniformly random step of the window, independently of the class: they
carry no information, so a learner must find the informative units, while a
nearest-neighbour classifier of the raw spike times is swamped by them.

Determinism: all draws come from numpy's PCG64 seeded by ``(seed, stream, class)`` and all
math is float64; normalised values are rounded to 1e-9 before they are quantised to steps
so a last-bit difference of a platform's ``sin`` cannot move a spike. The manifolds do not
depend on ``samples_per_class``, so more samples extend the same classes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..core.settings import positive_int

__all__ = ["Randman", "RandmanConfig", "make_randman", "spike_raster"]

#: Independent random streams per class: the manifold's coefficients, its sample points.
_MANIFOLD_STREAM, _POINT_STREAM, _ORDER_STREAM, _NOISE_STREAM = 0, 1, 2, 3
#: Decimal places kept before quantising to steps (see the module docstring).
_ROUND_DECIMALS = 9


# Configurations are plain frozen dataclasses (see also tasks/classifier.py): alike in shape only.
@dataclass(frozen=True)
class RandmanConfig:
    """What is generated: every field changes the data, so all of them are reported."""

    classes: int = 10
    units: int = 20
    steps: int = 100
    dim: int = 1
    alpha: float = 1.0
    samples_per_class: int = 1000
    seed: int = 0
    window: int | None = None  # steps in which the spikes fall; None: all ``steps``
    frequencies: int = 5
    noise_units: int = 0  # uninformative units appended (see the module docstring)

    def __post_init__(self) -> None:
        for name in ("classes", "units", "steps", "dim", "samples_per_class", "frequencies"):
            positive_int(f"randman: {name}", getattr(self, name))
        for name in ("noise_units", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"randman: {name} must be an int >= 0, got {value!r}")
        if self.classes < 2:
            raise ValueError(f"randman: classes must be >= 2, got {self.classes!r}")
        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
            raise ValueError(f"randman: alpha must be a number >= 0, got {alpha!r}")
        if not math.isfinite(alpha):
            raise ValueError(f"randman: alpha must be finite, got {alpha!r}")
        if self.window is not None:
            positive_int("randman: window", self.window)
            if self.window > self.steps:
                raise ValueError(
                    f"randman: window must be <= steps ({self.steps}), got {self.window!r}"
                )

    @property
    def time_window(self) -> int:
        return self.steps if self.window is None else self.window

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Randman:
    """Spike times ``(samples, units + noise_units)`` (int64 steps) and labels, shuffled."""

    config: RandmanConfig
    times: Tensor
    labels: Tensor


def _generator(config: RandmanConfig, stream: int, label: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([config.seed, stream, label]))
    )


def _manifold_values(config: RandmanConfig, label: int) -> np.ndarray:
    """``f_c(u)`` for the class's samples: ``(samples_per_class, units)`` float64."""
    shape = (config.units, config.dim, config.frequencies)
    coefficients = _generator(config, _MANIFOLD_STREAM, label)
    amplitude, frequency_scale, phase = (coefficients.random(shape) for _ in range(3))
    k = np.arange(1, config.frequencies + 1, dtype=np.float64)
    amplitude = amplitude / k**config.alpha
    points = _generator(config, _POINT_STREAM, label).random((config.samples_per_class, config.dim))
    # (samples, 1, dim, 1) against (units, dim, frequencies)
    u = points[:, None, :, None]
    series = (amplitude * np.sin(2 * np.pi * (k * u * frequency_scale + phase))).sum(axis=-1)
    return series.prod(axis=-1)


def _normalised(values: np.ndarray) -> np.ndarray:
    """Min-max per unit over the class's samples; a constant unit maps to 0."""
    low, high = values.min(axis=0), values.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return np.round((values - low) / span, _ROUND_DECIMALS)


def make_randman(config: RandmanConfig | None = None, **fields: Any) -> Randman:
    """Generate a Randman data set (``config`` or its fields as keywords), shuffled by seed."""
    if config is None:
        config = RandmanConfig(**fields)
    elif fields:
        raise TypeError("make_randman: pass either a config or its fields, not both")
    last_step = config.time_window - 1
    times, labels = [], []
    for label in range(config.classes):
        values = _normalised(_manifold_values(config, label))
        times.append(np.rint(values * last_step).astype(np.int64))
        labels.append(np.full(config.samples_per_class, label, dtype=np.int64))
    order = _generator(config, _ORDER_STREAM, 0).permutation(
        config.classes * config.samples_per_class
    )
    all_times, all_labels = np.concatenate(times)[order], np.concatenate(labels)[order]
    if config.noise_units:
        noise = _generator(config, _NOISE_STREAM, 0).integers(
            0, last_step + 1, (len(all_labels), config.noise_units), dtype=np.int64
        )
        all_times = np.concatenate([all_times, noise], axis=1)
    return Randman(config, torch.from_numpy(all_times), torch.from_numpy(all_labels))


def spike_raster(times: Tensor, steps: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """Time-major spikes ``(steps, samples, units)``: a 1 at each unit's spike step."""
    if times.dtype != torch.int64:
        raise TypeError(f"spike_raster: times must be int64 steps, got {times.dtype}")
    if times.numel() and (int(times.min()) < 0 or int(times.max()) >= steps):
        raise ValueError(
            f"spike_raster: times must lie in [0, {steps - 1}], "
            f"got [{int(times.min())}, {int(times.max())}]"
        )
    raster = torch.zeros((steps, *times.shape), dtype=dtype)
    raster.scatter_(0, times.unsqueeze(0), 1.0)
    return raster
