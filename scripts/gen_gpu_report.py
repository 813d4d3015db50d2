"""Write the sm_90 compile report and the backward's chunk choice into docs/gpu.md.

Both tables come from compiling the kernels ahead of time (``sc-neurocore kernels --compile
cuda:90``, no GPU needed): the report of every distinct kernel the package generates, and
the fused LIF backward compiled with each candidate chunk per dtype (registers, spills,
occupancy on sm_90, bytes moved per neuron-step), with the chunk ``launch.CHUNKS`` chose.
The text between the ``<!-- compile-report -->`` markers is replaced; nothing is typed.

    python scripts/gen_gpu_report.py            # rewrites docs/gpu.md (a few minutes)
    python scripts/gen_gpu_report.py -o -       # prints the generated part instead
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import sc_neurocore  # noqa: E402
from sc_neurocore.kernels.triton.compile_report import (  # noqa: E402
    COLUMNS,
    KernelRow,
    compile_report,
    table_row,
)
from sc_neurocore.kernels.triton.launch import CHUNKS  # noqa: E402
from sc_neurocore.kernels.triton.launch_cases import DTYPES, launch_cases  # noqa: E402

TARGET = "cuda:90"
CANDIDATES = (4, 8, 16)
START, END = "<!-- compile-report:start -->", "<!-- compile-report:end -->"
#: SpikingJelly's tutorial workload and an H100's memory bandwidth, for the roofline estimate.
STEPS, NEURONS, BANDWIDTH = 32, 64 * 65_536, 3.35e12


def bytes_per_step(dtype: str, chunk: int) -> float:
    """Bytes one neuron-step moves, forward and backward: the forward reads x and writes
    the spike; the backward reads x twice and the spike's gradient, writes dL/dx, and writes
    and reads the state entering each chunk (in the compute dtype)."""
    element = getattr(torch, dtype).itemsize
    compute = 8 if dtype == "float64" else 4
    return 2 * element + 4 * element + 2 * compute / chunk


def _markdown(headers: tuple[str, ...] | list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def chunk_table(specs: list[sc_neurocore.SurrogateSpec]) -> str:
    """The largest fused backward of every surrogate, compiled with each candidate chunk."""
    # each surrogate's largest variant, with the broadcast output gradient (the most registers)
    largest = {
        (c.surrogate, c.dtype): dataclasses.replace(c, broadcast=True)
        for c in launch_cases(specs)
        if (c.op, c.kernel, c.reset, c.parameters) == ("lif", "backward", "subtract", "per-neuron")
        and c.learned
        and c.v0
    }
    table = []
    for chunk in CANDIDATES:
        cases = [dataclasses.replace(case, steps=chunk) for case in largest.values()]
        rows = compile_report(TARGET, cases, chunks={dtype: chunk for dtype in DTYPES})
        for dtype in DTYPES:
            mine = [row for row in rows if row.dtype in (dtype, "*")]
            chosen = "**chosen**" if CHUNKS[getattr(torch, dtype)] == chunk else ""
            table.append([
                dtype, chunk, max(row.registers for row in mine), max(row.spills for row in mine),
                f"{min(row.occupancy for row in mine):.0%}", f"{bytes_per_step(dtype, chunk):g}",
                chosen,
            ])  # fmt: skip
    table.sort(key=lambda row: (DTYPES.index(str(row[0])), row[1]))
    headers = ["dtype", "chunk", "registers (max)", "spilled bytes", "occupancy (min)",
               "bytes / neuron-step (fwd+bwd)", ""]  # fmt: skip
    return _markdown(headers, table)


def roofline() -> str:
    chunk = CHUNKS[torch.float16]
    moved = bytes_per_step("float16", chunk) * STEPS * NEURONS
    seconds = moved / BANDWIDTH
    return (
        f"**Estimate, not a measurement** (no GPU has run these kernels yet): SpikingJelly's "
        f"tutorial workload (T = {STEPS}, N = 64 x 65,536, float16) moves "
        f"{bytes_per_step('float16', chunk):g} bytes per neuron-step forward and backward "
        f"with the {chunk}-step chunk, {moved / 1e9:.2f} GB in all; at an H100's "
        f"{BANDWIDTH / 1e12:.2f} TB/s that is {seconds * 1e3:.2f} ms for a forward and backward "
        f"({STEPS * NEURONS / seconds:.3g} neuron-steps/s), the floor a measured time is held "
        "against."
    )


def generated(rows: list[KernelRow], chunks: str) -> str:
    report = _markdown(COLUMNS, [table_row(row) for row in rows])
    counts = f"{len(rows)} distinct kernels, {sum(row.cases for row in rows)} launch cases"
    return "\n\n".join([
        START,
        "### The backward's chunk, per dtype (sm_90)",
        chunks,
        roofline(),
        f"### Every kernel compiled for sm_90 ({counts})",
        report,
        END,
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "gpu.md"))
    args = parser.parse_args()
    specs = [sc_neurocore.get_spec(name) for name in sc_neurocore.list_surrogates()]
    neurons = [sc_neurocore.get_neuron_spec(name) for name in sc_neurocore.list_neurons()]
    cases = launch_cases(specs, neuron_specs=neurons)  # every registered neuron's kernels too
    text = generated(compile_report(TARGET, cases), chunk_table(specs))
    if args.output == "-":
        print(text)
        return 0
    page = Path(args.output).read_text()
    before, _, rest = page.partition(START)
    _, _, after = rest.partition(END)
    Path(args.output).write_text(before + text + after)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
