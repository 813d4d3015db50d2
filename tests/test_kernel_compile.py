"""Every Triton kernel the package generates, compiled for real GPU targets without a GPU.

Triton's interpreter (how the other Triton tests run the kernels on the CPU) accepts code its
compiler rejects.  Here the launch code runs on CPU tensors while Triton binds the arguments
for a real target (:mod:`sc_neurocore.kernels.triton.capture`), and every distinct kernel is
compiled for sm_80, sm_90 and gfx942 (the NVIDIA backend's ptxas and the AMD backend ship in
the triton wheel): a compile error or a register spill fails.  The cases are those of every
registered surrogate, a plugin's included, so a new surrogate is compiled without new tests.
"""

from __future__ import annotations

import pytest

import sc_neurocore
from sc_neurocore.core.neuron_spec import RESET_MODES
from sc_neurocore.kernels.triton.compile_report import KernelRow, compile_report, table_row
from sc_neurocore.kernels.triton.launch_cases import (
    DTYPES,
    NEURON_DTYPES,
    NEURON_OP,
    NEURONS,
    PARAMETER_KINDS,
    launch_cases,
)
from sc_neurocore.kernels.triton.targets import TARGETS, parse_target

pytest.importorskip("triton", reason="triton is not installed (the dev extra has it)")

#: What CI compiles for: the two NVIDIA generations users train on, and AMD's MI300.
CI_TARGETS = ("cuda:80", "cuda:90", "hip:gfx942")


def _specs() -> list[sc_neurocore.SurrogateSpec]:
    return [sc_neurocore.get_spec(name) for name in sc_neurocore.list_surrogates()]


def _neurons() -> list[sc_neurocore.NeuronSpec]:
    """Every registered neuron (a plugin's included): its generated kernels are compiled."""
    return [sc_neurocore.get_neuron_spec(name) for name in sc_neurocore.list_neurons()]


@pytest.fixture(scope="module", params=CI_TARGETS)
def report(request: pytest.FixtureRequest) -> tuple[str, list[KernelRow]]:
    cases = launch_cases(_specs(), neuron_specs=_neurons())
    return request.param, compile_report(request.param, cases)


def test_every_kernel_compiles_without_spills(report: tuple[str, list[KernelRow]]) -> None:
    target, rows = report
    failed = [table_row(row) for row in rows if row.status != "compiled" or row.spills]
    assert not failed, f"{target}: {len(failed)} kernels failed or spilled:\n" + "\n".join(
        map(str, failed)
    )
    assert all(row.registers > 0 and row.num_warps > 0 for row in rows), target


def test_the_report_covers_every_surrogate_dtype_and_variant(
    report: tuple[str, list[KernelRow]],
) -> None:
    """The element-wise kernels in every dtype with every surrogate; the fused layers' kernels
    are the neurons' (the next test)."""
    _, rows = report
    with_formula = {s.name for s in _specs() if s.parsed_formula() is not None}
    backward = [row for row in rows if (row.op, row.kernel) == ("surrogate", "backward")]
    named = {name for row in backward for name in row.surrogate.split(",")}
    assert named >= with_formula or "*" in named, with_formula - named
    assert {row.dtype for row in rows if row.op == "surrogate"} >= set(DTYPES)
    elementwise = {(row.op, row.kernel) for row in rows if not row.op.startswith(NEURON_OP)}
    assert elementwise == {("surrogate", "spike"), ("surrogate", "backward")}


def test_the_report_covers_every_registered_neuron(report: tuple[str, list[KernelRow]]) -> None:
    """Each registered neuron's generated kernels (a plugin's included) in both dtypes; the
    LIF's (which the LIF layer runs) with every surrogate, reset and parameter kind."""
    _, rows = report
    for name in sc_neurocore.list_neurons():
        mine = [row for row in rows if row.op == NEURON_OP + name]
        assert {(row.kernel, row.dtype) for row in mine} >= {
            (kernel, dtype) for kernel in ("forward", "backward") for dtype in NEURON_DTYPES
        }, name
    lif = [row for row in rows if row.op == NEURON_OP + "lif"]
    with_formula = {s.name for s in _specs() if s.parsed_formula() is not None}
    assert {row.surrogate for row in lif if row.kernel == "backward"} >= with_formula
    variants = " ".join(row.variant for row in lif)
    assert all(f"reset={reset}" in variants for reset in RESET_MODES)
    assert all(f"parameters={kind}" in variants for kind in PARAMETER_KINDS)
    assert all(word in variants for word in ("learned", "broadcast", "n%16=2"))


def test_launches_that_bind_alike_compile_once() -> None:
    """The forward does not inline the surrogate: one compile serves every surrogate's case."""
    lif = sc_neurocore.get_neuron_spec("lif")
    forwards = [
        case
        for case in launch_cases(_specs(), neuron_specs=[lif])
        if (case.op, case.kernel, case.dtype) == (NEURON_OP + "lif", "forward", "float32")
        and (case.reset, case.parameters) == ("subtract", "per-neuron")
        and case.neurons == NEURONS[0]
    ]
    assert len({case.surrogate for case in forwards}) == len(forwards) > 1
    (row,) = compile_report("cuda:90", forwards)
    assert (row.status, row.cases, row.surrogate) == ("compiled", len(forwards), "*")


def test_targets_are_parsed_or_refused_by_name() -> None:
    assert parse_target("cuda:90") is TARGETS["cuda:90"]
    assert parse_target("CUDA:sm_80").arch == 80
    with pytest.raises(ValueError, match="unknown compile target 'cuda:75'.*cuda:90"):
        parse_target("cuda:75")


def test_occupancy_follows_registers_warps_and_shared_memory() -> None:
    sm90 = TARGETS["cuda:90"]
    assert sm90.occupancy(32, 4, 0) == 1.0  # 64 warps of 32 x 32 registers fill 64K
    assert sm90.occupancy(128, 4, 0) == 0.25  # 4096 registers a warp: 16 warps
    assert sm90.occupancy(255, 4, 0) == 0.125
    assert sm90.occupancy(32, 4, 100 * 1024) == 2 * 4 / 64  # two blocks' shared memory fit
    assert TARGETS["hip:gfx942"].occupancy(46, 4, 0) == 1.0  # 8 waves per SIMD
