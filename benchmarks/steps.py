"""The steps a peak-memory figure measures, each rebuilt from JSON in a fresh child process
(:mod:`benchmarks.probe`): a step is ``(candidate description, shape, dtype) -> run``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from sc_neurocore.core.registry import get_surrogate
from sc_neurocore.networks import SpikingNet

from .common import BETA, DTYPES, THRESHOLD, Run, autocast, fwd_bwd
from .lif import lif_inputs
from .neurons import build_layer
from .workload import workload_input, workload_run

Shape = tuple[int, ...]
Step = Callable[[dict[str, Any], Shape, str], Run]


def lif_step(spec: dict[str, Any], shape: Shape, dtype: str) -> Run:
    """One LIF layer fwd+bwd over the whole sequence (section ``lif``)."""
    steps, batch, n = shape
    return fwd_bwd(build_layer(spec), *lif_inputs((steps, batch, n), dtype=dtype))


def layer_step(spec: dict[str, Any], shape: Shape, dtype: str) -> Run:
    """``Linear(n, n)`` + the neurons (sections ``workload`` and ``amp``); the input arrives
    in ``dtype``, as a preceding layer under autocast hands it over."""
    steps, batch, n = shape
    return workload_run(spec, workload_input(steps, batch, n).to(DTYPES[dtype]), dtype)


def net_step(spec: dict[str, Any], shape: tuple[int, ...], dtype: str) -> Run:
    """One training step of the two-layer stack: cross-entropy of the output spike counts."""
    steps, batch, n_in, hidden, n_out = shape
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, batch, n_in, generator=generator) < 0.2).to(DTYPES[dtype])
    targets = torch.randint(0, n_out, (batch,), generator=generator)
    modules = _stack(spec, (n_in, hidden, n_out))
    params = [p for module in modules[1] for p in module.parameters()]

    def run() -> object:
        with autocast(dtype):
            loss = nn.functional.cross_entropy(modules[0](x).float(), targets)
        return torch.autograd.grad(loss, params)

    return run


def _stack(
    spec: dict[str, Any], sizes: tuple[int, int, int]
) -> tuple[Callable[[Tensor], Tensor], list[nn.Module]]:
    """``(counts(x), the modules holding the parameters)`` of the two-layer stack."""
    n_in, hidden, n_out = sizes
    torch.manual_seed(0)
    if spec["kind"] == "fused":
        surrogate = get_surrogate(spec["surrogate"])
        net = SpikingNet(n_in, hidden, n_out, 2, BETA, surrogate, THRESHOLD, fused=True)
        return (lambda x: net(x)[0]), [net]
    first, second = nn.Linear(n_in, hidden), nn.Linear(hidden, n_out)
    hidden_neurons, output_neurons = build_layer(spec), build_layer(spec)

    def counts(x: Tensor) -> Tensor:
        return output_neurons(second(hidden_neurons(first(x)))).sum(0)

    return counts, [first, second]


#: work -> (its step, the tiny shapes it warms up on, given the measured shape).
WORKS: dict[str, tuple[Step, Callable[[Shape], tuple[Shape, ...]]]] = {
    "lif": (lif_step, lambda shape: ((2, 2, 8),)),
    # two sizes: a compiled candidate then holds its dynamic-shape graph
    "layer": (layer_step, lambda shape: ((shape[0], 2, 8), (shape[0], 3, 12))),
    "net": (net_step, lambda shape: ((2, 2, 8, 8, 3),)),
}
