"""``sc-neurocore bench``: measure speed against torch and the peers, check the targets."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from . import UsageError


def register(subparsers: Any) -> None:
    from ..bench.config import SECTIONS

    parser = subparsers.add_parser(
        "bench",
        help="benchmark the surrogate paths, LIF layers and registry against the peers",
        description=(
            "Measure in one process: every surrogate on every path, the same surrogates in "
            "snnTorch and SpikingJelly (if installed), a LIF layer, a SpikingNet training "
            "step and the registry costs; print a table and the performance targets."
        ),
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, few rounds: seconds, not representative"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the results as JSON to PATH ('-': stdout only)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="SECTION",
        help=f"run only these sections: {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="skip torch.compile (network section, compiled peers)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch threads for the run (default: torch's; 1 gives steadier figures on a "
        "machine whose cores are oversubscribed)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="cuda: the GPU sections (surrogates, fused LIF vs SpikingJelly, workload); "
        "needs a CUDA GPU",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import SECTIONS, BenchConfig, render, run_bench
    from ..bench.progress import Progress

    if args.device == "cuda":
        return run_gpu(args)
    sections = tuple(args.only) if args.only else SECTIONS
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise UsageError(f"--only: unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    config = BenchConfig.quick_preset(sections) if args.quick else BenchConfig.full(sections)
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be a positive int, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.no_compile:
        config = dataclasses.replace(config, compile_network=False, compile_peers=False)
    handle = None
    if args.json and args.json != "-":
        try:  # fail before minutes of measuring, not after
            handle = open(args.json, "w", encoding="utf-8")  # noqa: SIM115
        except OSError as error:
            raise UsageError(f"--json: cannot write {args.json!r}: {error}") from error
    try:
        results = run_bench(config, Progress(enabled=not args.no_progress))
        text = json.dumps(results, indent=1)
        if handle is not None:
            handle.write(text + "\n")
    finally:
        if handle is not None:
            handle.close()
    if args.json == "-":
        sys.stdout.write(text + "\n")
    else:
        print(render(results))
    return 0


def run_gpu(args: argparse.Namespace) -> int:
    """``bench --device cuda``: the GPU sections, or a clear error without CUDA."""
    from ..bench.gpu import GPU_SECTIONS, GpuConfig, check_device, run_gpu_bench
    from ..bench.gpu_targets import render_gpu

    sections = tuple(args.only) if args.only else GPU_SECTIONS
    unknown = [name for name in sections if name not in GPU_SECTIONS]
    if unknown:
        raise UsageError(f"--only: unknown GPU section(s) {unknown}; choose from {GPU_SECTIONS}")
    try:
        check_device("cuda")
    except RuntimeError as error:
        raise UsageError(str(error)) from None
    config = (
        GpuConfig.quick_preset("cuda", sections) if args.quick else GpuConfig(sections=sections)
    )
    if args.no_compile:
        config = dataclasses.replace(config, compile_peers=False)
    results = run_gpu_bench(config)
    text = json.dumps(results, indent=1)
    if args.json == "-":
        sys.stdout.write(text + "\n")
        return 0
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(render_gpu(results))
    return 0
