"""The digits demo behind ``sc-neurocore train``: a :class:`SpikingNet` on scikit-learn's
digits, rate-coded afresh for every batch (a new draw of spikes each epoch), trained by the
one loop of :mod:`.loops` with a cosine-decayed Adam and scored on the test images once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import torch

from ..networks import SpikingNet
from ..neurons.base import SurrogateCallable
from .digits import Digits, batches, rate_encoder
from .loops import EpochProgress, Evaluation, FitResult, OnEpoch, evaluate, train_epochs
from .losses import spike_count_cross_entropy

__all__ = ["LOSS_SCALE", "DemoConfig", "DemoResult", "train_demo"]

LOSS_SCALE = 0.5  # softens the count logits (0..T) so early epochs do not saturate
EVAL_BATCH = 512


@dataclass(frozen=True)
class DemoConfig:
    """What decides a demo run's result (the command line's defaults live in its parser)."""

    epochs: int
    timesteps: int
    hidden: int
    batch_size: int
    lr: float
    seed: int
    fused: bool = False
    device: str = "cpu"


class DemoResult(NamedTuple):
    fit: FitResult
    test: Evaluation
    seconds: float  # training and the test pass (building the model excluded)


def train_demo(
    digits: Digits,
    surrogate: SurrogateCallable,
    config: DemoConfig,
    *,
    progress: EpochProgress | None = None,
    on_epoch: OnEpoch | None = None,
) -> DemoResult:
    """Train a 64-``hidden``-10 network and evaluate it on the test images.

    Raises ImportError where ``fused`` layers are not available here.
    """
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    shuffle = torch.Generator().manual_seed(config.seed)
    encode = rate_encoder(config.timesteps, config.seed, device)
    model = SpikingNet(64, config.hidden, 10, surrogate_fn=surrogate, fused=config.fused)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = partial(spike_count_cross_entropy, scale=LOSS_SCALE)
    began = time.perf_counter()
    result = train_epochs(
        model,
        optimizer,
        config.epochs,
        lambda: batches(
            digits.x_train, digits.y_train, config.batch_size, shuffle=True, generator=shuffle
        ),
        -(-len(digits.x_train) // config.batch_size),
        encode=encode,
        loss_fn=loss_fn,
        device=device,
        # Cosine decay settles the last epochs: the worst of 8 seeds rose from 95.0 % to 96.7 %.
        schedule=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs),
        progress=progress,
        on_epoch=on_epoch,
    )
    test = batches(digits.x_test, digits.y_test, EVAL_BATCH)
    scores = evaluate(model, test, encode=encode, loss_fn=loss_fn, device=device)
    return DemoResult(result, scores, time.perf_counter() - began)
