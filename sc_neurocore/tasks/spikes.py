"""Spike data sets as event lists, and the split every task hands to the trainer.

Every task (the digits, Randman, SHD) produces labelled samples of spike events
``(sample, step, unit)``. Events keep memory proportional to the number of spikes (SHD
has 700 units), and a mini-batch is made dense, time-major ``(T, batch, units)``, only
when it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

__all__ = ["SpikeSet", "TaskData", "split_indices"]


@dataclass(frozen=True)
class SpikeSet:
    """``labels[s]`` and the spike events of samples ``0..len-1`` over ``steps`` x ``units``.

    ``sample``, ``step`` and ``unit`` are int64 event coordinates of equal length.
    """

    sample: Tensor
    step: Tensor
    unit: Tensor
    labels: Tensor
    steps: int
    units: int

    def __post_init__(self) -> None:
        sizes = {len(self.sample), len(self.step), len(self.unit)}
        if len(sizes) != 1:
            raise ValueError(f"SpikeSet: event coordinates differ in length: {sorted(sizes)}")
        for name, values, limit in (
            ("sample", self.sample, len(self.labels)),
            ("step", self.step, self.steps),
            ("unit", self.unit, self.units),
        ):
            if values.dtype != torch.int64:
                raise TypeError(f"SpikeSet: {name} must be int64, got {values.dtype}")
            if values.numel() and (int(values.min()) < 0 or int(values.max()) >= limit):
                raise ValueError(f"SpikeSet: {name} indices must lie in [0, {limit - 1}]")

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def from_times(times: Tensor, labels: Tensor, steps: int) -> SpikeSet:
        """One spike per unit: ``times[s, u]`` is unit ``u``'s spike step in sample ``s``."""
        samples, units = times.shape
        sample = torch.arange(samples).repeat_interleave(units)
        unit = torch.arange(units).repeat(samples)
        return SpikeSet(sample, times.reshape(-1).long(), unit, labels.long(), steps, units)

    @staticmethod
    def from_dense(spikes: Tensor, labels: Tensor) -> SpikeSet:
        """From time-major dense spikes ``(T, samples, units)`` (nonzero = a spike)."""
        step, sample, unit = spikes.nonzero(as_tuple=True)
        return SpikeSet(sample, step, unit, labels.long(), spikes.shape[0], spikes.shape[2])

    def subset(self, index: Tensor) -> SpikeSet:
        """The samples ``index`` (in that order), renumbered from 0."""
        position = torch.full((len(self),), -1, dtype=torch.int64)
        position[index] = torch.arange(len(index))
        keep = position[self.sample] >= 0
        return SpikeSet(
            position[self.sample[keep]],
            self.step[keep],
            self.unit[keep],
            self.labels[index],
            self.steps,
            self.units,
        )

    @cached_property
    def _by_sample(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(order, first, count)``: the events sorted by sample, each sample's first
        position in that order and its number of events (built once, on first use)."""
        order = torch.argsort(self.sample, stable=True)
        count = torch.bincount(self.sample, minlength=len(self))
        first = torch.cumsum(count, 0) - count
        return order, first, count

    def events(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(position, step, unit)`` of the events of the samples ``index``, ``position``
        being each event's place in ``index``: work and memory proportional to the
        batch's events, not to the whole set's."""
        order, first, count = self._by_sample
        index = torch.as_tensor(index, dtype=torch.int64)
        counts = count[index]
        position = torch.repeat_interleave(torch.arange(len(index)), counts)
        offset_in_sample = (
            torch.arange(len(position)) - (torch.cumsum(counts, 0) - counts)[position]
        )
        chosen = order[first[index][position] + offset_in_sample]
        return position, self.step[chosen], self.unit[chosen]

    def dense(self, index: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Time-major spikes ``(T, len(index), units)`` of the samples ``index``; several
        events in one bin are one spike."""
        position, step, unit = self.events(index)
        out = torch.zeros((self.steps, len(index), self.units), dtype=dtype)
        out.index_put_((step, position, unit), torch.ones((), dtype=dtype))
        return out

    def first_spike_times(self) -> Tensor:
        """``(samples, units)`` float64: each unit's first spike step, ``steps`` if it is silent.

        The raw-spike-time features of the 1-NN baseline.
        """
        times = torch.full((len(self) * self.units,), float(self.steps), dtype=torch.float64)
        flat = self.sample * self.units + self.unit
        times.scatter_reduce_(0, flat, self.step.double(), reduce="amin")
        return times.view(len(self), self.units)


@dataclass(frozen=True)
class TaskData:
    """What a task gives the trainer: three splits and a record of what was generated/read."""

    name: str
    classes: int
    train: SpikeSet
    val: SpikeSet
    test: SpikeSet
    description: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.train.steps

    @property
    def units(self) -> int:
        return self.train.units


def split_indices(count: int, fractions: tuple[float, float, float]) -> tuple[Tensor, ...]:
    """Consecutive train/val/test index ranges of ``count`` already shuffled samples."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(
            f"split fractions must be three numbers >= 0 summing to 1, got {fractions!r}"
        )
    first = round(fractions[0] * count)
    second = first + round(fractions[1] * count)
    everything = torch.arange(count)
    return everything[:first], everything[first:second], everything[second:]
