"""Compile the fused LIF's Triton kernels for an H100 (sm_90) on a machine without a GPU.

The launch code runs on CPU tensors while Triton binds the arguments for the real target;
each distinct kernel is compiled once (ptxas ships in the triton wheel) and reported with its
registers, spills and occupancy: what `sc-neurocore kernels --compile cuda:90` does for every
kernel.  A surrogate written as a formula gets the same check.
"""

import sc_neurocore
from sc_neurocore.kernels.triton.compile_report import compile_report
from sc_neurocore.kernels.triton.launch_cases import launch_cases


def main() -> None:
    spec = sc_neurocore.get_spec("atan")
    lif = sc_neurocore.get_neuron_spec("lif")  # the spec whose generated kernels LIF runs
    # float32 and float64 (half inputs run the float32 kernels), learned per-neuron
    # parameters, forward and backward
    cases = [
        case
        for case in launch_cases([spec], neuron_specs=[lif])
        if case.op == "neuron:lif" and (case.reset, case.parameters) == ("subtract", "per-neuron")
        and not case.broadcast and case.neurons == 48
        and (case.kernel == "forward" or case.learned)
    ]  # fmt: skip
    rows = compile_report("cuda:90", cases, workers=2)
    for row in rows:
        print(f"{row.kernel:8} {row.dtype:8} {row.status}: {row.registers} registers, "
              f"{row.spills} bytes spilled, occupancy {row.occupancy:.0%}")  # fmt: skip
    compiled = sum(row.status == "compiled" and row.spills == 0 for row in rows)
    print(f"{compiled} of {len(rows)} kernels compiled for sm_90 without spills")


if __name__ == "__main__":
    main()
