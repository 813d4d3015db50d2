"""The 1-nearest-neighbour baseline on raw spike times: what a task gives away for free.

A task on which 1-NN over the per-unit spike times already scores near 100 % cannot tell a
good spiking network from a mediocre one; every training run reports this figure beside
its own accuracy so that the difference is what the network learned.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["nearest_neighbour_accuracy"]


def nearest_neighbour_accuracy(
    train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor, chunk: int = 1024
) -> float:
    """Fraction of ``test_x`` rows whose Euclidean nearest ``train_x`` row has their label.

    Rows are feature vectors (for spike-timing tasks: one spike time per unit); ties go to
    the lowest training index. Computed in float64, ``chunk`` test rows at a time.
    """
    if train_x.dim() != 2 or test_x.dim() != 2 or train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            "nearest_neighbour_accuracy: train_x and test_x must be (rows, features) with the "
            f"same features, got {tuple(train_x.shape)} and {tuple(test_x.shape)}"
        )
    if len(train_x) == 0 or len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise ValueError(
            "nearest_neighbour_accuracy: need a non-empty train set and one label per row, got "
            f"{len(train_x)}/{len(train_y)} train and {len(test_x)}/{len(test_y)} test rows"
        )
    reference = train_x.to(torch.float64)
    correct = 0
    for start in range(0, len(test_x), chunk):
        rows = test_x[start : start + chunk].to(torch.float64)
        nearest = torch.cdist(rows, reference).argmin(dim=1)
        correct += int((train_y[nearest] == test_y[start : start + chunk]).sum())
    return correct / max(len(test_x), 1)
