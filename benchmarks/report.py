"""Plain-text and Markdown tables of a benchmark run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import Results
from .peers import PEERS


def seconds(value: float) -> str:
    """A duration with a unit that keeps three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        ]
        return "\n".join(lines)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip()
        for line in (headers, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _with_peaks(
    rows: list[dict[str, Any]], headers: list[str], cells: list[list[str]]
) -> tuple[list[str], list[list[str]]]:
    """A "peak MiB" column where the rows carry a peak (a GPU run: every row does)."""
    if not any(row.get("peak_bytes") is not None for row in rows):
        return headers, cells
    peaks = [_mib(row.get("peak_bytes")) for row in rows]
    return [*headers, "peak MiB"], [[*line, peak] for line, peak in zip(cells, peaks)]


def _surrogate_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["surrogate", "path", "elements", "fwd+bwd", "x torch.mul", "vs others (time ratio)"]
    rows = [
        [
            row["surrogate"],
            row["path"],
            f"{row['numel']:.0e}",
            seconds(row["seconds"]),
            ratio(row["x_mul"]),
            ", ".join(
                [f"{key} {value:.2f}" for key, value in row["vs"].items()]
                + [f"{key} {value:.2f} (own group)" for key, value in _pairs(row)]
            ),
        ]
        for row in section["rows"]
    ]
    return _with_peaks(section["rows"], headers, rows)


def _pairs(row: dict[str, Any]) -> list[tuple[str, float]]:
    """A row's time over a rational surrogate's, the two alone in a group (exp-based ones)."""
    return list(row.get("vs_rational", {}).items())


def _peer_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "surrogate",
        "peer function",
        "same formula",
        "elements",
        "fwd+bwd",
        "x torch.mul",
        "our paths' time / peer's",
    ]
    rows = [
        [
            row["surrogate"],
            row["function"],
            "yes" if row["same_formula"] else row["note"],
            f"{row['numel']:.0e}",
            seconds(row["seconds"]),
            ratio(row["x_mul"]),
            ", ".join(
                f"{path} {1 / value:.2f}"
                for path, value in row["vs"].items()
                if value and path not in PEERS
            ),
        ]
        for row in section["rows"]
    ]
    return headers, rows


def _lif_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["candidate", "fwd+bwd", "M neuron-steps/s", "peak MiB", "saved MiB"]
    # a sweep (a GPU run: several T and dtypes) names each row's case
    swept = len({(row.get("steps"), row.get("dtype")) for row in section["rows"]}) > 1
    rows = [
        [
            (f"T={row['steps']} {row['dtype']} " if swept else "") + row["candidate"],
            seconds(row["seconds"]),
            f"{row['neuron_steps_per_s'] / 1e6:.1f}",
            _mib(row.get("peak_bytes")),
            _mib(row.get("saved_bytes")),
        ]
        for row in section["rows"]
    ]
    return headers, rows


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def _network_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["candidate", "step", "samples/s", "speed-up over eager", "x matmuls"]
    headers.append("first two calls")
    rows = [
        [
            row["candidate"],
            seconds(row["seconds"]),
            f"{row['samples_per_s']:.0f}",
            ratio(row["speedup_over_eager"]),
            ratio(row.get("over_matmuls")),
            seconds(row["first_two_calls_s"]),
        ]
        for row in section["rows"]
    ]
    if "matmuls_seconds" in section:
        rows.append(["matmuls alone", seconds(section["matmuls_seconds"]), "-", "-", "1.00x", "-"])
    return headers, rows


def _bandwidth_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["kernel", "elements", "time", "bytes/element", "GB/s", "fraction of limit"]
    rows = [
        [
            f"copy ({copy['group']})",
            f"{copy['numel']:.3g}",
            seconds(copy["seconds"]),
            "8",
            f"{copy['bytes_per_s'] / 1e9:.1f}",
            "1.00",
        ]
        for copy in section.get("copies", [])
    ]
    rows += [
        [
            row["kernel"],
            f"{row['numel']:.3g}",
            seconds(row["seconds"]),
            str(row["bytes_per_element"]),
            f"{row['bytes_per_s'] / 1e9:.1f}",
            f"{row['fraction_of_limit']:.2f}",
        ]
        for row in section["rows"]
    ]
    return headers, rows


def _workload_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    headers = ["n", "candidate", "fwd+bwd", "x matmuls alone", "ours faster by", "peak MiB"]
    rows = [
        [
            str(row["n"]),
            row["candidate"],
            seconds(row["seconds"]),
            ratio(row["over_matmuls"]),
            ratio(row.get("over_ours")),
            _mib(row.get("peak_bytes")),
        ]
        for row in section["rows"]
    ]
    return headers, rows


def _dynamics_notes(section: dict[str, Any]) -> list[str]:
    notes = []
    for label, found in section.get("dynamics", {}).items():
        if found.get("reference"):
            continue
        if "error" in found:
            notes.append(f"spike check, {label}: failed ({found['error']})")
        else:
            same = "identical" if found["identical_spikes"] else "differ"
            notes.append(
                f"spike check, {label}: {same} "
                f"({found['differing_fraction']:.2%} of spikes differ from ours)"
            )
    return notes


def _registry_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    rows = [
        [row["name"], seconds(row["value"]) if row["unit"] == "s" else ratio(row["value"])]
        for row in section["rows"]
    ]
    return ["measure", "median"], rows


def _amp_rows(section: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Peak MiB per candidate (resident / torch tensors): the layer and the net step, fp32
    and bf16 autocast."""
    columns = [(work, dtype) for work in ("layer", "net") for dtype in ("float32", "bfloat16")]
    peaks: dict[str, dict[tuple[str, str], str]] = {}
    for row in section["rows"]:
        shown = f"{_mib(row['peak_bytes'])} / {_mib(row.get('tensor_peak_bytes'))}"
        peaks.setdefault(row["candidate"], {})[(row["work"], row["dtype"])] = shown
    headers = ["candidate", *(f"{work} {dtype} MiB" for work, dtype in columns)]
    rows = [[c, *(found.get(column, "-") for column in columns)] for c, found in peaks.items()]
    return headers, rows


FORMATTERS = {
    "surrogates": _surrogate_rows,
    "peers": _peer_rows,
    "lif": _lif_rows,
    "network": _network_rows,
    "bandwidth": _bandwidth_rows,
    "workload": _workload_rows,
    "registry": _registry_rows,
    "cli": _registry_rows,
    "amp": _amp_rows,
}


def target_rows(results: Results) -> tuple[list[str], list[list[str]]]:
    rows = []
    for target in results.get("targets", []):
        measured = target["measured"]
        shown = "-" if measured is None else f"{measured:.3g} {target['unit']}"
        verdict = {True: "pass", False: "FAIL", None: "not measured"}[target["passed"]]
        # records written before the table named its rows carry the issue number instead
        measures = target.get("measures") or f"#{target['issue']}"
        rows.append([measures, target["target"], target["limit"], shown, verdict])
    return ["measures", "target", "limit", "measured", "result"], rows


def _cpu_line(cpu: dict | None) -> str:
    """The CPU and the compiled kernels' targets (arithmetic-bound / memory-bound)."""
    if not cpu:
        return ""
    arithmetic, memory = cpu["arithmetic_bound"], cpu["memory_bound"]
    return (
        f"; {cpu['cpu_model']} ({', '.join(cpu['vector_extensions']) or cpu['machine']}); "
        f"kernels: {arithmetic['isa']} with {arithmetic['exp']} exp / {memory['isa']}"
    )


def render(results: Results, markdown: bool = False) -> str:
    """Every section's table, its notes, then the targets."""
    parts = []
    meta = results["meta"]
    device = meta.get("device", "cpu")
    on = "" if device == "cpu" else f", on {meta['device_name']} (CUDA {meta['cuda']})"
    parts.append(
        f"sc-neurocore {meta['sc_neurocore']}, torch {meta['torch']}, {meta['cpu_count']} CPUs, "
        f"{meta['torch_threads']} torch threads"
        + _cpu_line(meta.get("cpu"))
        + on
        + (" -- QUICK RUN, not representative" if meta["quick"] else "")
    )
    for name, section in results["sections"].items():
        headers, rows = FORMATTERS[name](section)
        parts.append(("### " if markdown else "== ") + section["title"])
        if rows:
            parts.append(table(headers, rows, markdown))
        notes = [*_dynamics_notes(section), *section.get("notes", [])]
        parts.extend(f"note: {note}" for note in notes)
    headers, rows = target_rows(results)
    parts.append(("### " if markdown else "== ") + "Targets")
    parts.append(table(headers, rows, markdown))
    return "\n\n".join(parts)
