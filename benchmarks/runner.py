"""Run the selected sections in one process and collect one JSON-ready result."""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Callable
from typing import Any

import torch

from sc_neurocore import __version__
from sc_neurocore.kernels.native.isa import describe_host

from .config import BenchConfig
from .peers import PEERS, peer_version
from .progress import Progress
from .targets import evaluate

SCHEMA_VERSION = 1

METHOD = {
    "fwd_bwd": "y = f(x); torch.autograd.grad(y, x, g), x and g fp32",
    "statistic": "median over rounds; the candidates of a group sampled once per round, in a "
    "new random order each round; ratios are medians of per-round ratios",
    "baseline": "torch.mul(a, b, out=c) of the same size, in the same group",
    "memory": "peak RSS above the pre-pass baseline, one fwd+bwd in a fresh process",
    "saved": "bytes of distinct storages saved for backward (saved_tensors_hooks), inputs excluded",
    "amp": "peak RSS of a training step (fp32, bf16 autocast) in a fresh process per case",
}


def _meta(config: BenchConfig, installed: dict[str, str | None]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "sc_neurocore": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": describe_host(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": config.quick,
        "sections": list(config.sections),
        "peers": installed,
        "method": METHOD,
    }


def run_bench(config: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Measure ``config.sections`` and evaluate the targets; the result is JSON-serialisable."""
    from .amp_memory import run_amp
    from .bandwidth import run_bandwidth
    from .cli import run_cli
    from .lif import run_lif
    from .memory import add_memory
    from .network import run_network
    from .ops import run_ops
    from .registry_costs import run_registry
    from .workload import run_workload

    progress = progress or Progress()
    installed = {library: peer_version(library) for library in PEERS}
    sections: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], None]]] = []

    def ops() -> None:
        for name, section in run_ops(config, progress, installed).items():
            if name in config.sections:
                sections[name] = section

    def lif() -> None:
        sections["lif"] = add_memory(run_lif(config, progress, installed), config, progress)

    if "surrogates" in config.sections or "peers" in config.sections:
        steps.append(("ops", ops))
    measured: dict[str, Callable[..., dict[str, Any]]] = {
        "bandwidth": run_bandwidth,
        "network": run_network,
        "workload": run_workload,
        "registry": run_registry,
        "cli": run_cli,
        "amp": run_amp,
    }

    def run_section(name: str) -> Callable[[], None]:
        return lambda: sections.__setitem__(name, measured[name](config, progress, installed))

    for name in config.sections:
        if name == "lif":
            steps.append(("lif", lif))
        elif name in measured:
            steps.append((name, run_section(name)))
    try:
        for _, step in steps:
            step()
    finally:
        progress.finish()
    ordered = {name: sections[name] for name in config.sections if name in sections}
    results: dict[str, Any] = {"meta": _meta(config, installed), "sections": ordered}
    results["targets"] = evaluate(results)
    return results
