"""One epoch of training and an evaluation pass for classifiers that count spikes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .losses import spike_count_cross_entropy

__all__ = ["Evaluation", "evaluate", "predict", "train_epoch"]

Batches = Iterable[tuple[Tensor, Tensor]]
Encoder = Callable[[Tensor], Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]
Progress = Callable[[int, float], None]


class Evaluation(NamedTuple):
    loss: float
    accuracy: float


def _outputs(model: nn.Module, x: Tensor, encode: Encoder | None) -> tuple[Tensor, Tensor | None]:
    """Spike counts and, if the model returns a tuple, its second output (membrane sum)."""
    output = model(x if encode is None else encode(x))
    if isinstance(output, tuple):
        return output[0], output[1] if len(output) > 1 else None
    return output, None


def predict(counts: Tensor, membrane: Tensor | None = None) -> Tensor:
    """Arg-max of the spike counts; equal counts go to the larger membrane sum.

    ``sigmoid(membrane)`` lies in (0, 1), less than one spike, so it only breaks ties.
    """
    scores = counts if membrane is None else counts + torch.sigmoid(membrane)
    return scores.argmax(dim=-1)


def train_epoch(
    model: nn.Module,
    batches: Batches,
    optimizer: torch.optim.Optimizer,
    *,
    encode: Encoder | None = None,
    loss_fn: LossFn = spike_count_cross_entropy,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
) -> float:
    """Train over ``batches`` of ``(x, targets)``; returns the sample-weighted mean loss.

    ``encode`` turns a batch into time-major spikes (for example a partial of
    ``rate_encode``); ``progress(batches_done, running_loss)`` is called after each batch.
    """
    model.train()
    total, count = 0.0, 0
    for done, (x, targets) in enumerate(batches, 1):
        if device is not None:
            x, targets = x.to(device), targets.to(device)
        loss = loss_fn(_outputs(model, x, encode)[0], targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(targets)
        count += len(targets)
        if progress is not None:
            progress(done, total / count)
    return total / max(count, 1)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Batches,
    *,
    encode: Encoder | None = None,
    loss_fn: LossFn = spike_count_cross_entropy,
    device: torch.device | str | None = None,
) -> Evaluation:
    """Mean loss and accuracy (see :func:`predict`) over ``batches``."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    for x, targets in batches:
        if device is not None:
            x, targets = x.to(device), targets.to(device)
        counts, membrane = _outputs(model, x, encode)
        total += loss_fn(counts, targets).item() * len(targets)
        correct += int((predict(counts, membrane) == targets).sum())
        count += len(targets)
    return Evaluation(total / max(count, 1), correct / max(count, 1))
