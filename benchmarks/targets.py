"""The performance targets: one table, each row named by what it measures, checked against a
run's results.

A row reads one figure from the results (``measure(results, item)``), once or for each item
its ``each`` finds there (every surrogate, fused candidate or workload size measured), and
judges the runs of one device kind: the CPU's or a CUDA GPU's.  A figure that was not
measured in a run leaves its row "not measured" (``passed`` is ``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .amp_memory import WORKS
from .cli import LISTINGS
from .common import DTYPES, MATMULS, OURS, Results, rows_of
from .neurons import CELL, SJ_TRITON, SNNTORCH, SPIKINGJELLY
from .ops import PAIR_PATH

Item = dict[str, Any]
Measure = Callable[[Results, Item], float | None]
#: Candidate kinds of the peers (the workload's targets compare ours with these).
PEER_KINDS = ("snntorch", "spikingjelly", "norse")
#: Workload sizes where the neurons dominate (speed-up over the fastest peer is checked)
#: and from which on the matrix products dominate (time over the matrix products alone).
NEURON_BOUND = (128, 256)
MATMUL_BOUND_FROM = 512
BUILTINS = ("fast_sigmoid", "superspike", "atan", "sigmoid", "straight_through", "triangular")


def once(results: Results) -> list[Item]:
    return [{}]


@dataclass(frozen=True)
class Target:
    """One row of the table: ``description`` is formatted with each item's fields."""

    measures: str
    description: str
    limit: float
    at_most: bool  # True: measured <= limit passes; False: measured >= limit passes
    unit: str
    measure: Measure
    each: Callable[[Results], Iterable[Item]] = once
    device: str = "cpu"


# --- what a figure is read from ------------------------------------------------------------


def _surrogate_row(results: Results, path: str, smallest: bool, surrogate: str = "atan"):
    sizes = [row["numel"] for row in rows_of(results, "surrogates")]
    numel = (min(sizes) if smallest else max(sizes)) if sizes else None
    for row in rows_of(results, "surrogates"):
        if (row["surrogate"], row["path"], row["numel"]) == (surrogate, path, numel):
            return row
    return None


def _x_mul(path: str) -> Measure:
    """``path``'s time over torch.mul at the largest size (the item's surrogate, or atan)."""

    def measure(results: Results, item: Item) -> float | None:
        row = _surrogate_row(results, path, False, item.get("surrogate", "atan"))
        return None if row is None else float(row["x_mul"])

    return measure


def _over_rational(results: Results, item: Item) -> float | None:
    """An exp-based surrogate's time over the rational one's in a group of the two."""
    row = _surrogate_row(results, PAIR_PATH, False, item["surrogate"])
    value = None if row is None else row.get("vs_rational", {}).get(item["rational"])
    return None if value is None else float(value)


def _custom_op_over_legacy(results: Results, item: Item) -> float | None:
    row = _surrogate_row(results, "custom_op", True)
    value = None if row is None else row["vs"].get("legacy_autograd")
    return None if value is None else float(value)


def _path_over_peer(path: str, library: str) -> Measure:
    """Time of ``path`` over the peer's, atan at the largest size, from the peers' group."""

    def measure(results: Results, item: Item) -> float | None:
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


def _registry(name: str, scale: float = 1.0) -> Measure:
    def measure(results: Results, item: Item) -> float | None:
        for row in rows_of(results, "registry"):
            if row["name"].startswith(name):
                return float(row["value"]) * scale
        return None

    return measure


def _plugins_at_import(results: Results, item: Item) -> float | None:
    plugins = results.get("sections", {}).get("registry", {}).get("plugins_imported_at_import")
    return None if plugins is None else float(len(plugins))


def _lif_speedup(other: str) -> Measure:
    def measure(results: Results, item: Item) -> float | None:
        for row in rows_of(results, "lif"):
            if row["candidate"] == item.get("candidate", CELL):
                value = row["speedup_over"].get(other)
                return None if value is None else float(value)
        return None

    return measure


def _lif_memory(results: Results, item: Item) -> float | None:
    peaks = {row["candidate"]: row.get("peak_bytes") for row in rows_of(results, "lif")}
    mine, theirs = peaks.get(OURS), peaks.get(CELL)
    return None if not mine or not theirs else mine / theirs


def _fraction_of_limit(results: Results, item: Item) -> float | None:
    for row in rows_of(results, "bandwidth"):
        if row["kernel"] == item["kernel"]:
            return float(row["fraction_of_limit"])
    return None


def _workload_at(results: Results, n: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    rows = [row for row in rows_of(results, "workload") if row["n"] == n]
    ours = next((row for row in rows if row["candidate"] == OURS), None)
    return ours, [row for row in rows if row.get("kind") in PEER_KINDS]


def _over_fastest_peer(results: Results, item: Item) -> float | None:
    ours, peers = _workload_at(results, item["n"])
    speedups = [row["over_ours"] for row in peers if row.get("over_ours")]
    return None if ours is None or not speedups else float(min(speedups))


def _over_matmuls(results: Results, item: Item) -> float | None:
    ours, _ = _workload_at(results, item["n"])
    return None if ours is None else float(ours["over_matmuls"])


def _memory_over_peers(results: Results, item: Item) -> float | None:
    ours, peers = _workload_at(results, item["n"])
    theirs = [row["peak_bytes"] for row in peers if row.get("peak_bytes")]
    if ours is None or not ours.get("peak_bytes") or not theirs:
        return None
    return float(ours["peak_bytes"]) / min(theirs)


def _network_over_matmuls(results: Results, item: Item) -> float | None:
    ratios = [row["over_matmuls"] for row in rows_of(results, "network") if row.get("fused")]
    return float(min(ratios)) if ratios else None


def _ratio(top: Measure, bottom: Measure, items: tuple[Item, Item]) -> Measure:
    def measure(results: Results, item: Item) -> float | None:
        numerator, denominator = top(results, items[0]), bottom(results, items[1])
        return None if numerator is None or not denominator else numerator / denominator

    return measure


def _slowest(kind: str) -> Measure:
    def measure(results: Results, item: Item) -> float | None:
        chosen = [row["value"] for row in rows_of(results, "cli") if row.get("kind") == kind]
        return max(chosen) if chosen else None

    return measure


def _amp_peak(results: Results, work: str, candidate: str, dtype: str, key: str) -> Any:
    for row in rows_of(results, "amp"):
        if (row["work"], row["candidate"], row["dtype"]) == (work, candidate, dtype):
            return row.get(key)
    return None


def _bf16_over_fp32(results: Results, item: Item) -> float | None:
    bf16 = _amp_peak(results, item["work"], OURS, "bfloat16", item["key"])
    fp32 = _amp_peak(results, item["work"], OURS, "float32", item["key"])
    return None if not bf16 or not fp32 else bf16 / fp32


def _amp_over_peers(results: Results, item: Item) -> float | None:
    work, dtype, key = item["work"], item["dtype"], item["key"]
    rows = [r for r in rows_of(results, "amp") if (r["work"], r["dtype"]) == (work, dtype)]
    peers = [p for p in (r.get(key) for r in rows if r["candidate"] != OURS) if p]
    ours = _amp_peak(results, work, OURS, dtype, key)
    return None if not peers or not ours else ours / min(peers)


def _saved_beyond_input(results: Results, item: Item) -> float | None:
    for row in results.get("sections", {}).get("amp", {}).get("saved", []):
        compiled = row["operator"] == "sc_neurocore_neuron::lif (compiled C)"
        if compiled and row["dtype"] == item["dtype"]:
            return float(row["beyond_input_per_neuron_step"])
    return None


def _gpu_lif_over_sj_triton(results: Results, item: Item) -> float | None:
    rows = [r for r in rows_of(results, "lif") if r["candidate"] == OURS]
    if not rows:
        return None
    steps = [r["steps"] for r in rows]
    wanted = max(steps) if item["T"] == "largest" else min(steps)
    found = [r for r in rows if r["steps"] == wanted and r["dtype"] == item["dtype"]]
    return found[0]["speedup_over"].get(SJ_TRITON) if found else None


def _gpu_workload_over_matmuls(results: Results, item: Item) -> float | None:
    values = [r["over_matmuls"] for r in rows_of(results, "workload") if r["candidate"] == OURS]
    return max(values) if values else None  # the worst size


def _gpu_fastest_peer(results: Results, item: Item) -> float | None:
    """The fastest peer's time over ours, at the size where it comes closest."""
    rows = rows_of(results, "workload")
    values = [
        r["over_ours"]
        for r in rows
        if r["candidate"] not in (OURS, MATMULS) and r["over_ours"] is not None
    ]
    return min(values) if values else None


def _gpu_worst_builtin(results: Results, item: Item) -> float | None:
    rows = rows_of(results, "surrogates")
    if not rows:
        return None
    largest = max(r["numel"] for r in rows)
    values = [
        r["x_mul"]
        for r in rows
        if r["numel"] == largest and r["surrogate"] in BUILTINS and r["path"] == "custom_op"
    ]
    return max(values) if values else None


# --- what a row is checked for ---------------------------------------------------------------


def _surrogates(results: Results) -> list[Item]:
    names = dict.fromkeys(r["surrogate"] for r in rows_of(results, "surrogates"))
    return [{"surrogate": name} for name in names]


def _exp_pairs(results: Results) -> list[Item]:
    """Each surrogate the run timed against a rational one in a group of the two."""
    rows = (row for row in rows_of(results, "surrogates") if row["path"] == PAIR_PATH)
    return [
        {"surrogate": row["surrogate"], "rational": rational}
        for row in rows
        for rational in row.get("vs_rational", {})
    ]


def _fused(results: Results) -> list[Item]:
    rows = rows_of(results, "lif")
    return [{"candidate": r["candidate"]} for r in rows if r.get("kind") == "fused"]


def _if(found: Callable[[Results], object]) -> Callable[[Results], list[Item]]:
    return lambda results: [{}] if found(results) else []


def _fused_kernels(results: Results) -> list[Item]:
    rows = rows_of(results, "bandwidth")
    return [{"kernel": r["kernel"]} for r in rows if r["kernel"].startswith("fused LIF")]


def _sizes(keep: Callable[[int], bool]) -> Callable[[Results], list[Item]]:
    def each(results: Results) -> list[Item]:
        sizes = sorted({row["n"] for row in rows_of(results, "workload")})
        return [{"n": n} for n in sizes if keep(n)]

    return each


def _has_surrogates(*names: str) -> Callable[[Results], bool]:
    return lambda results: set(names) <= {r["surrogate"] for r in rows_of(results, "surrogates")}


def _has_kernels(*names: str) -> Callable[[Results], bool]:
    return lambda results: set(names) <= {r["kernel"] for r in rows_of(results, "bandwidth")}


def _constant(*items: Item) -> Callable[[Results], list[Item]]:
    return lambda results: list(items)


SIGMOID, ATAN = "fused LIF [sigmoid] fwd+bwd", "fused LIF [atan] fwd+bwd"
PEAKS = ({"key": "peak_bytes", "peak": "resident"}, {"key": "tensor_peak_bytes", "peak": "tensor"})
AMP_RATIOS = [peak | {"work": work} for peak in PEAKS for work in WORKS]
AMP_PEERS = [peak | {"work": work, "dtype": d} for peak in PEAKS for work in WORKS for d in DTYPES]
SAVED_DTYPES = [{"dtype": dtype} for dtype in (*DTYPES, "float16")]
GPU_LIF: list[tuple[float, Item]] = [
    (limit, {"T": steps, "dtype": dtype, "precision": short})
    for steps, limit in (("largest", 1.5), ("smallest", 1.0))
    for dtype, short in (("float32", "fp32"), ("float16", "fp16"))
]


def _gpu_lif_rows() -> tuple[Target, ...]:
    return tuple(
        Target(
            "fused LIF speed (GPU)",
            "fused LIF / SJ triton, {T} T, {precision}",
            limit,
            False,
            "x",
            _gpu_lif_over_sj_triton,
            _constant(item),
            "cuda",
        )
        for limit, item in GPU_LIF
    )


#: Every target: (what it measures, description, limit, at most?, unit, figure, for each).
TARGETS: tuple[Target, ...] = (
    Target("surrogate speed", "custom_op atan fwd+bwd (largest size) / torch.mul", 3.5, True, "x", _x_mul("custom_op")),
    Target("surrogate speed", "custom_op / legacy_autograd atan fwd+bwd at the smallest size", 1.15, True, "x", _custom_op_over_legacy),
    Target("surrogate speed", "custom_op {surrogate} fwd+bwd at the largest size / one torch.mul", 2.0, True, "x", _x_mul("custom_op"), _surrogates),
    Target("surrogates against the peers", "custom_op atan fwd+bwd (largest size) / SpikingJelly ATan", 0.4, True, "x", _path_over_peer("custom_op", "spikingjelly")),
    Target("surrogates against the peers", "legacy_autograd atan fwd+bwd (largest size) / snnTorch atan", 0.5, True, "x", _path_over_peer("legacy_autograd", "snntorch")),
    Target("exp-based surrogates (AVX2)", "custom_op {surrogate} fwd+bwd / custom_op {rational} fwd+bwd, the two in one group (largest size)", 1.3, True, "x", _over_rational, _exp_pairs),
    Target("exp-based surrogates (AVX2)", "custom_op {surrogate} fwd+bwd at the largest size / one torch.mul (AVX2 bound)", 2.5, True, "x", _x_mul("custom_op"), lambda r: sorted(_surrogates(r), key=lambda i: i["surrogate"])),
    Target("exp-based surrogates (AVX2)", "fused LIF [sigmoid] / fused LIF [atan], fractions of the memory-traffic limit", 0.9, False, "x", _ratio(_fraction_of_limit, _fraction_of_limit, ({"kernel": SIGMOID}, {"kernel": ATAN})), _if(_has_kernels(SIGMOID, ATAN))),
    Target("registry cost", "dispatcher / explicit call form, fwd at 1e3", 1.05, True, "x", _registry("dispatcher / explicit, fwd")),
    Target("registry cost", "cached get_surrogate", 2.0, True, "us", _registry("cached get_surrogate('atan')", 1e6)),
    Target("import cost", "import sc_neurocore after import torch", 30.0, True, "ms", _registry("import sc_neurocore", 1e3)),
    Target("import cost", "first registry use (discovery of the built-ins)", 50.0, True, "ms", _registry("first registry use", 1e3)),
    Target("import cost", "import sc_neurocore imports no plugin module", 0.0, True, "modules", _plugins_at_import),
    Target("LIF layer speed", f"{CELL} / snnTorch Leaky, neuron-steps/s", 1.3, False, "x", _lif_speedup(SNNTORCH)),
    Target("LIF layer speed", "{candidate} / SpikingJelly LIFNode, neuron-steps/s", 3.0, False, "x", _lif_speedup(SPIKINGJELLY), _fused),
    Target("LIF layer speed", f"{{candidate}} / {CELL}, neuron-steps/s", 6.0, False, "x", _lif_speedup(CELL), _fused),
    Target("LIF layer memory", f"{OURS} peak memory / {CELL}", 0.5, True, "x", _lif_memory, _if(_fused)),
    Target("memory-traffic limit", "{kernel} / memory-traffic limit (same-run copy bandwidth)", 0.7, False, "x", _fraction_of_limit, _fused_kernels),
    Target("workload speed", f"workload n={{n}}: speed-up of {OURS} over the fastest peer", 10.0, False, "x", _over_fastest_peer, _sizes(lambda n: n in NEURON_BOUND)),
    Target("workload speed", f"workload n={{n}}: {OURS} time / matmuls alone", 1.1, True, "x", _over_matmuls, _sizes(lambda n: n >= MATMUL_BOUND_FROM)),
    Target("workload memory", f"workload n={{n}}: {OURS} peak memory / smallest peer's", 1.0, True, "x", _memory_over_peers, _sizes(lambda n: True)),
    Target("network speed", "SpikingNet step (fused hidden layer, best) / its matmuls alone", 1.15, True, "x", _network_over_matmuls, _if(lambda r: rows_of(r, "network"))),
    Target("command line", "slowest of sc-neurocore --help and every subcommand's --help, wall", 0.3, True, "s", _slowest("help")),
    Target("command line", f"slowest listing ({', '.join(LISTINGS)}), wall", 1.5, True, "s", _slowest("listing")),
    Target("mixed-precision memory", "amp {work}: bf16 {peak} peak / fp32 {peak} peak (ours)", 0.6, True, "x", _bf16_over_fp32, _constant(*AMP_RATIOS)),
    Target("mixed-precision memory", "amp {work} {dtype}: our {peak} peak / smallest peer's", 1.0, True, "x", _amp_over_peers, _constant(*AMP_PEERS)),
    Target("mixed-precision memory", "fused LIF saved bytes per neuron-step beyond its input, {dtype}", 1.0, True, "B", _saved_beyond_input, _constant(*SAVED_DTYPES)),
    *_gpu_lif_rows(),
    Target("workload speed (GPU)", "workload: ours over matmuls alone (worst n)", 1.15, True, "x", _gpu_workload_over_matmuls, device="cuda"),
    Target("workload speed (GPU)", "workload: fastest peer's time over ours", 1.0, False, "x", _gpu_fastest_peer, device="cuda"),
    Target("surrogate speed (GPU)", "surrogate fwd+bwd over torch.mul, largest size, worst built-in", 2.0, True, "x", _gpu_worst_builtin, device="cuda"),
)  # fmt: skip


def device_kind(results: Results) -> str:
    """``cuda`` for a run on a CUDA device, else ``cpu`` (records without one: the CPU)."""
    device = str(results.get("meta", {}).get("device", "cpu"))
    return "cuda" if device.split(":")[0] == "cuda" else "cpu"


def evaluate(results: Results) -> list[dict[str, Any]]:
    """Each target of the run's device with its measured figure and pass (``None``: not
    measured this run)."""
    checked = []
    kind = device_kind(results)
    for target in TARGETS:
        if target.device != kind:
            continue
        for item in target.each(results):
            measured = target.measure(results, item)
            passed = None
            if measured is not None:
                passed = measured <= target.limit if target.at_most else measured >= target.limit
            checked.append(
                {
                    "measures": target.measures,
                    "target": target.description.format(**item),
                    "limit": ("<= " if target.at_most else ">= ")
                    + f"{target.limit:g} {target.unit}",
                    "measured": measured,
                    "unit": target.unit,
                    "passed": passed,
                }
            )
    return checked
