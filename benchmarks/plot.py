"""Bar chart of a benchmark run: ``python -m benchmarks.plot [results.json] [out.png]``.

Top left: surrogate fwd+bwd at the largest size as a multiple of one ``torch.mul`` (lower
is faster), for every path and peer.  Top right: LIF layer fwd+bwd throughput.  Bottom: the
open-neuromorphic workload, each candidate's time over the matrix products alone per n.
Needs matplotlib (``pip install matplotlib``, the ``plot`` extra).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = ROOT / "benchmarks" / "results.json"
DEFAULT_OUTPUT = ROOT / "docs" / "img" / "benchmarks.png"


def surrogate_bars(results: dict[str, Any]) -> tuple[int, list[str], dict[str, list[float]]]:
    """The largest size, the surrogates, and per candidate (path or peer) its x torch.mul."""
    sections = results["sections"]
    rows = sections.get("surrogates", {}).get("rows", []) + sections.get("peers", {}).get(
        "rows", []
    )
    if not rows:
        return 0, [], {}
    largest = max(row["numel"] for row in rows)
    names = list(dict.fromkeys(row["surrogate"] for row in rows))
    series: dict[str, list[float]] = {}
    for row in rows:
        if row["numel"] != largest:
            continue
        label = row.get("path") or row["library"]
        values = series.setdefault(label, [float("nan")] * len(names))
        values[names.index(row["surrogate"])] = row["x_mul"]
    return largest, names, series


def workload_bars(results: dict[str, Any]) -> tuple[list[int], dict[str, list[float]]]:
    """The workload's sizes and, per candidate, its time over the matmuls alone at each."""
    rows = results["sections"].get("workload", {}).get("rows", [])
    sizes = sorted({row["n"] for row in rows})
    series: dict[str, list[float]] = {}
    for row in rows:
        if row.get("kind") == "baseline":
            continue
        values = series.setdefault(row["candidate"], [float("nan")] * len(sizes))
        values[sizes.index(row["n"])] = row["over_matmuls"]
    return sizes, series


def _plot_workload(axis: Any, results: dict[str, Any]) -> None:
    import matplotlib.ticker

    sizes, series = workload_bars(results)
    width = 0.8 / max(len(series), 1)
    for index, (label, values) in enumerate(series.items()):
        positions = [i + (index - (len(series) - 1) / 2) * width for i in range(len(sizes))]
        axis.bar(positions, values, width, label=label)
    axis.axhline(1.0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(sizes)), [f"n = {n}" for n in sizes])
    axis.set_yscale("log")
    axis.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axis.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.set_yticks([1, 1.5, 2, 3, 5, 10, 20, 50])
    axis.set_ylabel("fwd+bwd time / matmuls alone (log; lower is faster)")
    section = results["sections"].get("workload", {})
    axis.set_title(
        f"Open-neuromorphic workload: Linear(n, n) + LIF, T={section.get('steps')}, "
        f"batch {section.get('batch')}"
    )
    if series:
        axis.legend(fontsize=8)
    axis.grid(axis="y", alpha=0.3)


def plot(results: dict[str, Any], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    largest, names, series = surrogate_bars(results)
    lif = results["sections"].get("lif", {}).get("rows", [])
    figure = plt.figure(figsize=(13, 9.6))
    grid = figure.add_gridspec(2, 2, width_ratios=(1.3, 1))
    left, right = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[0, 1])
    _plot_workload(figure.add_subplot(grid[1, :]), results)
    width = 0.8 / max(len(series), 1)
    for index, (label, values) in enumerate(series.items()):
        positions = [i + (index - (len(series) - 1) / 2) * width for i in range(len(names))]
        left.bar(positions, values, width, label=label)
    left.set_xticks(range(len(names)), names, rotation=20)
    left.set_yscale("log")
    left.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    left.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_yticks([1, 2, 3, 5, 10, 20, 50])
    left.set_ylabel("fwd+bwd time / torch.mul time (log; lower is faster)")
    left.set_title(f"Surrogate spike, {largest:.0e} fp32 elements")
    left.legend(fontsize=8)
    left.grid(axis="y", alpha=0.3)
    labels = [row["candidate"] for row in lif]
    right.barh(labels, [row["neuron_steps_per_s"] / 1e6 for row in lif], color="tab:green")
    right.invert_yaxis()
    right.set_xlabel("M neuron-steps/s (higher is faster)")
    shape = "x".join(map(str, results["sections"].get("lif", {}).get("shape", [])))
    right.set_title(f"LIF layer fwd+bwd, (T, batch, N) = {shape}")
    right.tick_params(axis="y", labelsize=8)
    right.grid(axis="x", alpha=0.3)
    meta = results["meta"]
    figure.suptitle(
        f"sc-neurocore {meta['sc_neurocore']}, torch {meta['torch']}, "
        f"{meta['cpu_count']} CPUs ({meta['date'][:10]})",
        fontsize=10,
    )
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_INPUT
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUTPUT
    plot(json.loads(source.read_text(encoding="utf-8")), target)
    print(f"wrote {target}")
