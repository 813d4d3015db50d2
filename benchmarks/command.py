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

from .config import SECTIONS, BenchConfig
from .gpu import GPU_SECTIONS, GpuConfig, check_device, run_gpu_bench
from .gpu_targets import render_gpu
from .progress import Progress
from .report import render
from .runner import run_bench


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration of the run; unknown sections and a bad --threads are refused here."""
    if args.quick and args.no_compile:
        raise UsageError("--no-compile: --quick already skips torch.compile")
    if args.device == "cuda":
        sections = tuple(args.only) if args.only else GPU_SECTIONS
        _check_sections(sections, GPU_SECTIONS, "GPU section")
        gpu = (
            GpuConfig.quick_preset("cuda", sections) if args.quick else GpuConfig(sections=sections)
        )
        if args.no_compile:
            gpu = dataclasses.replace(gpu, compile_peers=False)
        return {"device": "cuda", "config": gpu, "json": args.json}
    sections = tuple(args.only) if args.only else SECTIONS
    _check_sections(sections, SECTIONS, "section")
    config = BenchConfig.quick_preset(sections) if args.quick else BenchConfig.full(sections)
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")
    if args.no_compile:
        config = dataclasses.replace(config, compile_network=False, compile_peers=False)
    return {
        "device": "cpu",
        "config": config,
        "json": args.json,
        "threads": args.threads,
        "progress": not args.no_progress,
    }


def _check_sections(sections: tuple[str, ...], known: tuple[str, ...], kind: str) -> None:
    for name in sections:
        check_name("--only", kind, name, known)


def execute(plan: dict[str, Any]) -> int:
    return run_gpu(plan) if plan["device"] == "cuda" else run(plan)


def run(plan: dict[str, Any]) -> int:
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


def run_gpu(plan: dict[str, Any]) -> int:
    """``bench --device cuda``: the GPU sections, or a clear error without CUDA."""
    try:
        check_device("cuda")
    except RuntimeError as error:
        raise UsageError(str(error)) from None
    results = run_gpu_bench(plan["config"])
    text = json.dumps(results, indent=1)
    if plan["json"] == "-":
        sys.stdout.write(text + "\n")
        return 0
    if plan["json"]:
        with open(plan["json"], "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(render_gpu(results))
    return 0
