"""The GPU targets of issue 12, evaluated from a ``run_gpu_bench`` result, and its tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import MATMULS, OURS, Results, rows_of
from .report import ratio, seconds, table

__all__ = ["evaluate_gpu", "render_gpu"]

BUILTINS = ("fast_sigmoid", "superspike", "atan", "sigmoid", "straight_through", "triangular")


def _lif_over_sj(steps_wanted: str, dtype: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        rows = [r for r in rows_of(results, "gpu_lif") if r["candidate"] == OURS]
        if not rows:
            return None
        steps = [r["steps"] for r in rows]
        wanted = max(steps) if steps_wanted == "largest" else min(steps)
        found = [r for r in rows if r["steps"] == wanted and r["dtype"] == dtype]
        return found[0]["over_sj_triton"] if found else None

    return measure


def _workload(kind: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        rows = rows_of(results, "gpu_workload")
        if kind == "matmuls":  # the worst size
            values = [r["over_matmuls"] for r in rows if r["candidate"] == OURS]
            return max(values) if values else None
        # the fastest peer's time over ours, at the size where it comes closest
        values = [
            r["over_ours"]
            for r in rows
            if r["candidate"] not in (OURS, MATMULS) and r["over_ours"] is not None
        ]
        return min(values) if values else None

    return measure


def _surrogates(results: Results) -> float | None:
    rows = rows_of(results, "gpu_surrogates")
    if not rows:
        return None
    largest = max(r["numel"] for r in rows)
    values = [
        r["over_mul"]
        for r in rows
        if r["numel"] == largest and r["surrogate"] in BUILTINS and r["path"] == "custom_op"
    ]
    return max(values) if values else None


#: (name, measure, goal, higher is better)
TARGETS: tuple[tuple[str, Callable[[Results], float | None], float, bool], ...] = (
    ("fused LIF / SJ triton, largest T, fp32", _lif_over_sj("largest", "float32"), 1.5, True),
    ("fused LIF / SJ triton, largest T, fp16", _lif_over_sj("largest", "float16"), 1.5, True),
    ("fused LIF / SJ triton, smallest T, fp32", _lif_over_sj("smallest", "float32"), 1.0, True),
    ("fused LIF / SJ triton, smallest T, fp16", _lif_over_sj("smallest", "float16"), 1.0, True),
    ("workload: ours over matmuls alone (worst n)", _workload("matmuls"), 1.15, False),
    ("workload: fastest peer's time over ours", _workload("peers"), 1.0, True),
    ("surrogate fwd+bwd over torch.mul, largest size, worst built-in", _surrogates, 2.0, False),
)  # fmt: skip


def evaluate_gpu(results: Results) -> list[dict[str, Any]]:
    """Each target's measured value and whether it is met (``None``: not measured)."""
    evaluated = []
    for name, measure, goal, higher in TARGETS:
        value = measure(results)
        met = None if value is None else (value >= goal if higher else value <= goal)
        evaluated.append({"target": name, "value": value, "goal": goal, "met": met})
    return evaluated


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f} MiB"


def render_gpu(results: Results) -> str:
    """The GPU results as plain-text tables, then the targets."""
    meta = results["meta"]
    parts = [f"GPU benchmarks on {meta['device_name']} (torch {meta['torch']})"]
    sections = results["sections"]
    if "gpu_surrogates" in sections:
        rows = [
            [r["surrogate"], r["path"], f"{r['numel']:.0e}", seconds(r["seconds"]),
             ratio(r["over_mul"]), _mib(r["peak_bytes"])]
            for r in sections["gpu_surrogates"]["rows"]
        ]  # fmt: skip
        headers = ["surrogate", "path", "numel", "fwd+bwd", "/ torch.mul", "peak"]
        parts.append(sections["gpu_surrogates"]["title"] + "\n" + table(headers, rows))
    if "gpu_lif" in sections:
        rows = [
            [str(r["steps"]), r["dtype"], r["candidate"], seconds(r["seconds"]),
             f"{r['neuron_steps_per_s']:.3g}", ratio(r["over_sj_triton"]), _mib(r["peak_bytes"])]
            for r in sections["gpu_lif"]["rows"]
        ]  # fmt: skip
        headers = ["T", "dtype", "candidate", "fwd+bwd", "neuron-steps/s", "ours / SJ triton"]
        parts.append(sections["gpu_lif"]["title"] + "\n" + table([*headers, "peak"], rows))
    if "gpu_workload" in sections:
        rows = [
            [str(r["n"]), r["candidate"], seconds(r["seconds"]), ratio(r["over_matmuls"]),
             ratio(r["over_ours"]), _mib(r["peak_bytes"])]
            for r in sections["gpu_workload"]["rows"]
        ]  # fmt: skip
        headers = ["n", "candidate", "fwd+bwd", "/ matmuls", "/ ours", "peak"]
        parts.append(sections["gpu_workload"]["title"] + "\n" + table(headers, rows))
    notes = [f"note ({name}): {note}" for name, s in sections.items() for note in s["notes"]]
    if notes:
        parts.append("\n".join(notes))
    target_rows = [
        [t["target"], "-" if t["value"] is None else f"{t['value']:.3g}", f"{t['goal']:g}",
         {True: "met", False: "MISSED", None: "not measured"}[t["met"]]]
        for t in results["targets"]
    ]  # fmt: skip
    parts.append("Targets\n" + table(["target", "measured", "goal", ""], target_rows))
    return "\n\n".join(parts)
