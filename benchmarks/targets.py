"""The performance targets of issues 6, 7 and 16, checked against a run's results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .common import Results, rows_of


@dataclass(frozen=True)
class Target:
    issue: int
    description: str
    limit: float
    at_most: bool  # True: measured <= limit passes; False: measured >= limit passes
    unit: str
    measure: Callable[[Results], float | None]


def _op(results: Results, path: str, numel: int | None, surrogate: str = "atan") -> dict | None:
    for row in rows_of(results, "surrogates"):
        if (row["surrogate"], row["path"], row["numel"]) == (surrogate, path, numel):
            return row
    return None


def _op_value(path: str, key: str, other: str | None = None, size: str = "large"):
    def measure(results: Results) -> float | None:
        sizes = [row["numel"] for row in rows_of(results, "surrogates")]
        numel = (max(sizes) if size == "large" else min(sizes)) if sizes else None
        row = _op(results, path, numel)
        if row is None:
            return None
        value = row[key] if other is None else row[key].get(other)
        return None if value is None else float(value)

    return measure


def _path_over_peer(path: str, library: str) -> Callable[[Results], float | None]:
    """Time of ``path`` over the peer's, atan at the largest size, from the peers' group."""

    def measure(results: Results) -> float | None:
        rows = [
            r
            for r in rows_of(results, "peers")
            if (r["surrogate"], r["library"]) == ("atan", library)
        ]
        if not rows:
            return None
        peer_over_path = max(rows, key=lambda r: r["numel"])["vs"].get(path)
        return None if not peer_over_path else 1.0 / peer_over_path

    return measure


def _registry(name: str, scale: float = 1.0) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        for row in rows_of(results, "registry"):
            if row["name"].startswith(name):
                return float(row["value"]) * scale
        return None

    return measure


def _lif(candidate: str, other: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        for row in rows_of(results, "lif"):
            if row["candidate"] == candidate:
                value = row["speedup_over"].get(other)
                return None if value is None else float(value)
        return None

    return measure


def _lif_memory(candidate: str, other: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        peaks = {row["candidate"]: row.get("peak_bytes") for row in rows_of(results, "lif")}
        mine, theirs = peaks.get(candidate), peaks.get(other)
        return None if not mine or not theirs else mine / theirs

    return measure


CELL = "LIFCell loop [custom_op]"
SNNTORCH_LEAKY = "snntorch.Leaky loop"
SJ_LIF = "spikingjelly.LIFNode(step_mode='m')"


def targets(results: Results) -> Iterator[Target]:
    """Every target, including one per built-in surrogate for the fused LIF."""
    yield Target(
        6,
        "custom_op atan fwd+bwd (largest size) / torch.mul",
        3.5,
        True,
        "x",
        _op_value("custom_op", "x_mul"),
    )
    yield Target(
        6,
        "custom_op atan fwd+bwd (largest size) / SpikingJelly ATan",
        0.4,
        True,
        "x",
        _path_over_peer("custom_op", "spikingjelly"),
    )
    yield Target(
        6,
        "legacy_autograd atan fwd+bwd (largest size) / snnTorch atan",
        0.5,
        True,
        "x",
        _path_over_peer("legacy_autograd", "snntorch"),
    )
    yield Target(
        6,
        "custom_op / legacy_autograd atan fwd+bwd at the smallest size",
        1.15,
        True,
        "x",
        _op_value("custom_op", "vs", "legacy_autograd", size="small"),
    )
    yield Target(
        6,
        "dispatcher / explicit call form, fwd at 1e3",
        1.05,
        True,
        "x",
        _registry("dispatcher / explicit, fwd"),
    )
    yield Target(
        6, "cached get_surrogate", 2.0, True, "us", _registry("cached get_surrogate('atan')", 1e6)
    )
    yield Target(
        6,
        "import sc_neurocore after import torch",
        30.0,
        True,
        "ms",
        _registry("import sc_neurocore", 1e3),
    )
    yield Target(
        6,
        "first registry use (discovery of the built-ins)",
        50.0,
        True,
        "ms",
        _registry("first registry use", 1e3),
    )
    yield Target(
        6,
        "LIFCell loop [custom_op] / snnTorch Leaky, neuron-steps/s",
        1.3,
        False,
        "x",
        _lif(CELL, SNNTORCH_LEAKY),
    )
    fused = [row["candidate"] for row in rows_of(results, "lif") if row.get("kind") == "fused"]
    for candidate in fused:
        yield Target(
            7,
            f"{candidate} / SpikingJelly LIFNode, neuron-steps/s",
            3.0,
            False,
            "x",
            _lif(candidate, SJ_LIF),
        )
        yield Target(
            7,
            f"{candidate} / LIFCell loop [custom_op], neuron-steps/s",
            6.0,
            False,
            "x",
            _lif(candidate, CELL),
        )
    if fused:
        yield Target(
            7,
            "fused LIF [atan] peak memory / LIFCell loop [custom_op]",
            0.5,
            True,
            "x",
            _lif_memory("fused LIF [atan]", CELL),
        )
    from .targets_speed import speed_targets  # it builds on this module's Target

    yield from speed_targets(results)
    from .cli import cli_targets

    yield from cli_targets(results)
    from .amp_memory import amp_targets

    yield from amp_targets(results)


def evaluate(results: Results) -> list[dict[str, Any]]:
    """Each target with its measured figure and pass (``None``: not measured this run)."""
    checked = []
    for target in targets(results):
        measured = target.measure(results)
        passed = None
        if measured is not None:
            passed = measured <= target.limit if target.at_most else measured >= target.limit
        checked.append(
            {
                "issue": target.issue,
                "target": target.description,
                "limit": ("<= " if target.at_most else ">= ") + f"{target.limit:g} {target.unit}",
                "measured": measured,
                "unit": target.unit,
                "passed": passed,
            }
        )
    plugins = results.get("sections", {}).get("registry", {}).get("plugins_imported_at_import")
    if plugins is not None:
        checked.append(
            {
                "issue": 6,
                "target": "import sc_neurocore imports no plugin module",
                "limit": "none",
                "measured": len(plugins),
                "unit": "modules",
                "passed": not plugins,
            }
        )
    return checked
