"""Bar chart of a benchmark run: ``python benchmarks/plot.py [results.json] [out.png]``.

Left: surrogate fwd+bwd at the largest size as a multiple of one ``torch.mul`` (lower
is faster), for every path and peer.  Right: LIF layer fwd+bwd throughput.  Needs
matplotlib (``pip install 'sc-neurocore[plot]'``).
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


def plot(results: dict[str, Any], output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    largest, names, series = surrogate_bars(results)
    lif = results["sections"].get("lif", {}).get("rows", [])
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=(1.3, 1))
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
