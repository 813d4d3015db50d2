"""Section ``amp``: mixed precision as memory, ours against the peers on the same work.

Two training steps, each in fp32 and under ``torch.autocast("cpu", dtype=torch.bfloat16)``:

- ``layer``: ``Linear(n, n)`` on a ``(T, batch, n)`` input, one LIF layer, the weight and
  bias gradients of ``spikes.sum()`` (the ``workload`` section's step);
- ``net``: ``Linear(784, 512)`` -> LIF -> ``Linear(512, 10)`` -> LIF over ``T`` steps, the
  cross-entropy of the output spike counts and the gradients of every parameter (ours is
  ``SpikingNet(fused=True)``; each peer is the same stack with its own neurons).

The input arrives in the step's dtype (fp32, or bf16 as a preceding layer under autocast
hands it over), the parameters are fp32.  Two peaks, both in a fresh child process per
(work, candidate, dtype) after a warm-up on a tiny input: the resident high-water mark above
the resident size just before the step (:func:`~.memory.peak_of`: ``malloc_trim``,
``/proc/self/clear_refs``, ``VmHWM``; everything the step touched, BLAS workspaces and C
scratch included), and the most bytes of torch tensors alive at once (:func:`tensor_peak`).

Saved bytes: for each fused operator (and the element-wise surrogate) and each dtype, the
distinct storages autograd keeps for backward (``saved_tensors_hooks``) per neuron-step,
with and without the operator's input (which nothing can recompute).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .common import BETA, DTYPES, THRESHOLD
from .config import BenchConfig
from .memory import measure, saved_storage_bytes
from .progress import Progress
from .steps import WORKS as STEPS
from .workload import workload_candidates

#: The two training steps measured (see :mod:`benchmarks.steps`).
WORKS = ("layer", "net")


def _shapes(config: BenchConfig) -> dict[str, tuple[int, ...]]:
    return {"layer": config.amp_layer_shape, "net": config.amp_net_shape}


def saved_per_neuron_step(run: Callable[[Tensor], object], x: Tensor) -> tuple[float, float]:
    """``(all, beyond the input)`` bytes autograd keeps for backward per element of ``x``."""
    total, beyond = saved_storage_bytes(run, x)
    return total / x.numel(), beyond / x.numel()


def _operators() -> dict[str, tuple[Callable[[Tensor], object], str | None]]:
    """label -> (a call of the operator on x, the kernel family forced for it)."""
    from sc_neurocore.core.registry import get_surrogate
    from sc_neurocore.neurons.fused import LIF
    from sc_neurocore.neurons.integrator import LeakyIntegrator

    lif, leaky = LIF(beta=BETA, threshold=THRESHOLD), LeakyIntegrator(BETA)
    surrogate = get_surrogate("atan", "custom_op")
    return {
        "sc_neurocore_neuron::lif (compiled C)": (lambda x: lif(x)[0], None),
        "sc_neurocore_neuron::lif (torch kernels)": (lambda x: lif(x)[0], "torch"),
        "sc_neurocore_neuron::li (compiled C)": (leaky, None),
        "sc_neurocore::atan (custom_op, compiled C)": (surrogate, None),
    }


def saved_rows(shape: tuple[int, ...]) -> list[dict[str, Any]]:
    from sc_neurocore.core.settings import use_kernel

    rows = []
    for label, (call, family) in _operators().items():
        for name, dtype in {**DTYPES, "float16": torch.float16}.items():
            x = torch.randn(shape).to(dtype).requires_grad_(True)
            with use_kernel(family) if family else contextlib.nullcontext():
                total, beyond = saved_per_neuron_step(call, x)
            rows.append(
                {
                    "operator": label,
                    "dtype": name,
                    "saved_bytes_per_neuron_step": total,
                    "beyond_input_per_neuron_step": beyond,
                }
            )
    return rows


def run_amp(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    found = workload_candidates(installed, False, notes)
    rows: list[dict[str, Any]] = []
    cases = [(w, label, d) for w in WORKS for label in found for d in DTYPES]
    progress.start("amp memory", len(cases) + 1)
    progress.step("saved bytes per operator and dtype")
    saved = saved_rows(config.lif_shape)
    for work, label, dtype in cases:
        progress.step(f"{work} {label} {dtype}")
        request: dict[str, Any] = {"work": work, "spec": found[label], "dtype": dtype}
        request |= {"shape": list(_shapes(config)[work]), "tensors": True}
        row: dict[str, Any] = {"work": work, "candidate": label, "dtype": dtype, "peak_bytes": None}
        row["tensor_peak_bytes"] = None
        try:
            if config.peak_memory:
                row |= measure(request, timeout=600)
            else:  # quick: check the step runs, measure nothing
                step, tiny = STEPS[work]
                step(found[label], tiny(_shapes(config)[work])[0], dtype)()
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            row["error"] = str(error)
            notes.append(f"{work} {label} {dtype}: no peak memory ({error})")
        rows.append(row)
    if not config.peak_memory:
        notes.append("peak memory not measured (quick run)")
    notes.extend(
        f"saved for backward by {row['operator']} on {row['dtype']}: "
        f"{row['saved_bytes_per_neuron_step']:.2f} B per neuron-step, "
        f"{row['beyond_input_per_neuron_step']:.2f} B beyond its input"
        for row in saved
    )
    shapes = _shapes(config)
    return {
        "title": "Mixed precision: peak memory of a training step, fp32 and bf16 autocast",
        "layer_shape": list(shapes["layer"]),
        "net_shape": list(shapes["net"]),
        "rows": rows,
        "saved": saved,
        "notes": notes,
    }
