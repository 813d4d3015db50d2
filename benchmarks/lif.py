"""Section ``lif``: one LIF layer, fwd+bwd over a whole sequence, in neuron-steps/s.

fwd+bwd is ``torch.autograd.grad(spikes, x, g)``; the candidates are those of
:func:`benchmarks.neurons.candidates` for the run's device, interleaved in one group per
(T, dtype) of the configuration (the CPU: one shape, fp32; a GPU: SpikingJelly's tutorial
sweep of T in fp32 and fp16).  Peak memory: :mod:`benchmarks.memory`.
"""

from __future__ import annotations

import subprocess
from typing import Any

import torch
from torch import Tensor

from .common import Run, fwd_bwd, tried
from .config import BenchConfig
from .memory import cuda_peak, measure, saved_bytes
from .neurons import build_layer, candidates
from .progress import Progress
from .timing import Samples, interleaved, median_ratio


def lif_inputs(
    shape: tuple[int, int, int], seed: int = 0, dtype: str = "float32", device: str = "cpu"
) -> tuple[Tensor, Tensor]:
    """Input current (about 10 % of neurons spike per step) and an output gradient."""
    generator = torch.Generator(device=device).manual_seed(seed)
    # Filled in place: no temporaries, so input creation leaves no freed memory behind.
    x = torch.empty(shape, device=device).normal_(0.15, 0.5, generator=generator)
    g = torch.empty(shape, device=device).normal_(generator=generator)
    kind = getattr(torch, dtype)
    return x.to(kind).requires_grad_(True), g.to(kind)


def _ratios(label: str, samples: dict[str, Samples]) -> dict[str, float]:
    """Throughput of ``label`` over each other candidate's (time ratio inverted)."""
    mine = samples[label]
    return {other: median_ratio(s, mine) for other, s in samples.items() if other != label}


def run_lif(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    device = config.device
    found = candidates(installed, notes, device)
    cases = [(dtype, steps) for dtype in config.lif_dtypes for steps in config.steps]
    progress.start("lif", len(found) + len(cases))
    layers = {}
    for label, spec in found.items():
        progress.step(f"building {label}")
        try:
            layers[label] = build_layer(spec, device)
        except Exception as error:  # a peer backend that cannot run here is reported
            notes.append(f"{label}: unavailable ({type(error).__name__}: {error})")
    _, batch, neurons = config.lif_shape
    rows = []
    for dtype, steps in cases:
        x, g = lif_inputs((steps, batch, neurons), dtype=dtype, device=device)
        where = "" if len(cases) == 1 else f" at T={steps} {dtype}"
        runs: dict[str, Run] = {label: fwd_bwd(layer, x, g) for label, layer in layers.items()}
        runs = tried(runs, notes, where)
        progress.step(f"timing {len(runs)} candidates{where}, {config.lif_timing.rounds} rounds")
        samples = interleaved(runs, config.lif_timing, device) if runs else {}
        rows += [
            {
                "candidate": label,
                **found[label],
                "steps": steps,
                "dtype": dtype,
                "seconds": samples[label].median,
                "neuron_steps_per_s": x.numel() / samples[label].median,
                "speedup_over": _ratios(label, samples),
                "peak_bytes": cuda_peak(run, device),
            }
            for label, run in runs.items()
        ]
    title = "x".join(map(str, config.lif_shape))
    if config.lif_steps:
        title = f"(T in {', '.join(map(str, config.steps))})x{batch}x{neurons}"
    return {
        "title": "LIF layer fwd+bwd (T, batch, neurons) = " + title,
        "shape": list(config.lif_shape),
        "rows": rows,
        "notes": notes,
        "descriptions": {label: found[label] for label in layers},
    }


def add_memory(section: dict[str, Any], config: BenchConfig, progress: Progress) -> dict[str, Any]:
    """Add ``saved_bytes`` and (unless disabled) ``peak_bytes`` to each LIF row (on a GPU the
    timing measured the peak already)."""
    rows = section["rows"]
    device = config.device
    progress.start("lif memory", len(rows))
    for row in rows:
        progress.step(row["candidate"])
        spec = section["descriptions"][row["candidate"]]
        shape = (row["steps"], *config.lif_shape[1:])
        x, _ = lif_inputs(shape, dtype=row["dtype"], device=device)  # type: ignore[arg-type]
        row["saved_bytes"] = saved_bytes(build_layer(spec, device), x)
        if not config.peak_memory or torch.device(device).type == "cuda":
            continue
        request = {"work": "lif", "spec": spec, "shape": list(shape), "dtype": row["dtype"]}
        try:
            row["peak_bytes"] = measure(request)["peak_bytes"]
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            section["notes"].append(f"{row['candidate']}: no peak memory ({error})")
    if not config.peak_memory:
        section["notes"].append("peak memory not measured (quick run)")
    return section
