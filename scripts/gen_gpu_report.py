"""Write the sm_90 compile report into docs/gpu.md.

The table comes from compiling the kernels ahead of time (``sc-neurocore kernels --compile
cuda:90``, no GPU needed): the report of every distinct kernel the package generates (the
element-wise surrogates and every registered neuron's forward and backward, the fused layers'
``lif``, ``li`` and ``cuba_lif`` among them), with a roofline estimate of the fused LIF.  The
text between the ``<!-- compile-report -->`` markers is replaced; nothing is typed.

    python scripts/gen_gpu_report.py            # rewrites docs/gpu.md (a few minutes)
    python scripts/gen_gpu_report.py -o -       # prints the generated part instead
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sc_neurocore  # noqa: E402
from sc_neurocore.kernels.triton.compile_report import (  # noqa: E402
    COLUMNS,
    KernelRow,
    compile_report,
    table_row,
)
from sc_neurocore.kernels.triton.launch_cases import launch_cases  # noqa: E402

TARGET = "cuda:90"
START, END = "<!-- compile-report:start -->", "<!-- compile-report:end -->"
#: SpikingJelly's tutorial workload and an H100's memory bandwidth, for the roofline estimate.
STEPS, NEURONS, BANDWIDTH = 32, 64 * 65_536, 3.35e12


def bytes_per_step(element: int, states: int = 1) -> int:
    """Bytes one neuron-step of a generated neuron moves, forward and backward, for inputs
    of ``element`` bytes: the forward reads x and writes the output; the backward reads x
    three times (its checkpoint pass, the segment's recompute, the reverse walk) and the
    output's gradient, writes dL/dx, and writes and reads back each state once."""
    return 2 * element + 5 * element + 2 * element * states


def _markdown(headers: tuple[str, ...] | list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def roofline() -> str:
    moved = bytes_per_step(4) * STEPS * NEURONS
    seconds = moved / BANDWIDTH
    return (
        f"**Estimate, not a measurement** (no GPU has run these kernels yet): SpikingJelly's "
        f"tutorial workload (T = {STEPS}, N = 64 x 65,536; its float16 input is handed to the "
        f"kernels as float32) moves {bytes_per_step(4)} bytes per neuron-step through the fused "
        f"LIF's generated kernels forward and backward, {moved / 1e9:.2f} GB in all; at an "
        f"H100's {BANDWIDTH / 1e12:.2f} TB/s that is {seconds * 1e3:.2f} ms for a forward and "
        f"backward ({STEPS * NEURONS / seconds:.3g} neuron-steps/s), the floor a measured time "
        "is held against."
    )


def generated(rows: list[KernelRow]) -> str:
    report = _markdown(COLUMNS, [table_row(row) for row in rows])
    counts = f"{len(rows)} distinct kernels, {sum(row.cases for row in rows)} launch cases"
    return "\n\n".join([
        START,
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
    text = generated(compile_report(TARGET, cases))
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
