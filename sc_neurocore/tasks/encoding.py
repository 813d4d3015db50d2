"""Turn static intensities in [0, 1] into time-major spike trains ``(T, *x.shape)``."""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.settings import positive_int

__all__ = ["latency_encode", "rate_encode"]


def _check(x: object, timesteps: object) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__}")
    positive_int("timesteps", timesteps)
    if x.numel() and bool(((x < 0) | (x > 1)).any()):
        raise ValueError(
            f"x must hold intensities in [0, 1], got values in [{x.min().item()}, {x.max().item()}]"
        )
    return x


def rate_encode(x: Tensor, timesteps: int, generator: torch.Generator | None = None) -> Tensor:
    """Bernoulli spikes: each step fires with probability ``x``, independently.

    Pass a seeded ``generator`` (on x's device) for reproducible trains.
    """
    x = _check(x, timesteps)
    return torch.bernoulli(x.expand(timesteps, *x.shape), generator=generator)


def latency_encode(x: Tensor, timesteps: int) -> Tensor:
    """One spike per input at step ``round((1 - x) * (T - 1))``; zero intensity never fires.

    Brighter inputs fire earlier (time-to-first-spike coding).
    """
    x = _check(x, timesteps)
    when = torch.round((1 - x) * (timesteps - 1)).long()
    steps = torch.arange(timesteps, device=x.device).view(-1, *([1] * x.dim()))
    return ((steps == when) & (x > 0)).to(x.dtype)
