"""The surrogate sweep: one task trained over surrogates x steepness x paths x seeds, plus
the controls, each run independent, each result appended as one JSON line.

Runs are listed in a fixed order (:func:`configurations`), so ``--shard K/N`` (every N-th
run from the K-th, K counted from 0) splits a sweep across machines with nothing shared but
the list, and the shards' JSON-lines files merge into one report. A run whose key is
already in the output file is skipped, so an interrupted sweep resumes where it stopped.
Independent runs go to ``processes`` worker processes (spawned, one torch thread each).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .run import CONTROLS, FUSED, RunSpec, run

__all__ = [
    "DEFAULT_STEEPNESS",
    "SweepConfig",
    "completed_keys",
    "configurations",
    "parse_shard",
    "read_lines",
    "run_key",
    "run_sweep",
    "shard",
    "sweep_preset",
]

#: A log grid of the common steepness (SuperSpike's beta), two decades around stork's 20.
DEFAULT_STEEPNESS = tuple(round(10 ** (-0.5 + 0.5 * index), 4) for index in range(7))
#: Fields of a line that identify its run (everything else is its result).
KEY_FIELDS = (
    "task",
    "preset",
    "surrogate",
    "scale",
    "path",
    "seed",
    "epochs",
    "time_budget",
    "data",
)


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


def run_key(spec: RunSpec | dict[str, Any]) -> str:
    """The identity of a run, as canonical JSON (a line's key, for resuming and merging)."""
    if isinstance(spec, RunSpec):
        fields = dict(spec.as_dict(), scale=spec.steepness)
        fields["preset"] = fields["preset"] or _default_preset(spec.task)
    else:
        fields = spec
    key = {name: fields.get(name) for name in KEY_FIELDS}
    if isinstance(key["scale"], float):
        key["scale"] = round(key["scale"], 6)
    return json.dumps(key, sort_keys=True)


def _default_preset(task: str) -> str:
    from .catalog import PRESETS

    return next(iter(PRESETS[task]))


def sweep_preset(task: str, preset: str | None = None) -> str:
    """``preset``, or the one a sweep of ``task`` uses by default: its ``hard`` preset if it
    has one (the one that separates surrogates), else its first; raise naming the tasks."""
    from .catalog import PRESETS

    if task not in PRESETS:
        raise ValueError(f"unknown task {task!r}; tasks: {sorted(PRESETS)}")
    if preset is not None:
        return preset
    return "hard" if "hard" in PRESETS[task] else _default_preset(task)


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


def read_lines(path: str | Path) -> Iterator[dict[str, Any]]:
    """The complete JSON lines of a sweep file (a line cut short by an interruption is skipped)."""
    path = Path(path)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as file:
        for line in file:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                yield row


def completed_keys(path: str | Path) -> set[str]:
    return {run_key(row) for row in read_lines(path)}


#: (task, data) -> TaskData, per worker process: a sweep's runs share one data set.
_data_cache: dict[str, Any] = {}


def _run_one(spec: RunSpec) -> dict[str, Any]:
    import torch

    from .catalog import load_task, preset

    torch.set_num_threads(1)
    chosen = preset(spec.task, spec.preset)
    data_fields = {**chosen.data, **spec.data}
    cache_key = json.dumps([spec.task, data_fields], sort_keys=True, default=str)
    if cache_key not in _data_cache:
        _data_cache.clear()
        _data_cache[cache_key] = load_task(spec.task, data_fields)
    report = run(spec, data=_data_cache[cache_key])
    report.update(epochs=spec.epochs, time_budget=spec.time_budget, data=spec.data)
    return report


def _ends_mid_line(path: Path) -> bool:
    """Whether an interrupted write left a partial last line (the next line must not join it)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) != b"\n"


def _append(path: Path, row: dict[str, Any]) -> None:
    start = "\n" if _ends_mid_line(path) else ""
    with path.open("a", encoding="utf-8") as file:
        file.write(start + json.dumps(row) + "\n")
        file.flush()
        os.fsync(file.fileno())


#: ``progress(done, total, seconds, row)`` after each finished run.
SweepProgress = Callable[[int, int, float, dict[str, Any]], None]


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    processes: int = 1,
    shard_of: tuple[int, int] = (0, 1),
    progress: SweepProgress | None = None,
) -> list[dict[str, Any]]:
    """Run the pending runs of this shard, append each result to ``out``; return them."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = completed_keys(out)
    pending = [
        spec for spec in shard(configurations(config), *shard_of) if run_key(spec) not in done
    ]
    began, rows = time.perf_counter(), []

    def finished(row: dict[str, Any]) -> None:
        _append(out, row)
        rows.append(row)
        if progress is not None:
            progress(len(rows), len(pending), time.perf_counter() - began, row)

    if processes <= 1 or len(pending) <= 1:
        for spec in pending:
            finished(_run_one(spec))
        return rows
    context = multiprocessing.get_context("spawn")  # no forked OpenMP state
    with context.Pool(min(processes, len(pending))) as pool:
        for row in pool.imap_unordered(_run_one, pending):
            finished(row)
    return rows


def eta(done: int, total: int, seconds: float) -> float:
    """Seconds left at the mean pace so far (``nan`` before the first run finishes)."""
    return math.nan if done == 0 else seconds / done * (total - done)
