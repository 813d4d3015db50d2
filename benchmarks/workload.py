"""Section ``workload``: the open-neuromorphic library benchmark, Linear(n, n) + one LIF layer.

Per size n: input ``(T, batch, n)`` (T = 500, batch 16, standard normal, no gradient),
``Linear(n, n)`` applied to the whole sequence in one call, one LIF layer, and
``torch.autograd.grad(spikes.sum(), linear.parameters())``.  Every candidate gets the same
``Linear`` (same initialisation), so only the neurons differ; the baseline ``matmuls alone``
is the two matrix products such a step cannot avoid (the forward ``x W^T`` and the weight
gradient ``g^T x``) on preallocated tensors, in the same interleaved group.  Before timing,
each candidate's neurons run on the same current as ours and the spikes are compared
(see ``dynamics``).  Peak memory comes from a fresh child process per candidate.
"""

from __future__ import annotations

import subprocess
from typing import Any

import torch
from torch import Tensor, nn

from .common import MATMULS, OURS, Run, autocast, matmuls, tried
from .config import BenchConfig
from .lif import lif_inputs
from .memory import peak
from .neurons import build_layer, peers
from .progress import Progress
from .timing import Timing, interleaved, median_ratio


def workload_input(steps: int, batch: int, n: int, seed: int = 0, device: str = "cpu") -> Tensor:
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.empty(steps, batch, n, device=device).normal_(generator=generator)


def workload_run(spec: dict[str, Any], x: Tensor, dtype: str = "float32") -> Run:
    """One fwd+bwd of ``Linear(n, n)`` then ``spec``'s neurons, gradient of ``sum()``
    (under autocast to ``dtype`` unless fp32)."""
    n = x.shape[-1]
    torch.manual_seed(0)
    linear = nn.Linear(n, n).to(x.device)
    neurons = build_layer(spec, str(x.device))
    params = tuple(linear.parameters())

    def run() -> object:
        with autocast(dtype):
            loss = neurons(linear(x)).sum()  # in the spikes dtype: no full-size cast
        return torch.autograd.grad(loss, params)

    return run


def workload_candidates(
    installed: dict[str, str | None], compile_peers: bool, notes: list[str], device: str = "cpu"
) -> dict[str, dict[str, Any]]:
    """label -> neuron description: ours (fused, atan) and every installed peer."""
    found = peers(installed, notes, device) | {OURS: {"kind": "fused", "surrogate": "atan"}}
    if installed.get("norse"):
        if compile_peers:
            found["norse.LIFBoxCell loop (torch.compile)"] = {"kind": "norse", "compiled": True}
        else:
            notes.append("Norse torch.compile skipped (--quick or --no-compile)")
    return found


def compare_dynamics(
    found: dict[str, dict[str, Any]], steps: int, device: str = "cpu"
) -> dict[str, dict[str, Any]]:
    """Each candidate's spikes against ours on one shared input current (forward only)."""
    current, _ = lif_inputs((min(steps, 200), 4, 64), seed=3, device=device)
    current = current.detach()
    with torch.no_grad():
        reference = build_layer(found[OURS], device)(current)
        compared: dict[str, dict[str, Any]] = {}
        for label, spec in found.items():
            if label == OURS:
                continue
            try:
                spikes = build_layer(spec, device)(current)
            except Exception as error:  # a broken peer is reported, not fatal
                compared[label] = {"error": f"{type(error).__name__}: {error}"}
                continue
            differ = (spikes.to(reference.dtype) != reference).float().mean().item()
            compared[label] = {
                "identical_spikes": differ == 0.0,
                "differing_fraction": differ,
                "spike_rate": spikes.float().mean().item(),
            }
    compared[OURS] = {
        "reference": True,
        "identical_spikes": True,
        "differing_fraction": 0.0,
        "spike_rate": reference.float().mean().item(),
    }
    return compared


def _timing_for(n: int, config: BenchConfig) -> Timing:
    if n < config.workload_large_n:
        return config.workload_timing
    # No warm-up there: each candidate has just run once (the failure check) at this size.
    rounds = min(config.workload_timing.rounds, config.workload_large_rounds)
    return Timing(rounds=rounds, warmup=0, min_sample_s=0)


def _peak(label: str, spec: dict[str, Any], run: Run, shape: tuple[int, ...], config, notes):
    try:
        request = {"work": "layer", "spec": spec, "shape": list(shape)}
        return peak(request, run, config.device, timeout=900)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        notes.append(f"{label} at n={shape[2]}: no peak memory ({error})")
        return None


def _measure_size(
    n: int, found: dict[str, dict[str, Any]], config: BenchConfig, notes: list[str]
) -> list[dict[str, Any]]:
    shape = (config.workload_steps, config.workload_batch, n)
    x = workload_input(*shape, device=config.device)
    runs: dict[str, Run] = {MATMULS: matmuls(x)}
    for label, spec in found.items():
        try:
            runs[label] = workload_run(spec, x)
        except Exception as error:  # a peer backend that cannot run here is reported
            notes.append(f"{label} at n={n}: unavailable ({type(error).__name__}: {error})")
    runs = tried(runs, notes, f" at n={n}")
    samples = interleaved(runs, _timing_for(n, config), config.device)
    rows = []
    for label, run in runs.items():
        mine = samples[label]
        measure_memory = label != MATMULS and n in config.workload_memory_sizes
        rows.append(
            {
                "n": n,
                "candidate": label,
                **({"kind": "baseline"} if label == MATMULS else found[label]),
                "seconds": mine.median,
                "over_matmuls": median_ratio(mine, samples[MATMULS]),
                "over_ours": median_ratio(mine, samples[OURS]) if OURS in samples else None,
                "peak_bytes": (
                    _peak(label, found[label], run, shape, config, notes)
                    if measure_memory
                    else None
                ),
            }
        )
    return rows


def run_workload(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    found = workload_candidates(installed, config.compile_peers, notes, config.device)
    progress.start("workload", len(config.workload_sizes) + 1)
    progress.step("comparing the candidates' spikes on one input")
    dynamics = compare_dynamics(found, config.workload_steps, config.device)
    rows: list[dict[str, Any]] = []
    for n in config.workload_sizes:
        progress.step(f"n={n}: {len(found) + 1} candidates")
        rows += _measure_size(n, found, config, notes)
    if not config.workload_memory_sizes:
        notes.append("peak memory not measured (quick run)")
    return {
        "title": (
            f"Open-neuromorphic workload: Linear(n, n) + LIF, T={config.workload_steps}, "
            f"batch {config.workload_batch}, fwd+bwd of sum()"
        ),
        "steps": config.workload_steps,
        "batch": config.workload_batch,
        "rows": rows,
        "dynamics": dynamics,
        "notes": notes,
    }
