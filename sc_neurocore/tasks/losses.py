"""Losses on the output of a spiking network."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["spike_count_cross_entropy"]


def spike_count_cross_entropy(spike_counts: Tensor, targets: Tensor, scale: float = 1.0) -> Tensor:
    """Cross-entropy with the output spike counts ``(batch, classes)`` as logits.

    ``scale`` multiplies the counts first: below 1 it softens the softmax when the
    number of time steps (and so the count range) is large.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale must be a number > 0, got {scale!r}")
    return F.cross_entropy(spike_counts * scale if scale != 1.0 else spike_counts, targets)
