"""The surrogate sweep: one task trained over surrogates x steepness x paths x seeds, plus
the controls, each run independent, each result appended as one JSON line.

Runs are listed in a fixed order (:func:`configurations`), so ``--shard K/N`` (every N-th
run from the K-th, K counted from 0) splits a sweep across machines with nothing shared but
the list, and the shards' JSON-lines files merge into one report. Each line stores its
run's complete key (:mod:`.sweep_key`); a run whose key is already in the output file is
skipped, so an interrupted sweep resumes where it stopped, and sweeps of one file share
its runs through claims (:mod:`.sweep_file`). Independent runs go to ``processes`` worker
processes (spawned, one torch thread each, deaf to Ctrl-C: the parent stops them).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import queue
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .run import CONTROLS, FUSED, RunSpec, resolve, run
from .sweep_file import Claims, append, completed_keys, read_lines
from .sweep_key import run_configuration, run_key

__all__ = [
    "DEFAULT_STEEPNESS",
    "SweepConfig",
    "completed_keys",
    "configurations",
    "parse_shard",
    "pending_runs",
    "read_lines",
    "run_key",
    "run_sweep",
    "shard",
    "sweep_preset",
]

#: A log grid of the common steepness (SuperSpike's beta), two decades around stork's 20.
DEFAULT_STEEPNESS = tuple(round(10 ** (-0.5 + 0.5 * index), 4) for index in range(7))


@dataclass(frozen=True)
class SweepConfig:
    task: str = "randman"
    preset: str | None = None  # None: the task's hard preset if it has one (sweep_preset)
    surrogates: tuple[str, ...] | None = None  # None: every registered surrogate
    steepness: tuple[float, ...] = DEFAULT_STEEPNESS
    paths: tuple[str, ...] = (FUSED,)
    seeds: tuple[int, ...] = (0, 1, 2)
    controls: bool = True
    epochs: int | None = None
    time_budget: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)


def _surrogates(config: SweepConfig) -> list[str]:
    from ..core.registry import list_surrogates

    names = list(config.surrogates) if config.surrogates is not None else list(list_surrogates())
    # g = 1 is the "constant" control already; listing it twice would only repeat runs.
    return [name for name in names if not (config.controls and name == CONTROLS["constant"])]


def configurations(config: SweepConfig) -> list[RunSpec]:
    """Every run of the sweep, in a fixed order: paths, seeds, surrogates, steepness, controls.

    A surrogate whose spec declares no :class:`~sc_neurocore.core.spec.Scale` runs once per
    path and seed, at its defaults.
    """
    from ..core.registry import get_spec

    base = RunSpec(
        task=config.task,
        preset=sweep_preset(config.task, config.preset),
        epochs=config.epochs,
        time_budget=config.time_budget,
        data=dict(config.data),
        model=dict(config.model),
    )
    runs = []
    for path in config.paths:
        for seed in config.seeds:
            for name in _surrogates(config):
                grid: Iterable[float | None] = (
                    config.steepness if get_spec(name).scale is not None else (None,)
                )
                runs += [
                    replace(base, surrogate=name, steepness=k, path=path, seed=seed) for k in grid
                ]
            if config.controls:
                runs += [replace(base, surrogate=c, path=path, seed=seed) for c in CONTROLS]
    return runs


def sweep_preset(task: str, preset: str | None = None) -> str:
    """``preset``, or the one a sweep of ``task`` uses by default: its ``hard`` preset if it
    has one (the one that separates surrogates), else its first; raise naming the tasks."""
    from .catalog import PRESETS, preset_name

    first = preset_name(task)  # raises naming the tasks
    if preset is not None:
        return preset
    return "hard" if "hard" in PRESETS[task] else first


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``; raise naming the value otherwise."""
    index, sep, count = text.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k, n = -1, 0
    if not sep or n < 1 or not 0 <= k < n:
        raise ValueError(f"--shard must be K/N with 0 <= K < N (K counted from 0), got {text!r}")
    return k, n


def shard(runs: list[RunSpec], k: int, n: int) -> list[RunSpec]:
    """Every ``n``-th run from the ``k``-th: the shards of ``0..n-1`` partition ``runs``."""
    return runs[k::n]


#: (task, data) -> TaskData, per worker process: a sweep's runs share one data set.
_data_cache: dict[str, Any] = {}


def _run_one(spec: RunSpec) -> dict[str, Any]:
    import torch

    from .catalog import load_task

    torch.set_num_threads(1)
    data_fields = resolve(spec).data
    cache_key = json.dumps([spec.task, data_fields], sort_keys=True, default=str)
    if cache_key not in _data_cache:
        _data_cache.clear()
        _data_cache[cache_key] = load_task(spec.task, data_fields)
    report = run(spec, data=_data_cache[cache_key])
    report.update(epochs=spec.epochs, time_budget=spec.time_budget, data=spec.data)
    report["key"] = run_configuration(spec)
    return report


def _deaf_to_ctrl_c() -> None:
    """Pool workers ignore SIGINT: the parent alone ends the sweep, with one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: ``progress(done, total, seconds, row)`` after each finished run.
SweepProgress = Callable[[int, int, float, dict[str, Any]], None]


def pending_runs(
    config: SweepConfig, out: str | Path, shard_of: tuple[int, int] = (0, 1)
) -> tuple[list[RunSpec], list[RunSpec]]:
    """``(planned, pending)``: this shard's runs, and those whose key ``out`` lacks."""
    planned = shard(configurations(config), *shard_of)
    done = completed_keys(out)
    return planned, [spec for spec in planned if run_key(spec) not in done]


class _Scheduler:
    """Hands out the pending runs this process holds the claim of, one at a time."""

    def __init__(self, out: Path, pending: list[RunSpec]) -> None:
        self.out = out
        self.waiting = [(run_key(spec), spec) for spec in pending]
        self.claims = Claims(out)

    def next_run(self, block: bool) -> RunSpec | None:
        """A claimed run nobody finished; None when every run is done, or when the rest are
        claimed by other sweeps and not ``block`` (else wait for them to finish or die)."""
        while self.waiting:
            done = completed_keys(self.out)
            self.waiting = [(key, spec) for key, spec in self.waiting if key not in done]
            for index, (key, spec) in enumerate(self.waiting):
                if not self.claims.claim(key):
                    continue
                if key in completed_keys(self.out):  # finished while we were looking
                    self.claims.release(key)
                    continue
                del self.waiting[index]
                return spec
            if not block:
                return None
            time.sleep(0.2)
        return None


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    processes: int = 1,
    shard_of: tuple[int, int] = (0, 1),
    progress: SweepProgress | None = None,
) -> list[dict[str, Any]]:
    """Run the pending runs of this shard, append each result to ``out``; return them.

    Runs another sweep of the same file is running are left to it (and waited for at the
    end); a claim of a sweep that died is taken over.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _, pending = pending_runs(config, out, shard_of)
    scheduler = _Scheduler(out, pending)
    began, rows = time.perf_counter(), []

    def finished(spec: RunSpec, row: dict[str, Any]) -> None:
        append(out, row)
        scheduler.claims.release(run_key(spec))
        rows.append(row)
        if progress is not None:
            progress(len(rows), len(pending), time.perf_counter() - began, row)

    try:
        if processes <= 1 or len(pending) <= 1:
            while (spec := scheduler.next_run(block=True)) is not None:
                finished(spec, _run_one(spec))
        else:
            _in_pool(scheduler, min(processes, len(pending)), finished)
    finally:
        scheduler.claims.release_all()
    return rows


_Result = tuple[RunSpec, "dict[str, Any] | None", "BaseException | None"]


def _deliver(
    results: queue.Queue[_Result], spec: RunSpec
) -> tuple[Callable[[dict[str, Any]], None], Callable[[BaseException], None]]:
    """The pool's callbacks of one run: put its row, or its error, on ``results``."""

    def done(row: dict[str, Any]) -> None:
        results.put((spec, row, None))

    def failed(error: BaseException) -> None:
        results.put((spec, None, error))

    return done, failed


def _in_pool(
    scheduler: _Scheduler, processes: int, finished: Callable[[RunSpec, dict[str, Any]], None]
) -> None:
    """Keep ``processes`` claimed runs training in spawned workers until none is left."""
    results: queue.Queue[_Result] = queue.Queue()
    context = multiprocessing.get_context("spawn")  # no forked OpenMP state
    with context.Pool(processes, initializer=_deaf_to_ctrl_c) as pool:
        running = 0
        while True:
            while running < processes:
                spec = scheduler.next_run(block=running == 0)
                if spec is None:
                    break
                done, failed = _deliver(results, spec)
                pool.apply_async(_run_one, (spec,), callback=done, error_callback=failed)
                running += 1
            if running == 0:
                return
            spec, row, error = results.get()
            running -= 1
            if error is not None:
                raise error
            assert row is not None
            finished(spec, row)


def eta(done: int, total: int, seconds: float) -> float:
    """Seconds left at the mean pace so far (``nan`` before the first run finishes)."""
    return math.nan if done == 0 else seconds / done * (total - done)
