"""The performance targets of issues 16 (CPU speed at the memory limit) and 27 (the same on
AVX2 CPUs: exp-based surrogates), from a run's results."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .common import OURS, Results, rows_of
from .targets import Target

#: Workload sizes where the neurons dominate (speed-up over the fastest peer is checked)
#: and from which on the matrix products dominate (time over the matrix products alone).
NEURON_BOUND = (128, 256)
MATMUL_BOUND_FROM = 512
PEER_KINDS = ("snntorch", "spikingjelly", "norse")


def _surrogate_x_mul(surrogate: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        rows = [
            r
            for r in rows_of(results, "surrogates")
            if (r["surrogate"], r["path"]) == (surrogate, "custom_op")
        ]
        return float(max(rows, key=lambda r: r["numel"])["x_mul"]) if rows else None

    return measure


def _lif_fraction(kernel: str) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        for row in rows_of(results, "bandwidth"):
            if row["kernel"] == kernel:
                return float(row["fraction_of_limit"])
        return None

    return measure


def _at(results: Results, n: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    rows = [row for row in rows_of(results, "workload") if row["n"] == n]
    ours = next((row for row in rows if row["candidate"] == OURS), None)
    return ours, [row for row in rows if row.get("kind") in PEER_KINDS]


def _over_fastest_peer(n: int) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        ours, peers = _at(results, n)
        speedups = [row["over_ours"] for row in peers if row.get("over_ours")]
        return None if ours is None or not speedups else float(min(speedups))

    return measure


def _over_matmuls(n: int) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        ours, _ = _at(results, n)
        return None if ours is None else float(ours["over_matmuls"])

    return measure


def _memory_over_peers(n: int) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        ours, peers = _at(results, n)
        theirs = [row["peak_bytes"] for row in peers if row.get("peak_bytes")]
        if ours is None or not ours.get("peak_bytes") or not theirs:
            return None
        return float(ours["peak_bytes"]) / min(theirs)

    return measure


def _network_over_matmuls(results: Results) -> float | None:
    ratios = [row["over_matmuls"] for row in rows_of(results, "network") if row.get("fused")]
    return float(min(ratios)) if ratios else None


def speed_targets(results: Results) -> Iterator[Target]:
    """Issue 16's targets; one per surrogate, fused kernel and workload size in the run."""
    surrogates = dict.fromkeys(r["surrogate"] for r in rows_of(results, "surrogates"))
    for surrogate in surrogates:
        yield Target(
            16,
            f"custom_op {surrogate} fwd+bwd at the largest size / one torch.mul",
            2.0,
            True,
            "x",
            _surrogate_x_mul(surrogate),
        )
    for row in rows_of(results, "bandwidth"):
        if row["kernel"].startswith("fused LIF"):
            yield Target(
                16,
                f"{row['kernel']} / memory-traffic limit (same-run copy bandwidth)",
                0.7,
                False,
                "x",
                _lif_fraction(row["kernel"]),
            )
    sizes = sorted({row["n"] for row in rows_of(results, "workload")})
    for n in sizes:
        if n in NEURON_BOUND:
            yield Target(
                16,
                f"workload n={n}: speed-up of {OURS} over the fastest peer",
                10.0,
                False,
                "x",
                _over_fastest_peer(n),
            )
        if n >= MATMUL_BOUND_FROM:
            yield Target(
                16,
                f"workload n={n}: {OURS} time / matmuls alone",
                1.1,
                True,
                "x",
                _over_matmuls(n),
            )
        yield Target(
            16,
            f"workload n={n}: {OURS} peak memory / smallest peer's",
            1.0,
            True,
            "x",
            _memory_over_peers(n),
        )
    if rows_of(results, "network"):
        yield Target(
            16,
            "SpikingNet step (fused hidden layer, best) / its matmuls alone",
            1.15,
            True,
            "x",
            _network_over_matmuls,
        )
    yield from cpu_targets(results)


def _ratio(
    numerator: Callable[[Results], float | None], denominator: Callable[[Results], float | None]
) -> Callable[[Results], float | None]:
    def measure(results: Results) -> float | None:
        top, bottom = numerator(results), denominator(results)
        return None if top is None or not bottom else top / bottom

    return measure


def cpu_targets(results: Results) -> Iterator[Target]:
    """Issue 27's targets (for an AVX2 run: the record's ``cpu`` says which ISA ran): the
    exp-based sigmoid against the rational atan, each over the same round's torch.mul, and
    every built-in's fwd+bwd over torch.mul; the fused LIF with sigmoid against with atan."""
    surrogates = {r["surrogate"] for r in rows_of(results, "surrogates")}
    if {"sigmoid", "atan"} <= surrogates:
        yield Target(
            27,
            "custom_op sigmoid fwd+bwd / custom_op atan fwd+bwd (largest size, x_mul over x_mul)",
            1.3,
            True,
            "x",
            _ratio(_surrogate_x_mul("sigmoid"), _surrogate_x_mul("atan")),
        )
    for surrogate in sorted(surrogates):
        yield Target(
            27,
            f"custom_op {surrogate} fwd+bwd at the largest size / one torch.mul (AVX2 bound)",
            2.5,
            True,
            "x",
            _surrogate_x_mul(surrogate),
        )
    kernels = {row["kernel"] for row in rows_of(results, "bandwidth")}
    sigmoid, atan = "fused LIF [sigmoid] fwd+bwd", "fused LIF [atan] fwd+bwd"
    if {sigmoid, atan} <= kernels:
        yield Target(
            27,
            "fused LIF [sigmoid] / fused LIF [atan], fractions of the memory-traffic limit",
            0.9,
            False,
            "x",
            _ratio(_lif_fraction(sigmoid), _lif_fraction(atan)),
        )
