"""Interleaved timing: every candidate of a group is sampled once per round.

The machine is shared and noisy, so a candidate is never timed in one long block:
each round samples all candidates one after another (in a shuffled order), a ratio
is taken between two candidates *within* each round, and the reported figure is the
median over rounds.  Slow drifts of the machine then cancel out of the ratios.  On a CUDA
device every call ends with a synchronisation, so a time is the device's work, not the launch.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

Candidate = Callable[[], object]


@dataclass(frozen=True)
class Timing:
    """How long to measure: rounds per group, warm-up calls, minimum time per sample."""

    rounds: int = 15
    warmup: int = 2
    min_sample_s: float = 0.01

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.warmup < 0 or not self.min_sample_s >= 0:
            raise ValueError(f"invalid timing settings {self!r}")


@dataclass(frozen=True)
class Samples:
    """Per-call seconds of one candidate, one value per round, and its page faults."""

    name: str
    seconds: tuple[float, ...]
    #: Minor page faults per call (fresh memory mapped in by the allocator), per round.
    faults: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_faults(self) -> float | None:
        return statistics.median(self.faults) if self.faults else None


def _calls_per_sample(candidate: Candidate, min_sample_s: float) -> int:
    start = time.perf_counter()
    candidate()
    once = time.perf_counter() - start
    return max(1, math.ceil(min_sample_s / max(once, 1e-9)))


def synchronize(device: str) -> None:
    """Wait for ``device``'s queued work (nothing to wait for on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _synced(run: Candidate, device: str) -> Candidate:
    def call() -> None:
        run()
        synchronize(device)

    return call


def interleaved(
    candidates: Mapping[str, Candidate], timing: Timing, device: str = "cpu"
) -> dict[str, Samples]:
    """Time each candidate ``timing.rounds`` times, in a new random order each round (each
    call synchronized with ``device`` when that is a GPU)."""
    if torch.device(device).type == "cuda":
        candidates = {name: _synced(run, device) for name, run in candidates.items()}
    names = list(candidates)
    for name in names:
        for _ in range(timing.warmup):
            candidates[name]()
    calls = {name: _calls_per_sample(candidates[name], timing.min_sample_s) for name in names}
    collected: dict[str, list[float]] = {name: [] for name in names}
    faults: dict[str, list[float]] = {name: [] for name in names}
    enabled = gc.isenabled()
    gc.disable()  # a collection landing in one sample would skew that round
    try:
        order = random.Random(len(names))  # seeded: the same schedule every run
        for _ in range(timing.rounds):
            # A fresh permutation per round: no candidate always follows the same one,
            # which would hand it that neighbour's cache and allocator state every time.
            for name in order.sample(names, len(names)):
                fn, count = candidates[name], calls[name]
                faulted = _minor_faults()
                start = time.perf_counter()
                for _ in range(count):
                    fn()
                collected[name].append((time.perf_counter() - start) / count)
                faults[name].append((_minor_faults() - faulted) / count)
    finally:
        if enabled:
            gc.enable()
    return {name: Samples(name, tuple(collected[name]), tuple(faults[name])) for name in names}


def _minor_faults() -> int:
    try:
        import resource  # Unix only
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def median_ratio(numerator: Samples, denominator: Samples) -> float:
    """Median over rounds of ``numerator / denominator`` measured in the same round."""
    return statistics.median(
        a / b for a, b in zip(numerator.seconds, denominator.seconds, strict=True)
    )
