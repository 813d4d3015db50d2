"""Section ``registry``: what the registry and the call forms cost.

* a cached ``get_surrogate`` lookup (in-process, per call);
* the dispatcher ``atan_surrogate(x)`` vs the explicit ``atan_surrogate_<default path>``
  at 1e3 elements, forward only on ``x.requires_grad_()`` (the dispatch happens
  there; a backward would only dilute it) and fwd+bwd for reference;
* ``import sc_neurocore`` after ``import torch`` and the first registry use (plugin
  discovery), each timed inside fresh interpreters (bytecode cached, as after any
  install), median over repetitions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
from typing import Any

import torch

from sc_neurocore.core import callforms as call_forms
from sc_neurocore.core.registry import get_default_path, get_surrogate

from .common import fwd_bwd
from .config import BenchConfig
from .progress import Progress
from .timing import interleaved, median_ratio

LOOKUPS_PER_CALL = 100

#: Timed inside a fresh interpreter: torch, then sc_neurocore, then first registry use.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import sc_neurocore
t2 = time.perf_counter()
loaded = set(sys.modules)
sc_neurocore.list_surrogates()
t3 = time.perf_counter()
sc_neurocore.get_surrogate("atan")(torch.zeros(4))
t4 = time.perf_counter()
from importlib.metadata import entry_points
plugins = sorted({ep.module for ep in entry_points(group="sc_neurocore.plugins")})
print(json.dumps({
    "torch_s": t1 - t0, "sc_neurocore_s": t2 - t1, "first_use_s": t3 - t2,
    "first_surrogate_s": t4 - t3,
    "plugins_at_import": [m for m in plugins if m in loaded],
}))
"""


def _lookups(repeats: int, name: str, **params: Any) -> Any:
    def run() -> None:
        for _ in range(repeats):
            get_surrogate(name, **params)

    return run


def _import_costs(config: BenchConfig, progress: Progress) -> list[dict[str, Any]]:
    # Bytecode is allowed to be written (as any normal install has it) and one
    # uncounted interpreter runs first, so no sample pays for compiling sources.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    results = []
    for index in range(config.import_repeats + 1):
        progress.step(f"fresh interpreter {index}/{config.import_repeats}")
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            env=env,
        )
        if index:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def run_registry(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    progress.start("registry", 3 + config.import_repeats)
    default = get_default_path()
    suffix = {"legacy_autograd": "legacy"}.get(default, default)
    explicit = getattr(call_forms, f"atan_surrogate_{suffix}", None)
    notes: list[str] = []
    if explicit is None:  # a plugin path is the default: its pinned call form is resolve()
        explicit = get_surrogate("atan", default)
        notes.append(f"default path {default!r} has no seed call form; compared with get_surrogate")
    progress.step("get_surrogate and call forms")
    x = torch.randn(1000).requires_grad_(True)
    g = torch.randn(1000)
    dispatcher = call_forms.atan_surrogate
    get_surrogate("atan")
    get_surrogate("atan", alpha=2.0)
    timing = config.registry_timing
    # Each compared pair is its own group: two candidates sampled back to back per
    # round give a much tighter ratio than one crowded group.
    pair_timing = dataclasses.replace(timing, rounds=2 * timing.rounds + 1)
    samples = interleaved(
        {
            "get_surrogate": _lookups(LOOKUPS_PER_CALL, "atan"),
            "get_surrogate_params": _lookups(LOOKUPS_PER_CALL, "atan", alpha=2.0),
        },
        timing,
    )
    samples |= interleaved(
        {"dispatcher_fwd": lambda: dispatcher(x), "explicit_fwd": lambda: explicit(x)},
        pair_timing,
    )
    samples |= interleaved(
        {
            "dispatcher_fwd_bwd": fwd_bwd(dispatcher, x, g),
            "explicit_fwd_bwd": fwd_bwd(explicit, x, g),
        },
        pair_timing,
    )
    children = _import_costs(config, progress)
    progress.step("done")

    def median_of(key: str) -> float:
        return statistics.median(child[key] for child in children)

    plugins = sorted({m for child in children for m in child["plugins_at_import"]})
    rows = [
        ("cached get_surrogate('atan')", samples["get_surrogate"].median / LOOKUPS_PER_CALL, "s"),
        (
            "cached get_surrogate('atan', alpha=2.0)",
            samples["get_surrogate_params"].median / LOOKUPS_PER_CALL,
            "s",
        ),
        (
            f"atan_surrogate(x) fwd, 1e3, default path {default}",
            samples["dispatcher_fwd"].median,
            "s",
        ),
        (f"atan_surrogate_{suffix}(x) fwd, 1e3", samples["explicit_fwd"].median, "s"),
        (
            "dispatcher / explicit, fwd",
            median_ratio(samples["dispatcher_fwd"], samples["explicit_fwd"]),
            "ratio",
        ),
        (
            "dispatcher / explicit, fwd+bwd",
            median_ratio(samples["dispatcher_fwd_bwd"], samples["explicit_fwd_bwd"]),
            "ratio",
        ),
        ("import torch", median_of("torch_s"), "s"),
        ("import sc_neurocore after torch", median_of("sc_neurocore_s"), "s"),
        ("first registry use (discovery)", median_of("first_use_s"), "s"),
        ("first get_surrogate('atan') call (builds the op)", median_of("first_surrogate_s"), "s"),
    ]
    return {
        "title": "Registry and call-form costs",
        "rows": [{"name": name, "value": value, "unit": unit} for name, value, unit in rows],
        "plugins_imported_at_import": plugins,
        "interpreters": len(children),
        "notes": notes,
    }
