"""What ``sc-neurocore bench`` runs: its plan (the configuration, every name checked) and its
execution (measure, print or write the results)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from sc_neurocore.cli import UsageError
from sc_neurocore.cli.names import check_name

from .config import BenchConfig, is_cuda, sections_for
from .progress import Progress
from .report import render
from .runner import check_device, run_bench


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration of the run; unknown sections and a bad --threads are refused here."""
    if args.quick and args.no_compile:
        raise UsageError("--no-compile: --quick already skips torch.compile")
    device = args.device
    known = sections_for(device)
    for name in args.only or ():
        check_name("--only", "GPU section" if is_cuda(device) else "section", name, known)
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")
    config = BenchConfig.preset(device, args.quick, tuple(args.only or ()))
    if args.no_compile:
        config = dataclasses.replace(config, compile_network=False, compile_peers=False)
    return {
        "config": config,
        "json": args.json,
        "threads": threads,
        "progress": not getattr(args, "no_progress", False),
    }


def execute(plan: dict[str, Any]) -> int:
    try:  # before anything is opened or measured
        check_device(plan["config"].device)
    except RuntimeError as error:
        raise UsageError(str(error)) from None
    if plan["threads"] is not None:
        import torch

        torch.set_num_threads(plan["threads"])
    destination = plan["json"]
    handle = None
    if destination and destination != "-":
        try:  # fail before minutes of measuring, not after
            handle = open(destination, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise UsageError(f"--json: cannot write {destination!r}: {error}") from error
    try:
        results = run_bench(plan["config"], Progress(enabled=plan["progress"]))
        text = json.dumps(results, indent=1)
        if handle is not None:
            handle.write(text + "\n")
    finally:
        if handle is not None:
            handle.close()
    if destination == "-":
        sys.stdout.write(text + "\n")
    else:
        print(render(results))
    return 0
