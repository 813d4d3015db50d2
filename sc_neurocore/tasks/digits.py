"""The handwritten digits of scikit-learn (1,797 real 8x8 images, shipped inside the
package, no download) with a fixed train/test split, their seeded rate encoder and a
mini-batch iterator: the one digits pipeline of the demo (:mod:`.demo`, which encodes every
batch afresh) and of the ``digits`` task (:mod:`.catalog`, which encodes once)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import NamedTuple

import torch
from torch import Tensor

from ..core.settings import positive_int
from .encoding import rate_encode

__all__ = ["Digits", "batches", "load_digits", "rate_encoder"]

#: The split never depends on the training seed, so results compare across seeds.
SPLIT_SEED = 0
TEST_FRACTION = 0.2


class Digits(NamedTuple):
    """Images flattened to 64 intensities in [0, 1] (float32) and int64 labels 0-9."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor


def load_digits() -> Digits:
    """The digits, stratified 80/20 into train (1,437) and test (360) by a fixed seed."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError(
            'the digits demo needs scikit-learn: pip install scikit-learn (the "examples" extra)'
        ) from error
    images, labels = sklearn_digits(return_X_y=True)
    parts = train_test_split(
        images / 16.0, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    x_train, x_test, y_train, y_test = (torch.as_tensor(part) for part in parts)
    return Digits(x_train.float(), y_train.long(), x_test.float(), y_test.long())


def batches(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """``(x, y)`` mini-batches along the first dimension; shuffled by ``generator`` if asked."""
    positive_int("batch_size", batch_size)
    order = torch.randperm(len(x), generator=generator) if shuffle else torch.arange(len(x))
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


def rate_encoder(
    timesteps: int, seed: int, device: torch.device | str = "cpu"
) -> Callable[[Tensor], Tensor]:
    """:func:`rate_encode` over ``timesteps`` with a generator of its own on ``device``,
    seeded ``seed``: its spikes depend on the seed and the calls before, nothing else."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return partial(rate_encode, timesteps=timesteps, generator=generator)
