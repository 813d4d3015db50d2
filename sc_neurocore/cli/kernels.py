"""``sc-neurocore kernels``: which kernel serves each operator on each device kind, and why.

One row per (operator, surrogate, device kind), computed by the kernel selector that the
operators' calls ask: ``triton``, ``native`` (compiled C), ``torch`` or ``error`` (a forced
family that cannot run), with the reason wherever the fast kernel does not run (no formula, no
compiler, no GPU, a forced family).  ``--json`` prints the rows as a list of objects
with ``op``, ``surrogate``, ``device``, ``kernel``, ``reason`` and ``dtypes`` (the input
dtypes the fused kernels take as they are: bf16/fp16 are computed in float32, not cast).

``--compile TARGET`` (``cuda:90``, ``cuda:80``, ``hip:gfx942``) instead compiles every Triton
kernel the package generates for that GPU, without one, and lists each distinct kernel with
its status, registers, spills, shared memory and occupancy (exit status 1 if any failed or
spilled).  The kernels generated for every registered neuron are the ops ``neuron:<name>``;
``--op <name>`` (or ``--op neuron:<name>``) compiles only that neuron's.
"""

from __future__ import annotations

import argparse

from .listing import emit, format_table, loading

__all__ = ["execute", "kernel_report", "kernels_command", "plan"]


def kernel_report(device: str | None = None) -> list[dict[str, str]]:
    """The kernel listing for every registered surrogate (optionally one device kind): the
    kernel selector's decision for each of its operator kinds, as the operators' calls get it."""
    from ..core.registry import get_spec, list_surrogates
    from ..kernels import choice, neuron_choice  # noqa: F401  (define the kinds)
    from ..kernels.selector import DEVICE_KINDS, SELECTOR

    specs = [get_spec(name) for name in list_surrogates()]
    devices = DEVICE_KINDS if device is None else (device,)
    return [row.as_dict() for row in SELECTOR.listing(specs, devices)]


def compile_command(args: argparse.Namespace) -> int:
    """``kernels --compile TARGET``: the ahead-of-time compile report (triton imported here)."""
    from . import UsageError

    try:
        import triton  # noqa: F401
    except ImportError as error:
        raise UsageError(
            f"--compile needs triton ({error}); pip install 'sc-neurocore[triton]'"
        ) from None
    from ..core.registry import get_neuron_spec, get_spec, list_neurons, list_surrogates
    from ..kernels.triton.compile_report import COLUMNS, compile_report, table_row
    from ..kernels.triton.launch_cases import NEURON_OP, launch_cases

    specs = loading(lambda: [get_spec(name) for name in list_surrogates()])
    neurons = [get_neuron_spec(name) for name in list_neurons()]
    cases = [
        case
        for case in launch_cases(specs, full=args.full, neuron_specs=neurons)
        if args.op in (None, case.op, case.op.removeprefix(NEURON_OP))
        and args.dtype in (None, case.dtype)
    ]
    if not cases:
        known = sorted({case.op for case in launch_cases(specs, neuron_specs=neurons)})
        raise UsageError(f"--op {args.op!r} names no kernels; choose one of {', '.join(known)}")
    rows = compile_report(args.compile, cases, args.workers)
    table = format_table(COLUMNS, [table_row(row) for row in rows])
    emit(args, [row.as_dict() for row in rows], table)
    return int(any(row.status != "compiled" or row.spills for row in rows))


def kernels_command(args: argparse.Namespace) -> int:
    if args.compile is not None:
        return compile_command(args)
    rows = loading(lambda: kernel_report(args.device))
    table = format_table(
        ["OP", "SURROGATE", "DEVICE", "KERNEL", "WHY NOT FASTER", "INPUT DTYPES"],
        [
            [r["op"], r["surrogate"], r["device"], r["kernel"], r["reason"] or "-", r["dtypes"]]
            for r in rows
        ],
    )
    return emit(args, rows, table)


def plan(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments, with ``--compile``'s target checked (a typo is a one-line usage error)."""
    if args.compile is not None:
        from ..kernels.triton.targets import parse_target
        from . import UsageError
        from .values import at_least_one

        try:
            args.compile = parse_target(args.compile).name
        except ValueError as error:
            raise UsageError(f"--compile: {error}") from None
        at_least_one({"workers": args.workers})
    return args


execute = kernels_command
