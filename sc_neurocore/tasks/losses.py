"""Losses on the output of a spiking network: spike counts, or a non-spiking readout."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "READOUT_REDUCTIONS",
    "readout_cross_entropy",
    "readout_logits",
    "spike_count_cross_entropy",
]

#: How a readout membrane ``(T, batch, classes)`` becomes logits ``(batch, classes)``.
READOUT_REDUCTIONS = ("max", "last", "mean")


def spike_count_cross_entropy(spike_counts: Tensor, targets: Tensor, scale: float = 1.0) -> Tensor:
    """Cross-entropy with the output spike counts ``(batch, classes)`` as logits.

    ``scale`` multiplies the counts first: below 1 it softens the softmax when the
    number of time steps (and so the count range) is large.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale must be a number > 0, got {scale!r}")
    return F.cross_entropy(spike_counts * scale if scale != 1.0 else spike_counts, targets)


def readout_logits(membrane: Tensor, reduction: str = "max") -> Tensor:
    """Logits from a time-major readout membrane: its ``max`` over time, ``last`` step or ``mean``.

    ``max`` is Zenke & Vogels' choice for spike-timing tasks (the class whose readout rises
    highest at any time wins); ``last`` suits integrate-then-decide tasks.
    """
    if not isinstance(membrane, Tensor):
        raise TypeError(f"readout_logits: membrane must be a tensor, got {type(membrane).__name__}")
    if membrane.dim() < 2 or membrane.shape[0] == 0:
        raise ValueError(
            "readout_logits: membrane must be time-major (T, batch, ...) with T >= 1, "
            f"got shape {tuple(membrane.shape)}"
        )
    if reduction == "max":
        return membrane.amax(dim=0)
    if reduction == "last":
        return membrane[-1]
    if reduction == "mean":
        return membrane.mean(dim=0)
    raise ValueError(
        f"readout_logits: reduction must be one of {READOUT_REDUCTIONS}, got {reduction!r}"
    )


def readout_cross_entropy(membrane: Tensor, targets: Tensor, reduction: str = "max") -> Tensor:
    """Cross-entropy of :func:`readout_logits` against integer ``targets``."""
    return F.cross_entropy(readout_logits(membrane, reduction), targets)
