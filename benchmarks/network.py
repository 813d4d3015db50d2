"""Section ``network``: one training step of the 784-512-10 ``SpikingNet``.

A step is ``zero_grad``, forward over T steps, cross-entropy on the output spike
counts, backward and an Adam update, on a fixed batch of Bernoulli (p = 0.2) input
spikes.  Each path runs eager and through ``torch.compile`` (the first call, which
compiles, is reported separately and excluded from the timing), and the fused hidden
layer (``fused=True``) runs eager when that module exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from sc_neurocore.core.registry import coverage, get_surrogate, list_paths

from .common import MATMULS
from .config import BenchConfig
from .peers import module_present
from .progress import Progress
from .timing import interleaved, median_ratio


def training_step(
    config: BenchConfig, path: str, compiled: bool, fused: bool
) -> Callable[[], None]:
    """A closure running one optimisation step of a freshly initialised network."""
    from sc_neurocore.networks import SpikingNet

    torch.manual_seed(0)
    n_input, n_hidden, n_output = config.net_sizes
    net = SpikingNet(
        n_input, n_hidden, n_output, surrogate_fn=get_surrogate("atan", path), fused=fused
    )
    # fused: one pass over each parameter per step (torch's CPU kernel) instead of ~10
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    shape = (config.net_steps, config.net_batch, n_input)
    x = (torch.rand(shape) < 0.2).float()
    y = torch.randint(n_output, (config.net_batch,))
    model = torch.compile(net) if compiled else net

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        counts, _ = model(x)
        F.cross_entropy(counts, y).backward()
        optimizer.step()

    return step


def matmuls_step(config: BenchConfig) -> Callable[[], None]:
    """The step's matrix products alone, on preallocated tensors of the step's shapes.

    Forward: one ``(T*batch, a) x (a, b)`` product per layer.  Backward: each layer's
    weight gradient, and the gradient of its input for every layer but the first (the
    input spikes need none).  The neurons, the loss and the optimizer are left out.
    """
    sizes = config.net_sizes
    rows = config.net_steps * config.net_batch
    generator = torch.Generator().manual_seed(2)
    products: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    for index, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layer_in, weight = torch.rand(rows, a, generator=generator), torch.randn(b, a)
        grad_out = torch.randn(rows, b, generator=generator)
        products.append((layer_in, weight.t(), torch.empty(rows, b)))
        products.append((grad_out.t(), layer_in, torch.empty(b, a)))
        if index > 0:
            products.append((grad_out, weight, torch.empty(rows, a)))

    def step() -> None:
        for left, right, out in products:
            torch.mm(left, right, out=out)

    return step


def run_network(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    if not module_present("sc_neurocore.networks"):
        progress.start("network", 1)
        progress.step("skipped")
        notes.append("sc_neurocore.networks is missing: SpikingNet not measured")
        return {"title": "SpikingNet training step", "rows": [], "notes": notes}
    paths = [path for path in list_paths() if coverage("atan", path)[0]]
    plan: list[tuple[str, str, bool, bool]] = []
    for path in paths:
        plan.append((f"{path} eager", path, False, False))
        if config.compile_network:
            plan.append((f"{path} compiled", path, True, False))
    if not config.compile_network:
        notes.append("torch.compile skipped (--quick or --no-compile)")
    if module_present("sc_neurocore.neurons.fused"):
        plan.append(("fused hidden layer eager", paths[0], False, True))
        if config.compile_network:
            plan.append(("fused hidden layer compiled", paths[0], True, True))
    else:
        notes.append("sc_neurocore.neurons.fused is missing: fused network not measured")
    progress.start("network", len(plan) + 1)
    runs: dict[str, Callable[[], None]] = {}
    first_call: dict[str, float] = {}
    for label, path, compiled, fused in plan:
        progress.step(f"building {label}" + (" (compiling)" if compiled else ""))
        try:
            step = training_step(config, path, compiled, fused)
            start = time.perf_counter()
            step()
            step()  # compile also traces the backward and the optimizer on first use
            first_call[label] = time.perf_counter() - start
            runs[label] = step
        except Exception as error:  # compile can fail on some setups; report, carry on
            notes.append(f"{label}: failed ({type(error).__name__}: {str(error)[:200]})")
    progress.step(f"timing {len(runs)} candidates, {config.net_timing.rounds} rounds")
    runs[MATMULS] = matmuls_step(config)
    samples = interleaved(runs, config.net_timing)
    rows = []
    for label, path, compiled, fused in plan:
        if label not in runs:
            continue
        mine = samples[label]
        eager = samples.get(f"{path} eager")
        rows.append(
            {
                "candidate": label,
                "path": path,
                "compiled": compiled,
                "fused": fused,
                "seconds": mine.median,
                "samples_per_s": config.net_batch / mine.median,
                "first_two_calls_s": first_call[label],
                "speedup_over_eager": None if eager is None else median_ratio(eager, mine),
                "over_matmuls": median_ratio(mine, samples[MATMULS]),
            }
        )
    n_input, n_hidden, n_output = config.net_sizes
    return {
        "title": (
            f"SpikingNet {n_input}-{n_hidden}-{n_output} training step "
            f"(T={config.net_steps}, batch {config.net_batch})"
        ),
        "rows": rows,
        "matmuls_seconds": samples[MATMULS].median,
        "notes": notes,
    }
