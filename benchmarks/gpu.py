"""GPU sections of ``sc-neurocore bench --device cuda``: synchronized times, CUDA peak memory.

- ``gpu_surrogates``: every registered surrogate on every path, fwd+bwd of a flat fp32
  tensor at 1e6 and 1e8 elements, over one ``torch.mul`` of the same size (same group);
- ``gpu_lif``: the fused LIF, fwd+bwd, on SpikingJelly's own tutorial workload (x of shape
  (T, 64, 65,536), T in 4, 8, 16, 32, fp32 and fp16) against ``LIFNode(step_mode="m")`` with
  each of its backends (torch, triton, cupy) that runs here; throughput in neuron-steps/s;
- ``gpu_workload``: the open-neuromorphic workload (``Linear(n, n)`` + LIF, batch 16,
  T = 500, n = 4,096 and 16,384) against snnTorch ``Leaky``, SpikingJelly and Norse
  (``torch.compile``d), over the two matrix products every candidate pays.

Every candidate call ends with ``torch.cuda.synchronize()``, so a time is the GPU's work,
not the launch; candidates of a group are interleaved round by round and ratios are
medians of per-round ratios (see :mod:`.timing`).  Peak memory is
``torch.cuda.max_memory_allocated()`` during one call, above what was allocated before it.
The same code runs on CPU tensors (``device="cpu"``, tiny sizes) to test its plumbing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from sc_neurocore.core.registry import coverage, get_surrogate, list_paths, list_surrogates

from .common import MATMULS, MUL, OURS, Run, fwd_bwd, matmuls, mul
from .gpu_peers import neuron_candidates
from .peers import PEERS, peer_version
from .timing import Samples, Timing, interleaved, median_ratio

__all__ = ["GPU_SECTIONS", "GpuConfig", "check_device", "run_gpu_bench"]

GPU_SECTIONS: tuple[str, ...] = ("gpu_surrogates", "gpu_lif", "gpu_workload")


@dataclass(frozen=True)
class GpuConfig:
    """Sizes and repetitions of the GPU sections; :meth:`quick` shrinks them to seconds."""

    device: str = "cuda"
    sections: tuple[str, ...] = GPU_SECTIONS
    quick: bool = False
    surrogate_sizes: tuple[int, ...] = (1_000_000, 100_000_000)
    lif_batch: int = 64
    lif_channels: int = 65_536
    lif_steps: tuple[int, ...] = (4, 8, 16, 32)
    lif_dtypes: tuple[str, ...] = ("float32", "float16")
    workload_sizes: tuple[int, ...] = (4_096, 16_384)
    workload_steps: int = 500
    workload_batch: int = 16
    timing: Timing = Timing(rounds=11, warmup=2, min_sample_s=0)
    workload_timing: Timing = Timing(rounds=3, warmup=1, min_sample_s=0)
    compile_peers: bool = True

    def __post_init__(self) -> None:
        unknown = [name for name in self.sections if name not in GPU_SECTIONS]
        if unknown:
            raise ValueError(f"unknown GPU section(s) {unknown}; choose from {GPU_SECTIONS}")

    @classmethod
    def quick_preset(cls, device: str = "cuda", sections: tuple[str, ...] = GPU_SECTIONS):
        """Tiny sizes, two rounds: checks that everything runs, not how fast."""
        return replace(
            cls(device=device, sections=tuple(sections)),
            quick=True,
            surrogate_sizes=(1_000,),
            lif_batch=2,
            lif_channels=64,
            lif_steps=(4,),
            workload_sizes=(32,),
            workload_steps=5,
            workload_batch=2,
            timing=Timing(rounds=2, warmup=1, min_sample_s=0),
            workload_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
            compile_peers=False,
        )


def check_device(device: str) -> None:
    """Raise a clear error when ``device`` cannot run here (``cuda`` without a GPU)."""
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        built = torch.version.cuda
        why = "torch was built without CUDA" if built is None else "no CUDA GPU is visible"
        raise RuntimeError(
            f"--device {device}: CUDA is not available ({why}; torch {torch.__version__}); "
            "the GPU benchmarks need a CUDA GPU and a CUDA build of torch"
        )


def _synchronize(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _synced(run: Run, device: str) -> Run:
    """``run`` followed by a device synchronisation, so timing sees the finished work."""

    def call() -> None:
        run()
        _synchronize(device)

    return call


def peak_bytes(run: Run, device: str) -> int | None:
    """Peak CUDA memory of one call above what was allocated before it (None on CPU)."""
    if torch.device(device).type != "cuda":
        return None
    _synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run()
    _synchronize(device)
    return int(torch.cuda.max_memory_allocated(device) - before)


def _measure(runs: dict[str, Run], config: GpuConfig, timing: Timing) -> dict[str, Samples]:
    return interleaved({k: _synced(v, config.device) for k, v in runs.items()}, timing)


# --- gpu_surrogates -----------------------------------------------------------------------


def run_surrogates(config: GpuConfig, notes: list[str]) -> dict[str, Any]:
    rows = []
    device = config.device
    for numel in config.surrogate_sizes:
        generator = torch.Generator(device=device).manual_seed(numel)
        x = torch.randn(numel, generator=generator, device=device).requires_grad_(True)
        g, a, b = (torch.randn(numel, generator=generator, device=device) for _ in range(3))
        c = torch.empty_like(a)
        for surrogate in list_surrogates():
            runs: dict[str, Run] = {MUL: mul(a, b, c)}
            for path in list_paths():
                if coverage(surrogate, path)[0]:
                    runs[path] = fwd_bwd(get_surrogate(surrogate, path), x, g)
            samples = _measure(runs, config, config.timing)
            for path in runs:
                if path != MUL:
                    rows.append(
                        {
                            "surrogate": surrogate,
                            "path": path,
                            "numel": numel,
                            "seconds": samples[path].median,
                            "over_mul": median_ratio(samples[path], samples[MUL]),
                            "peak_bytes": peak_bytes(runs[path], device),
                        }
                    )
    return {"title": "Surrogate fwd+bwd over one torch.mul of the same size", "rows": rows}


# --- gpu_lif ------------------------------------------------------------------------------


def _layers(config: GpuConfig, notes: list[str], workload: bool) -> dict[str, Callable]:
    """The candidates' layers on the device; one that cannot be built is noted and left out."""
    layers = {}
    found = neuron_candidates(config.device, config.compile_peers, notes, workload)
    for label, factory in found.items():
        try:
            layers[label] = factory()
        except Exception as error:  # a peer backend that cannot run here is reported
            where = "workload" if workload else "lif"
            notes.append(f"{label} ({where}): unavailable ({type(error).__name__}: {error})")
    return layers


def _tried(runs: dict[str, Run], notes: list[str], where: str) -> dict[str, Run]:
    """The runs that complete once (the first call also compiles and warms up)."""
    working = {}
    for label, run in runs.items():
        try:
            run()
            working[label] = run
        except Exception as error:  # a broken peer must not stop the benchmark
            notes.append(f"{label} {where}: failed ({type(error).__name__}: {error})")
    return working


def run_lif(config: GpuConfig, notes: list[str]) -> dict[str, Any]:
    from sc_neurocore.neurons.fused import fused_kernel

    device, rows = config.device, []
    layers = _layers(config, notes, workload=False)
    for dtype_name in config.lif_dtypes:
        dtype = getattr(torch, dtype_name)
        for steps in config.lif_steps:
            shape = (steps, config.lif_batch, config.lif_channels)
            generator = torch.Generator(device=device).manual_seed(steps)
            x = torch.randn(shape, generator=generator, device=device) * 0.5 + 0.15
            x = x.to(dtype).requires_grad_(True)
            g = torch.randn(shape, generator=generator, device=device).to(dtype)
            runs = {label: fwd_bwd(layer, x, g) for label, layer in layers.items()}
            runs = _tried(runs, notes, f"at T={steps} {dtype_name}")
            samples = _measure(runs, config, config.timing)
            reference = "spikingjelly LIFNode [triton]"
            for label, run in runs.items():
                rows.append(
                    {
                        "steps": steps,
                        "dtype": dtype_name,
                        "candidate": label,
                        "seconds": samples[label].median,
                        "neuron_steps_per_s": x.numel() / samples[label].median,
                        "over_sj_triton": (
                            median_ratio(samples[reference], samples[label])
                            if reference in samples
                            else None
                        ),
                        "peak_bytes": peak_bytes(run, device),
                    }
                )
    kernel, reason = fused_kernel("atan", device)
    notes.append(f"{OURS} runs the {kernel} kernels" + (f" ({reason})" if reason else ""))
    title = (
        f"Fused LIF fwd+bwd, x = (T, {config.lif_batch}, {config.lif_channels}); "
        "over_sj_triton = our throughput over SpikingJelly's triton backend"
    )
    return {"title": title, "rows": rows}


# --- gpu_workload -------------------------------------------------------------------------


def _training_step(layer: Callable[[Tensor], Tensor], linear: nn.Linear, x: Tensor) -> Run:
    params = tuple(linear.parameters())
    return lambda: torch.autograd.grad(layer(linear(x)).sum(), params)


def run_workload(config: GpuConfig, notes: list[str]) -> dict[str, Any]:
    device, rows = config.device, []
    layers = _layers(config, notes, workload=True)
    for n in config.workload_sizes:
        shape = (config.workload_steps, config.workload_batch, n)
        x = torch.randn(
            shape, generator=torch.Generator(device=device).manual_seed(n), device=device
        )
        torch.manual_seed(0)
        linear = nn.Linear(n, n).to(device)
        runs: dict[str, Run] = {MATMULS: matmuls(x)}
        for label, layer in layers.items():
            runs[label] = _training_step(layer, linear, x)
        runs = _tried(runs, notes, f"at n={n}")
        samples = _measure(runs, config, config.workload_timing)
        for label, run in runs.items():
            rows.append(
                {
                    "n": n,
                    "candidate": label,
                    "seconds": samples[label].median,
                    "over_matmuls": median_ratio(samples[label], samples[MATMULS]),
                    "over_ours": median_ratio(samples[label], samples[OURS])
                    if OURS in samples
                    else None,
                    "peak_bytes": peak_bytes(run, device),
                }
            )
    title = (
        f"Open-neuromorphic workload: Linear(n, n) + LIF, T={config.workload_steps}, "
        f"batch {config.workload_batch}, fwd+bwd of sum()"
    )
    return {"title": title, "rows": rows}


@contextlib.contextmanager
def _cuda_released(device: str) -> Iterator[None]:
    try:
        yield
    finally:
        if torch.device(device).type == "cuda":
            torch.cuda.empty_cache()


def run_gpu_bench(config: GpuConfig) -> dict[str, Any]:
    """Measure ``config.sections`` on ``config.device``; the result is JSON-serialisable."""
    from .gpu_targets import evaluate_gpu

    check_device(config.device)
    measured = {"gpu_surrogates": run_surrogates, "gpu_lif": run_lif, "gpu_workload": run_workload}
    sections: dict[str, Any] = {}
    for name in config.sections:
        notes: list[str] = []
        with _cuda_released(config.device):
            sections[name] = {**measured[name](config, notes), "notes": notes}
    device = torch.device(config.device)
    meta = {
        "device": config.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "quick": config.quick,
        "peers": {library: peer_version(library) for library in PEERS},
        "method": "each call ends with torch.cuda.synchronize(); interleaved rounds; "
        "medians of per-round ratios; peak = max_memory_allocated during one call",
    }
    results: dict[str, Any] = {"meta": meta, "sections": sections}
    results["targets"] = evaluate_gpu(results)
    if device.type == "cuda":
        results["registers"] = _registers_against_report()
    return results


def _registers_against_report() -> list[dict[str, object]]:
    """The fused kernels this run compiled, their registers as loaded on this GPU next to the
    ahead-of-time compile report's (``sc-neurocore kernels --compile``) for the same binding."""
    from sc_neurocore.kernels.triton import lif
    from sc_neurocore.kernels.triton.compile_report import registers_against_report

    modules = {id(k.module): k.module for k in lif.chosen_kernels()}
    functions = [f for m in modules.values() for f in (m.forward, m.backward)]
    try:
        return registers_against_report(functions)
    except Exception as error:  # a report that cannot be made is a row, not a lost run
        return [{"error": f"{type(error).__name__}: {error}"}]
