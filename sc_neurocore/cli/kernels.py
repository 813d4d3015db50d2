"""``sc-neurocore kernels``: which kernel serves each operator on each device kind, and why.

One row per (operator, surrogate, device kind): ``triton``, ``native`` (compiled C) or
``torch``, with the reason wherever the fast kernel does not run (no formula, no
compiler, no GPU, a forced family).  ``--json`` prints the rows as a list of objects
with ``op``, ``surrogate``, ``device``, ``kernel``, ``reason`` and ``dtypes`` (the input
dtypes the fused kernels take as they are: bf16/fp16 are computed in float32, not cast).
"""

from __future__ import annotations

import argparse

from .listing import emit, format_table, loading

__all__ = ["execute", "kernel_report", "kernels_command", "plan"]


def kernel_report(device: str | None = None) -> list[dict[str, str]]:
    """The kernel listing for every registered surrogate (optionally one device kind)."""
    from .. import paths  # noqa: F401  (the operators register their report providers)
    from ..core.registry import get_spec, list_surrogates
    from ..kernels import fused_choice  # noqa: F401
    from ..kernels.report import collect
    from ..paths import custom_op  # noqa: F401

    specs = [get_spec(name) for name in list_surrogates()]
    rows = [row.as_dict() for row in collect(specs)]
    return [row for row in rows if device is None or row["device"] == device]


def kernels_command(args: argparse.Namespace) -> int:
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
    return args


execute = kernels_command
