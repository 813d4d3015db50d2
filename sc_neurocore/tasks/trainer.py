"""Train a readout classifier on a task: model selection on validation, test touched once.

Each epoch trains over the shuffled training split, then measures validation accuracy;
the weights of the best validation epoch are kept, and the test split is evaluated once,
with those weights, at the end. ``time_budget`` (seconds of training) stops early.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from .losses import readout_cross_entropy, readout_logits
from .regularizers import ActivityBounds
from .spikes import SpikeSet, TaskData

__all__ = ["EpochRecord", "FitResult", "TrainConfig", "accuracy", "fit"]

#: ``progress(epoch, batch, batches, train_seconds)`` after every batch.
Progress = Callable[[int, int, int, float], None]
#: ``on_epoch(record)`` after every epoch's validation.
OnEpoch = Callable[["EpochRecord"], None]


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


@dataclass
class EpochRecord:
    epoch: int
    seconds: float  # training time so far (evaluation excluded)
    loss: float
    val_accuracy: float


@dataclass
class FitResult:
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: float = 0.0
    test_accuracy: float = 0.0
    train_seconds: float = 0.0
    seconds_to_target: float | None = None  # training time until val passed ``target``


@torch.no_grad()
def accuracy(model: nn.Module, data: SpikeSet, reduction: str, batch: int = 1000) -> float:
    """Fraction of ``data`` whose readout logits peak at the label."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(data), batch):
        index = torch.arange(start, min(start + batch, len(data)))
        membrane, _ = model(data.dense(index))
        correct += int((readout_logits(membrane, reduction).argmax(-1) == data.labels[index]).sum())
    model.train(was_training)
    return correct / max(len(data), 1)


def _step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    bounds: ActivityBounds,
    reduction: str,
    x: Tensor,
    y: Tensor,
) -> float:
    membrane, spikes = model(x)
    loss = readout_cross_entropy(membrane, y, reduction) + bounds(spikes)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def fit(
    model: nn.Module,
    data: TaskData,
    config: TrainConfig,
    *,
    target: float | None = None,
    progress: Progress | None = None,
    on_epoch: OnEpoch | None = None,
) -> FitResult:
    """Train ``model`` on ``data.train``; see the module docstring."""
    bounds = ActivityBounds(
        config.lower_bound, config.upper_bound, config.lower_strength, config.upper_strength
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    shuffle = torch.Generator().manual_seed(config.seed)
    result, best_state = FitResult(), copy.deepcopy(model.state_dict())
    batches = -(-len(data.train) // config.batch_size)
    trained = 0.0
    model.train()
    for epoch in range(1, config.epochs + 1):
        began, total = time.perf_counter(), 0.0
        order = torch.randperm(len(data.train), generator=shuffle)
        for number, start in enumerate(range(0, len(order), config.batch_size), 1):
            index = order[start : start + config.batch_size]
            x, y = data.train.dense(index), data.train.labels[index]
            total += _step(model, optimizer, bounds, config.reduction, x, y) * len(index)
            if progress is not None:
                progress(epoch, number, batches, trained + time.perf_counter() - began)
        trained += time.perf_counter() - began
        val = accuracy(model, data.val, config.reduction, config.eval_batch)
        record = EpochRecord(epoch, trained, total / len(data.train), val)
        result.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if target is not None and result.seconds_to_target is None and val > target:
            result.seconds_to_target = trained
        if val > result.best_val_accuracy or epoch == 1:
            result.best_epoch, result.best_val_accuracy = epoch, val
            best_state = copy.deepcopy(model.state_dict())
        if config.time_budget is not None and trained >= config.time_budget:
            break
    result.train_seconds = trained
    model.load_state_dict(best_state)
    result.test_accuracy = accuracy(model, data.test, config.reduction, config.eval_batch)
    return result
