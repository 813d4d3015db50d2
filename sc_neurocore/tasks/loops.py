"""The one training loop: every trainer here (the digits demo, ``train --task``, the sweep)
runs its epochs through :func:`train_epochs`, its batches through :func:`train_epoch` and
its evaluations through :func:`evaluate`.

A model returns spike counts (or a readout membrane) first and, optionally, a second
output: a membrane sum that breaks ties (:func:`predict`) or hidden spikes a ``penalty``
bounds. Model selection is optional: with ``validate``, the weights of the best validation
epoch are restored at the end.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .losses import spike_count_cross_entropy

__all__ = [
    "EpochRecord",
    "Evaluation",
    "FitResult",
    "evaluate",
    "predict",
    "train_epoch",
    "train_epochs",
]

Batches = Iterable[tuple[Tensor, Tensor]]
Encoder = Callable[[Tensor], Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]
Penalty = Callable[[Tensor], Tensor]
Classify = Callable[[Tensor, "Tensor | None"], Tensor]
Progress = Callable[[int, float], None]
#: ``progress(epoch, batch, batches, train_seconds)`` after every batch of :func:`train_epochs`.
EpochProgress = Callable[[int, int, int, float], None]
#: ``on_epoch(record)`` after every epoch (and its validation).
OnEpoch = Callable[["EpochRecord"], None]


class Evaluation(NamedTuple):
    loss: float
    accuracy: float


@dataclass
class EpochRecord:
    epoch: int
    seconds: float  # training time so far (evaluation excluded)
    loss: float
    val_accuracy: float | None  # None: no validation


@dataclass
class FitResult:
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_accuracy: float = 0.0
    test_accuracy: float = 0.0
    train_seconds: float = 0.0
    seconds_to_target: float | None = None  # training time until val passed ``target``


def _outputs(model: nn.Module, x: Tensor, encode: Encoder | None) -> tuple[Tensor, Tensor | None]:
    """The model's first output and, if it returns a tuple, its second (else ``None``)."""
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
    penalty: Penalty | None = None,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
) -> float:
    """Train over ``batches`` of ``(x, targets)``; returns the sample-weighted mean loss.

    ``encode`` turns a batch into time-major spikes (for example a partial of
    ``rate_encode``); ``loss_fn(first_output, targets)``, plus ``penalty(second_output)``
    if given, is the loss; ``progress(batches_done, running_loss)`` follows each batch.
    """
    model.train()
    total, count = 0.0, 0
    for done, (x, targets) in enumerate(batches, 1):
        if device is not None:
            x, targets = x.to(device), targets.to(device)
        first, second = _outputs(model, x, encode)
        loss = loss_fn(first, targets)
        if penalty is not None:
            if second is None:
                raise ValueError("train_epoch: a penalty needs a model that returns two outputs")
            loss = loss + penalty(second)
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
    classify: Classify = predict,
    device: torch.device | str | None = None,
) -> Evaluation:
    """Mean loss and accuracy over ``batches``; ``classify(first, second)`` names the class
    of each sample from the model's outputs (:func:`predict` by default)."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    for x, targets in batches:
        if device is not None:
            x, targets = x.to(device), targets.to(device)
        first, second = _outputs(model, x, encode)
        total += loss_fn(first, targets).item() * len(targets)
        correct += int((classify(first, second) == targets).sum())
        count += len(targets)
    return Evaluation(total / max(count, 1), correct / max(count, 1))


def _per_batch(
    progress: EpochProgress, epoch: int, batches: int, trained: float, began: float
) -> Progress:
    """:func:`train_epoch`'s progress call as an :data:`EpochProgress` one."""
    return lambda done, _: progress(epoch, done, batches, trained + time.perf_counter() - began)


def train_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batches: Callable[[], Batches],
    batches_per_epoch: int,
    *,
    encode: Encoder | None = None,
    loss_fn: LossFn = spike_count_cross_entropy,
    penalty: Penalty | None = None,
    device: torch.device | str | None = None,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    validate: Callable[[], float] | None = None,
    target: float | None = None,
    time_budget: float | None = None,
    progress: EpochProgress | None = None,
    on_epoch: OnEpoch | None = None,
) -> FitResult:
    """Up to ``epochs`` passes of :func:`train_epoch` over ``batches()`` (called once per
    epoch, so it may shuffle), each followed by ``schedule.step()`` and ``validate()``.

    With ``validate``, the best validation epoch's weights are restored at the end and the
    first training time at which validation passed ``target`` is recorded; ``time_budget``
    (seconds of training, evaluation excluded) stops early.
    """
    result, best_state = FitResult(), None
    trained = 0.0
    for epoch in range(1, epochs + 1):
        began = time.perf_counter()
        per_batch = None
        if progress is not None:
            per_batch = _per_batch(progress, epoch, batches_per_epoch, trained, began)
        loss = train_epoch(
            model,
            batches(),
            optimizer,
            encode=encode,
            loss_fn=loss_fn,
            penalty=penalty,
            device=device,
            progress=per_batch,
        )
        if schedule is not None:
            schedule.step()
        trained += time.perf_counter() - began
        val = None if validate is None else validate()
        record = EpochRecord(epoch, trained, loss, val)
        result.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if val is not None:
            if target is not None and result.seconds_to_target is None and val > target:
                result.seconds_to_target = trained
            if val > result.best_val_accuracy or epoch == 1:
                result.best_epoch, result.best_val_accuracy = epoch, val
                best_state = copy.deepcopy(model.state_dict())
        else:
            result.best_epoch = epoch
        if time_budget is not None and trained >= time_budget:
            break
    result.train_seconds = trained
    if best_state is not None:
        model.load_state_dict(best_state)
    return result
