"""Compile every Triton kernel the package generates for a real GPU target, without a GPU.

:func:`compile_report` binds every :class:`~.launch_cases.LaunchCase` through the real launch
code (:mod:`.capture`), keeps one case per distinct binding (Triton's own cache key and the
kernel's source hash), compiles each distinct kernel once for the target and reads what
``ptxas`` reports: registers per thread, spilled bytes, shared memory; the occupancy follows
(:meth:`~.targets.Target.occupancy`).  Compiling runs in worker processes (one per core): a
process whose Triton runs the CPU interpreter (``TRITON_INTERPRET=1``, as the test suite's)
cannot compile, and the workers start with it off.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any

from ...core.settings import KERNEL_SWITCH
from .capture import Launch
from .launch_cases import LaunchCase
from .targets import Target, parse_target

__all__ = [
    "COLUMNS",
    "KernelRow",
    "bind_case",
    "compile_case",
    "compile_report",
    "compiled_figures",
    "device_target",
    "distinct_cases",
    "launch_problems",
    "launch_ttir",
    "launches",
    "registers_against_report",
    "table_row",
    "worker_pool",
]

_REGISTERS = re.compile(r"Used (\d+) registers")
_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")


@dataclass
class KernelRow:
    """One distinct compiled kernel; ``cases`` launches share its binary."""

    op: str
    kernel: str
    surrogate: str
    variant: str
    dtype: str
    status: str  # "compiled" or "error"
    message: str = ""
    registers: int = 0
    spills: int = 0
    shared: int = 0
    num_warps: int = 0
    occupancy: float = 0.0
    cases: int = 1

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


#: The report's columns as a table (``table_row`` gives one row's cells).
COLUMNS = ("OP", "KERNEL", "SURROGATE", "DTYPE", "VARIANT", "STATUS", "REGS", "SPILLS", "SHARED",
           "WARPS", "OCCUPANCY")  # fmt: skip


def table_row(row: KernelRow) -> list[object]:
    last = (row.message.strip().splitlines() or [""])[-1]
    status = row.status if row.status == "compiled" else f"error: {last}"
    figures = [row.registers, row.spills, row.shared, row.num_warps, f"{row.occupancy:.0%}"]
    return [row.op, row.kernel, row.surrogate or "-", row.dtype, row.variant, status, *figures]


def _setup_worker(cache_dir: str) -> None:
    """Compiled Triton in this process (the parent may run the interpreter), a private cache."""
    os.environ["TRITON_INTERPRET"] = "0"
    os.environ["TRITON_CACHE_DIR"] = cache_dir
    KERNEL_SWITCH.read_environment()  # a forked worker holds the parent's reading


def bind_case(case: LaunchCase, target_name: str) -> list[str]:
    """The identities of the launches ``case`` makes (equal identity: the same binary)."""
    return [launch.identity for launch in launches(case, target_name)]


def _ptxas_figures(log: str) -> tuple[int, int]:
    registers = _REGISTERS.findall(log)
    spills = _SPILLS.findall(log)
    return (
        max((int(r) for r in registers), default=0),
        max((int(s) + int(lo) for s, lo in spills), default=0),
    )


def _amdgcn_figures(assembly: str) -> tuple[int, int]:
    def total(name: str) -> int:
        return sum(int(value) for value in re.findall(rf"\.{name}:\s+(\d+)", assembly))

    return total("vgpr_count"), total("vgpr_spill_count") + total("sgpr_spill_count")


def compiled_figures(launch: Launch, target: Target) -> tuple[Any, int, int]:
    """Compile ``launch`` for ``target``: ``(CompiledKernel, registers, spilled bytes)``."""
    from triton import knobs

    knobs.nvidia.dump_ptxas_log = True  # ptxas -v's report, printed by Triton
    knobs.compilation.always_compile = True  # a cache hit would print no report
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        compiled = launch.compile(target)
    if target.backend == "cuda":
        return (compiled, *_ptxas_figures(log.getvalue()))
    # hip: the code object's own metadata, in the AMDGCN assembly
    return (compiled, *_amdgcn_figures(compiled.asm["amdgcn"]))


def compile_case(case: LaunchCase, target_name: str) -> KernelRow:
    """Compile the kernel ``case`` launches for the target; its row (status error on failure)."""
    target = parse_target(target_name)
    row = KernelRow(case.op, case.kernel, case.surrogate, case.variant, case.dtype, "compiled")
    try:
        (launch,) = launches(case, target_name)
        compiled, row.registers, row.spills = compiled_figures(launch, target)
    except Exception as error:  # a compile error is this row's result, not the report's end
        row.status, row.message = "error", f"{type(error).__name__}: {error}".strip()
        return row
    metadata = compiled.metadata
    row.num_warps, row.shared = int(metadata.num_warps), int(metadata.shared)
    row.occupancy = round(target.occupancy(row.registers, row.num_warps, row.shared), 4)
    return row


def distinct_cases(
    cases: Sequence[LaunchCase], target_name: str, pool: ProcessPoolExecutor
) -> list[tuple[LaunchCase, list[LaunchCase]]]:
    """``(representative, every case with its binding)``, one entry per distinct kernel."""
    groups: dict[str, tuple[LaunchCase, list[LaunchCase]]] = {}
    chunk = max(1, len(cases) // (4 * (os.cpu_count() or 1)))
    names = [target_name] * len(cases)
    for case, identities in zip(cases, pool.map(bind_case, cases, names, chunksize=chunk)):
        for identity in identities:
            groups.setdefault(identity, (case, []))[1].append(case)
    return list(groups.values())


def _merged(row: KernelRow, members: list[LaunchCase]) -> KernelRow:
    """The row of a kernel several cases share: a field they disagree on reads ``*``."""
    row.cases = len(members)
    for name in ("surrogate", "dtype"):
        if len({getattr(case, name) for case in members}) > 1:
            setattr(row, name, "*")
    variants = [case.variant.split() for case in members]
    if any(words != variants[0] for words in variants):
        shared = [word for word in variants[0] if all(word in words for words in variants)]
        row.variant = " ".join(shared) + " (+ variants sharing this binary)"
    return row


def launches(case: LaunchCase, target_name: str) -> list[Launch]:
    """The launches ``case`` makes, bound for the target (run in a worker of ``worker_pool``)."""
    from .capture import capturing
    from .launch_cases import run_case

    with capturing(parse_target(target_name)) as found:
        run_case(case)
    return found


def launch_problems(case: LaunchCase, target_name: str) -> list[str]:
    """What the launches of ``case`` do wrong: a written buffer passed twice, options left to
    Triton's defaults (run in a worker of ``worker_pool``)."""
    from .launch import FP_FUSION

    problems = []
    for launch in launches(case, target_name):
        problems.extend(launch.aliased_writes())
        if launch.keywords.get("enable_fp_fusion") is not FP_FUSION:
            problems.append(f"{launch.name}: enable_fp_fusion not set to {FP_FUSION}")
        if "num_warps" not in launch.keywords:
            problems.append(f"{launch.name}: num_warps left to Triton's default")
    return problems


def launch_ttir(case: LaunchCase, target_name: str) -> list[str]:
    """The Triton IR of each launch of ``case`` (run in a worker of ``worker_pool``)."""
    target = parse_target(target_name)
    return [launch.ttir(target) for launch in launches(case, target_name)]


@contextlib.contextmanager
def worker_pool(workers: int | None = None) -> Iterator[ProcessPoolExecutor]:
    """Processes that run compiled (not interpreted) Triton, with a private kernel cache."""
    workers = max(1, workers or os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="sc-neurocore-triton-") as cache_dir:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, context, _setup_worker, (cache_dir,)) as pool:
            yield pool


def compile_report(
    target_name: str,
    cases: Sequence[LaunchCase],
    workers: int | None = None,
) -> list[KernelRow]:
    """Compile every distinct kernel of ``cases`` once for ``target_name`` (``"cuda:90"``)."""
    parse_target(target_name)  # a clear error before starting any process
    with worker_pool(min(workers or os.cpu_count() or 1, len(cases) or 1)) as pool:
        groups = distinct_cases(cases, target_name, pool)
        # the slowest first (the backward kernels), so no core idles at the end
        groups.sort(key=lambda group: group[0].kernel != "backward")
        representatives = [case for case, _ in groups]
        names = [target_name] * len(representatives)
        rows = list(pool.map(compile_case, representatives, names))
    merged = [_merged(row, members) for row, (_, members) in zip(rows, groups)]
    order = [field.name for field in fields(KernelRow)][:5]
    return sorted(merged, key=lambda row: [str(getattr(row, name)) for name in order])


def device_target() -> str:
    """The compile target of the current CUDA device (``"cuda:90"`` on an H100)."""
    import torch

    major, minor = torch.cuda.get_device_capability()
    return f"cuda:{major}{minor}"


def registers_against_report(functions: Sequence[Any]) -> list[dict[str, object]]:
    """For every binary Triton compiled for ``functions`` (JIT kernels that ran on this GPU),
    its registers and spills as the driver loaded them next to the ahead-of-time compile of
    the same binding for this GPU's target: the report holds only if they agree."""
    target = parse_target(device_target())
    rows: list[dict[str, object]] = []
    for function in functions:
        for caches in function.device_caches.values():
            for kernel in list(caches[0].values()):
                kernel._init_handles()  # loads the binary: n_regs, n_spills
                source = kernel.src
                launch = Launch(function, dict(source.signature), dict(source.constants),
                                dict(source.attrs), kernel.metadata._asdict(), "")  # fmt: skip
                _, registers, spills = compiled_figures(launch, target)
                rows.append({
                    "kernel": launch.name, "target": target.name,
                    "registers": int(kernel.n_regs), "spills": int(kernel.n_spills),
                    "report_registers": registers, "report_spills": spills,
                    "agree": (int(kernel.n_regs), int(kernel.n_spills)) == (registers, spills),
                })  # fmt: skip
    return rows
