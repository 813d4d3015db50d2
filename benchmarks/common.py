"""What every section shares: the candidates' names, the LIF constants, the calls timed.

One fwd+bwd, one ``torch.mul`` baseline and one matrix-product baseline, each built on the
device of the tensors it is given, so a section measures the CPU and a GPU with the same code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

#: A benchmark run's JSON-ready result: ``meta``, ``sections``, ``targets``.
Results = dict[str, Any]
#: One timed call.
Run = Callable[[], object]
#: A neuron layer: input current (T, batch, n) -> spikes.
Layer = Callable[[Tensor], Tensor]

#: Every LIF candidate runs ``v = BETA v + x`` and spikes on ``v - THRESHOLD``.
BETA, THRESHOLD = 0.9, 1.0
#: Our fused LIF with the atan surrogate: the candidate the workload compares the peers with.
OURS = "fused LIF [atan]"
#: The baselines: one element-wise product, and the matrix products a step cannot avoid.
MUL, MATMULS = "torch.mul", "matmuls alone"
#: The dtypes a training step runs in (bf16 under autocast).
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def rows_of(results: Results, section: str) -> list[dict[str, Any]]:
    """The rows of ``section`` in ``results`` (none when it was not run)."""
    rows: list[dict[str, Any]] = results.get("sections", {}).get(section, {}).get("rows", [])
    return rows


def fwd_bwd(layer: Callable[[Tensor], Tensor], x: Tensor, g: Tensor) -> Run:
    """One forward and one backward: ``torch.autograd.grad(layer(x), x, g)``."""
    return lambda: torch.autograd.grad(layer(x), x, g)


def mul(a: Tensor, b: Tensor, c: Tensor) -> Run:
    """The baseline of an element-wise kernel: read two tensors, write one."""
    return lambda: torch.mul(a, b, out=c)


def matmuls(x: Tensor) -> Run:
    """The two products a ``Linear(n, n)`` training step cannot avoid, on ``x``'s device: the
    forward ``x W^T`` and the weight gradient ``g^T x``, on preallocated tensors."""
    n = x.shape[-1]
    generator = torch.Generator(device=x.device).manual_seed(1)
    rows = x.reshape(-1, n)
    weight = torch.randn(n, n, generator=generator, device=x.device) / n**0.5
    grad = torch.randn(rows.shape, generator=generator, device=x.device)
    out, grad_weight = torch.empty_like(rows), torch.empty(n, n, device=x.device)

    def run() -> None:
        torch.mm(rows, weight.t(), out=out)
        torch.mm(grad.t(), rows, out=grad_weight)

    return run


def tried(runs: dict[str, Run], notes: list[str], where: str = "") -> dict[str, Run]:
    """The runs that complete once (the first call also compiles and warms up); each one
    that fails is noted, so a broken peer never stops the benchmark."""
    working = {}
    for label, run in runs.items():
        try:
            run()
            working[label] = run
        except Exception as error:
            notes.append(f"{label}{where}: failed ({type(error).__name__}: {error})")
    return working


def autocast(dtype: str, device: str = "cpu") -> contextlib.AbstractContextManager[object]:
    """Nothing for fp32; ``torch.autocast`` to ``dtype`` otherwise."""
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[dtype])
