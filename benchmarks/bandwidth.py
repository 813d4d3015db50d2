"""Section ``bandwidth``: the machine's copy bandwidth, and each kernel's share of that limit.

A plain ``dst.copy_(src)`` of a buffer as large as a kernel's moves 8 bytes per fp32
element (one read, one write); its time gives the bandwidth available to a kernel of that
size (the same caches and memory).  Each kernel has a minimum traffic per element, the
bytes it must read and write once each:

* ``torch.mul(a, b, out=c)``: 12 bytes (read a and b, write c);
* surrogate spike fwd+bwd: 20 bytes (forward: read x, write the spike; backward: read
  x and the incoming gradient, write the result);
* fused LIF fwd+bwd per neuron-step: 20 bytes (forward: read x, write the spike;
  backward: read x and the spikes' gradient, write the input's gradient; the membrane
  history stays in cache between the backward's two passes);
* fused leaky integrator fwd+bwd per neuron-step: 16 bytes (forward: read x, write y;
  backward, the reverse-time filter: read the output's gradient, write the input's).

A kernel's *fraction of the limit* is the time that traffic would take at the copy's
bandwidth over the kernel's time, taken per round against the copy of the same round, and
the median over rounds: 1.0 is a kernel that runs at the copy's speed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from sc_neurocore.core.registry import coverage, get_surrogate, list_surrogates

from .common import MUL, Run, fwd_bwd, mul
from .config import BenchConfig
from .lif import lif_inputs
from .neurons import build_layer
from .progress import Progress
from .timing import Samples, interleaved

COPY = "copy"
COPY_BYTES = 8
MUL_BYTES = 12
SURROGATE_BYTES = 20
LIF_BYTES = 20
LEAKY_BYTES = 16
LEAKY = "fused leaky integrator fwd+bwd"


def _copy(numel: int) -> Run:
    source = torch.randn(numel)
    target = torch.empty(numel)
    return lambda: target.copy_(source)


def _mul(numel: int) -> Run:
    return mul(torch.randn(numel), torch.randn(numel), torch.empty(numel))


def _surrogate(name: str, numel: int) -> Run:
    x = torch.randn(numel).requires_grad_(True)
    return fwd_bwd(get_surrogate(name, "custom_op"), x, torch.randn(numel))


def _leaky_layer() -> Callable[[torch.Tensor], torch.Tensor]:
    from sc_neurocore.neurons.integrator import LeakyIntegrator

    return LeakyIntegrator(0.9)


def fraction(kernel: Samples, copy: Samples, kernel_bytes: int) -> float:
    """Median over rounds of (traffic time at the copy's bandwidth) / (kernel time)."""
    ratios = sorted(
        (c * kernel_bytes / COPY_BYTES) / k
        for k, c in zip(kernel.seconds, copy.seconds, strict=True)
    )
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def _group(
    label: str, numel: int, kernels: dict[str, tuple[Run, int]], config: BenchConfig
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    runs: dict[str, Run] = {COPY: _copy(numel), **{k: run for k, (run, _) in kernels.items()}}
    samples = interleaved(runs, config.bandwidth_timing)
    copy = samples[COPY]
    copy_row: dict[str, Any] = {
        "group": label,
        "numel": numel,
        "seconds": copy.median,
        "bytes_per_s": COPY_BYTES * numel / copy.median,
    }
    rows = []
    for kernel, (_, traffic) in kernels.items():
        mine = samples[kernel]
        share = fraction(mine, copy, traffic)
        rows.append(
            {
                "group": label,
                "kernel": kernel,
                "numel": numel,
                "bytes_per_element": traffic,
                "seconds": mine.median,
                "bytes_per_s": traffic * numel / mine.median,
                "fraction_of_limit": share,
                "limit_elements_per_s": copy_row["bytes_per_s"] / traffic,
            }
        )
    return copy_row, rows


def run_bandwidth(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    surrogates = [s for s in list_surrogates() if coverage(s, "custom_op")[0]]
    numel = config.sizes[-1]
    progress.start("bandwidth", 2)
    progress.step(f"copy, torch.mul and custom_op surrogates at {numel:.0e} elements")
    kernels: dict[str, tuple[Run, int]] = {MUL: (_mul(numel), MUL_BYTES)}
    for surrogate in surrogates:
        run = _surrogate(surrogate, numel)
        kernels[f"custom_op [{surrogate}] fwd+bwd"] = (run, SURROGATE_BYTES)
    copies, rows = [], []
    copy_row, group_rows = _group("surrogates", numel, kernels, config)
    copies.append(copy_row)
    rows += group_rows
    shape = config.lif_shape
    progress.step(
        "copy, the fused LIF and leaky integrator, (T, batch, N) = " + "x".join(map(str, shape))
    )
    x, g = lif_inputs(shape)
    lif_kernels = {
        f"fused LIF [{surrogate}] fwd+bwd": (
            fwd_bwd(build_layer({"kind": "fused", "surrogate": surrogate}), x, g),
            LIF_BYTES,
        )
        for surrogate in list_surrogates()
    }
    lif_kernels[LEAKY] = (fwd_bwd(_leaky_layer(), x, g), LEAKY_BYTES)
    copy_row, group_rows = _group("fused neurons", x.numel(), lif_kernels, config)
    copies.append(copy_row)
    rows += group_rows
    return {
        "title": "Copy bandwidth and each kernel's fraction of the memory-traffic limit",
        "copies": copies,
        "rows": rows,
        "notes": notes,
    }
