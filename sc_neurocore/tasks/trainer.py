"""Train a readout classifier on a task: model selection on validation, test touched once.

Each epoch trains over the shuffled training split, then measures validation accuracy;
the weights of the best validation epoch are kept, and the test split is evaluated once,
with those weights, at the end. ``time_budget`` (seconds of training) stops early. The
epochs run in the one loop of :mod:`.loops`; this module says what a task trains with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from .loops import EpochProgress, EpochRecord, FitResult, OnEpoch, evaluate, train_epochs
from .losses import readout_cross_entropy, readout_logits
from .regularizers import ActivityBounds
from .spikes import SpikeSet, TaskData

__all__ = ["EpochRecord", "FitResult", "TrainConfig", "accuracy", "fit"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (Adam, constant learning rate) and the activity bounds."""

    epochs: int = 30
    lr: float = 5e-3
    batch_size: int = 250
    seed: int = 0
    reduction: str = "max"
    time_budget: float | None = None
    lower_bound: float = 1e-3  # spikes per neuron per sample, batch mean
    upper_bound: float = 10.0
    lower_strength: float = 1.0
    upper_strength: float = 1e-3
    eval_batch: int = 250  # per-sample cost grows past ~250 (the sequence leaves the cache)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy(model: nn.Module, data: SpikeSet, reduction: str, batch: int = 1000) -> float:
    """Fraction of ``data`` whose readout logits peak at the label."""
    was_training = model.training
    result = evaluate(
        model,
        _batches(data, torch.arange(len(data)), batch),
        loss_fn=partial(readout_cross_entropy, reduction=reduction),
        classify=lambda membrane, _: readout_logits(membrane, reduction).argmax(-1),
    )
    model.train(was_training)
    return result.accuracy


def _batches(data: SpikeSet, order: Tensor, size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Dense ``(x, labels)`` batches of ``data`` in ``order``."""
    for start in range(0, len(order), size):
        index = order[start : start + size]
        yield data.dense(index), data.labels[index]


def fit(
    model: nn.Module,
    data: TaskData,
    config: TrainConfig,
    *,
    target: float | None = None,
    progress: EpochProgress | None = None,
    on_epoch: OnEpoch | None = None,
) -> FitResult:
    """Train ``model`` on ``data.train``; see the module docstring."""
    bounds = ActivityBounds(
        config.lower_bound, config.upper_bound, config.lower_strength, config.upper_strength
    )
    shuffle = torch.Generator().manual_seed(config.seed)
    train = data.train
    result = train_epochs(
        model,
        torch.optim.Adam(model.parameters(), lr=config.lr),
        config.epochs,
        lambda: _batches(train, torch.randperm(len(train), generator=shuffle), config.batch_size),
        -(-len(train) // config.batch_size),
        loss_fn=partial(readout_cross_entropy, reduction=config.reduction),
        penalty=bounds,
        validate=lambda: accuracy(model, data.val, config.reduction, config.eval_batch),
        target=target,
        time_budget=config.time_budget,
        progress=progress,
        on_epoch=on_epoch,
    )
    result.test_accuracy = accuracy(model, data.test, config.reduction, config.eval_batch)
    return result
