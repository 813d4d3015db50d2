"""Activity regularisers: keep hidden spike counts inside a band while a task trains.

Surrogate-gradient training can silence a layer (no spikes, no gradient) or let it fire at
every step. Following Zenke & Vogels (2021), a squared penalty pushes each neuron's spike
count per sample, averaged over the batch, above a lower bound and below an upper bound.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["ActivityBounds", "activity_penalty"]


def _check(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"activity_penalty: {name} must be a number >= 0, got {value!r}")
    return float(value)


def activity_penalty(
    spikes: Tensor,
    *,
    lower: float = 0.0,
    upper: float | None = None,
    lower_strength: float = 1.0,
    upper_strength: float = 1.0,
) -> Tensor:
    """``lower_strength * mean_n relu(lower - c_n)^2 + upper_strength * mean_n relu(c_n - upper)^2``

    ``spikes`` is time-major ``(T, batch, neurons...)``; ``c_n`` is neuron ``n``'s spike count
    per sample, averaged over the batch. ``upper=None`` leaves counts unbounded above.
    """
    if not isinstance(spikes, Tensor) or spikes.dim() < 3:
        raise ValueError(
            "activity_penalty: spikes must be time-major (T, batch, neurons...), got "
            f"{tuple(spikes.shape) if isinstance(spikes, Tensor) else type(spikes).__name__}"
        )
    lower, lower_strength = _check("lower", lower), _check("lower_strength", lower_strength)
    upper_strength = _check("upper_strength", upper_strength)
    counts = spikes.sum(dim=0).mean(dim=0)
    penalty = lower_strength * torch.relu(lower - counts).square().mean()
    if upper is not None:
        penalty = (
            penalty + upper_strength * torch.relu(counts - _check("upper", upper)).square().mean()
        )
    return penalty


class ActivityBounds:
    """A configured :func:`activity_penalty` (what a task's model applies to a hidden layer)."""

    def __init__(
        self,
        lower: float = 0.0,
        upper: float | None = None,
        lower_strength: float = 1.0,
        upper_strength: float = 1.0,
    ) -> None:
        self.lower, self.upper = _check("lower", lower), upper
        self.lower_strength = _check("lower_strength", lower_strength)
        self.upper_strength = _check("upper_strength", upper_strength)
        if upper is not None:
            _check("upper", upper)

    def __call__(self, spikes: Tensor) -> Tensor:
        return activity_penalty(
            spikes,
            lower=self.lower,
            upper=self.upper,
            lower_strength=self.lower_strength,
            upper_strength=self.upper_strength,
        )

    def __repr__(self) -> str:
        return (
            f"ActivityBounds(lower={self.lower}, upper={self.upper}, "
            f"lower_strength={self.lower_strength}, upper_strength={self.upper_strength})"
        )
