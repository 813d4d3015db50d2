"""What a sweep's JSON lines say: merged rows, a table, the paper's qualitative checks and a
heatmap (accuracy over shape x steepness: best over seeds, and mean +- spread).

Rows are only ever aggregated within one configuration (:func:`by_configuration`); given
rows of several, :func:`cells` refuses, naming the fields they differ in."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sweep_file import SweepLines, read_sweep
from .sweep_key import configuration_of, differing_fields, run_key

__all__ = [
    "Check",
    "Cell",
    "by_configuration",
    "cells",
    "checks",
    "heatmap",
    "merge",
    "merged",
    "table",
]

#: Shapes that Zenke & Vogels (2021) found to learn equally well at their best scale.
SIMILAR_SHAPES = (("superspike", "fast_sigmoid"), ("sigmoid",), ("triangular",))
CONTROL_NAMES = ("true_gradient", "constant")


def merged(files: Iterable[str | Path]) -> SweepLines:
    """The rows of every file, one per run key (a later row replaces an earlier one), and
    the lines skipped as corrupt."""
    lines = read_sweep(*files)
    rows = {run_key(row): row for row in lines.rows}
    return SweepLines(list(rows.values()), lines.skipped)


def merge(files: Iterable[str | Path]) -> list[dict[str, Any]]:
    """The rows of every file, one per run key (see :func:`merged`)."""
    return merged(files).rows


def by_configuration(
    rows: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``(configuration, its rows)`` in the order configurations first appear."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for row in rows:
        configuration = configuration_of(row)
        name = json.dumps(configuration, sort_keys=True, default=str)
        groups.setdefault(name, (configuration, []))[1].append(row)
    return list(groups.values())


def _one_configuration(rows: list[dict[str, Any]]) -> None:
    groups = by_configuration(rows)
    if len(groups) > 1:
        differing = differing_fields(configuration for configuration, _ in groups)
        raise ValueError(
            f"these rows mix {len(groups)} configurations, differing in "
            f"{', '.join(differing)}: aggregate each alone (by_configuration)"
        )


@dataclass(frozen=True)
class Cell:
    """The seeds of one (surrogate, steepness, path): their test accuracies."""

    surrogate: str
    scale: float | None
    path: str
    accuracies: tuple[float, ...]

    @property
    def best(self) -> float:
        return max(self.accuracies)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def spread(self) -> float:
        return statistics.pstdev(self.accuracies) if len(self.accuracies) > 1 else 0.0


def cells(rows: list[dict[str, Any]]) -> list[Cell]:
    """The rows' cells; rows of more than one configuration raise ``ValueError``."""
    _one_configuration(rows)
    grouped: dict[tuple[str, float | None, str], list[float]] = defaultdict(list)
    for row in rows:
        scale = row.get("scale")
        key = (row["surrogate"], None if scale is None else round(scale, 6), row["path"])
        grouped[key].append(float(row["test_accuracy"]))
    ordered = sorted(grouped.items(), key=lambda item: (item[0][2], item[0][0], item[0][1] or 0))
    return [Cell(name, scale, path, tuple(values)) for (name, scale, path), values in ordered]


def table(rows: list[dict[str, Any]]) -> str:
    """One line per cell: accuracy best / mean +- spread over seeds, and the 1-NN baseline."""
    lines = [f"{'surrogate':<20} {'steepness':>9} {'path':<16} {'seeds':>5}  best    mean +- sd"]
    for cell in cells(rows):
        scale = "-" if cell.scale is None else f"{cell.scale:g}"
        lines.append(
            f"{cell.surrogate:<20} {scale:>9} {cell.path:<16} {len(cell.accuracies):>5}  "
            f"{100 * cell.best:5.1f}  {100 * cell.mean:5.1f} +- {100 * cell.spread:4.1f}"
        )
    baselines = sorted({round(float(row["baseline_1nn"]), 4) for row in rows})
    if baselines:
        lines.append(f"1-NN on raw spike times: {', '.join(f'{100 * b:.1f} %' for b in baselines)}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Check:
    claim: str
    passed: bool | None  # None: the sweep lacks the runs to decide
    detail: str


def _best_by_shape(all_cells: list[Cell]) -> dict[str, Cell]:
    best: dict[str, Cell] = {}
    for cell in all_cells:
        if cell.scale is not None and (
            cell.surrogate not in best or cell.mean > best[cell.surrogate].mean
        ):
            best[cell.surrogate] = cell
    return best


def checks(rows: list[dict[str, Any]], path: str | None = None) -> list[Check]:
    """Zenke & Vogels' qualitative results, each with its numbers (means over seeds)."""
    chosen = [row for row in rows if path is None or row["path"] == path]
    all_cells = cells(chosen)
    chance = statistics.fmean(float(row["chance"]) for row in chosen) if chosen else math.nan
    results = []
    zero = [cell for cell in all_cells if cell.surrogate == "true_gradient"]
    if zero:
        gap = max(abs(cell.mean - chance) for cell in zero)
        detail = f"true gradient {100 * zero[0].mean:.1f} %, chance {100 * chance:.1f} %"
        results.append(Check("true gradient within 5 points of chance", gap <= 0.05, detail))
    else:
        results.append(Check("true gradient within 5 points of chance", None, "no control runs"))
    best = _best_by_shape(all_cells)
    groups = [
        next((best[name] for name in group if name in best), None) for group in SIMILAR_SHAPES
    ]
    if all(groups):
        values = {cell.surrogate: cell.mean for cell in groups if cell is not None}
        spread = max(values.values()) - min(values.values())
        detail = ", ".join(f"{name} {100 * value:.1f} %" for name, value in values.items())
        results.append(
            Check(
                "SuperSpike-like, sigmoid, triangular within 3 points at best scale",
                spread <= 0.03,
                detail,
            )
        )
    else:
        results.append(
            Check("SuperSpike-like, sigmoid, triangular within 3 points", None, "shapes missing")
        )
    worse = []
    for name, top in best.items():
        scaled = [cell for cell in all_cells if cell.surrogate == name and cell.scale is not None]
        smallest = min(scaled, key=lambda cell: cell.scale or 0.0)
        worse.append((name, smallest.mean, top.mean))
    if worse:
        passed = all(low <= top - 0.05 for _, low, top in worse)
        detail = "; ".join(f"{n} {100 * low:.1f} vs {100 * top:.1f} %" for n, low, top in worse)
        results.append(
            Check("smallest steepness >= 5 points below the best (every shape)", passed, detail)
        )
    return results


def heatmap(rows: list[dict[str, Any]], out: str | Path, title: str = "") -> Path:
    """Two panels, shape x steepness: best over seeds, and mean (annotated mean +- sd)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    all_cells = [cell for cell in cells(rows) if cell.scale is not None]
    shapes = sorted({cell.surrogate for cell in all_cells})
    scales = sorted({cell.scale for cell in all_cells if cell.scale is not None})
    if not shapes:
        raise ValueError("heatmap: the sweep has no runs with a steepness")
    best, mean = (np.full((len(shapes), len(scales)), np.nan) for _ in range(2))
    spread = np.zeros_like(mean)
    for cell in all_cells:
        assert cell.scale is not None
        i, j = shapes.index(cell.surrogate), scales.index(cell.scale)
        best[i, j], mean[i, j], spread[i, j] = cell.best, cell.mean, cell.spread
    figure, axes = plt.subplots(1, 2, figsize=(4 + 1.4 * len(scales), 1.2 + 0.5 * len(shapes)))
    for axis, values, name in ((axes[0], best, "best over seeds"), (axes[1], mean, "mean +- sd")):
        image = axis.imshow(100 * values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        axis.set_xticks(range(len(scales)), [f"{s:g}" for s in scales])
        axis.set_yticks(range(len(shapes)), shapes if axis is axes[0] else [])
        axis.set_xlabel("common steepness (SuperSpike beta)")
        axis.set_title(name)
        for i in range(len(shapes)):
            for j in range(len(scales)):
                if math.isnan(values[i, j]):
                    continue
                text = f"{100 * values[i, j]:.0f}"
                if values is mean:
                    text += f"\n+-{100 * spread[i, j]:.0f}"
                shade = "black" if values[i, j] > 0.6 else "white"
                axis.text(j, i, text, ha="center", va="center", fontsize=7, color=shade)
    figure.colorbar(image, ax=axes, label="test accuracy (%)")
    controls = [cell for cell in cells(rows) if cell.surrogate in CONTROL_NAMES]
    caption = "  ".join(f"{c.surrogate}: {100 * c.mean:.1f} %" for c in controls)
    figure.suptitle(" | ".join(part for part in (title, caption) if part), fontsize=9)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return out
