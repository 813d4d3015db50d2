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

from .amp_memory import run_amp
from .bandwidth import run_bandwidth
from .cli import run_cli
from .config import BenchConfig, is_cuda
from .lif import add_memory, run_lif
from .network import run_network
from .ops import run_ops
from .peers import PEERS, peer_version
from .progress import Progress
from .registry_costs import run_registry
from .targets import evaluate
from .workload import run_workload

SCHEMA_VERSION = 1

METHOD = {
    "fwd_bwd": "y = f(x); torch.autograd.grad(y, x, g), x and g fp32",
    "statistic": "median over rounds; the candidates of a group sampled once per round, in a "
    "new random order each round; ratios are medians of per-round ratios",
    "baseline": "torch.mul(a, b, out=c) of the same size, in the same group",
    "memory": "peak RSS above the pre-pass baseline, one fwd+bwd in a fresh process",
    "saved": "bytes of distinct storages saved for backward (saved_tensors_hooks), inputs excluded",
    "amp": "peak RSS of a training step (fp32, bf16 autocast) in a fresh process per case",
    "cuda": "on a CUDA device every call ends with torch.cuda.synchronize(); peak = "
    "max_memory_allocated during one call above what was allocated before it",
}


def check_device(device: str) -> None:
    """Raise a clear error when ``device`` cannot run here (``cuda`` without a GPU)."""
    if is_cuda(device) and not torch.cuda.is_available():
        built = torch.version.cuda
        why = "torch was built without CUDA" if built is None else "no CUDA GPU is visible"
        raise RuntimeError(
            f"--device {device}: CUDA is not available ({why}; torch {torch.__version__}); "
            "the GPU benchmarks need a CUDA GPU and a CUDA build of torch"
        )


def _meta(config: BenchConfig, installed: dict[str, str | None]) -> dict[str, Any]:
    device = torch.device(config.device)
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
        "device": config.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cuda": torch.version.cuda,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": config.quick,
        "sections": list(config.sections),
        "peers": installed,
        "method": METHOD,
    }


#: section -> its measurement (``surrogates`` and ``peers`` come from one pass of run_ops).
SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "bandwidth": run_bandwidth,
    "lif": lambda config, progress, installed: add_memory(
        run_lif(config, progress, installed), config, progress
    ),
    "network": run_network,
    "workload": run_workload,
    "registry": run_registry,
    "cli": run_cli,
    "amp": run_amp,
}


def _released(device: str) -> None:
    """Hand the device's cached blocks back between sections (a GPU's peaks start clean)."""
    if is_cuda(device):
        torch.cuda.empty_cache()


def run_bench(config: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Measure ``config.sections`` on ``config.device`` and evaluate the targets; the result
    is JSON-serialisable."""
    check_device(config.device)
    progress = progress or Progress()
    installed = {library: peer_version(library) for library in PEERS}
    sections: dict[str, Any] = {}
    try:
        if "surrogates" in config.sections or "peers" in config.sections:
            for name, section in run_ops(config, progress, installed).items():
                if name in config.sections:
                    sections[name] = section
            _released(config.device)
        for name in config.sections:
            if name in SECTIONS:
                sections[name] = SECTIONS[name](config, progress, installed)
                _released(config.device)
    finally:
        progress.finish()
    ordered = {name: sections[name] for name in config.sections if name in sections}
    results: dict[str, Any] = {"meta": _meta(config, installed), "sections": ordered}
    results["targets"] = evaluate(results)
    if is_cuda(config.device):
        results["registers"] = _registers_against_report()
    return results


def _registers_against_report() -> list[dict[str, object]]:
    """The fused kernels this run compiled, their registers as loaded on this GPU next to the
    ahead-of-time compile report's (``sc-neurocore kernels --compile``) for the same binding."""
    from sc_neurocore.kernels.triton.compile_report import registers_against_report
    from sc_neurocore.kernels.triton.neuron_source import loaded_modules

    functions = [f for m in loaded_modules() for f in (m.forward, m.backward)]
    try:
        return registers_against_report(functions)
    except Exception as error:  # a report that cannot be made is a row, not a lost run
        return [{"error": f"{type(error).__name__}: {error}"}]
