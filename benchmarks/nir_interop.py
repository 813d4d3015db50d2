"""Measured NIR interoperability: graphs this project exports, imported by snnTorch and
Norse, against this project's own import (docs/interchange.md, scripts/nir_interop.py).

For each node type and ``dt``, the peer's spikes are compared with ``from_nir``'s; where
they differ, the same comparison is repeated against this project's import under one
changed convention at a time, and the first that matches is reported as the cause:
``r`` taken as 1, ``dt`` taken as 1e-4, or the reset carried in metadata ignored.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sc_neurocore.interchange.nir import from_nir, to_nir
from sc_neurocore.neurons.cells import IFCell, LIFCell, SynapticCell
from sc_neurocore.neurons.recurrent import RecurrentLIFCell

__all__ = ["PEERS", "InteropRow", "interop_rows", "markdown_table"]

STEPS, BATCH, N_IN, N = 40, 2, 5, 4
DTS = (1e-4, 1e-3)


@dataclass(frozen=True)
class InteropRow:
    node: str
    dt: float
    peer: str
    outcome: str  # "agree", "differ" or "error"
    detail: str  # the cause found, or the error


def _models() -> Iterator[tuple[str, nn.Module]]:
    def chain(cell: nn.Module) -> nn.Sequential:
        return nn.Sequential(nn.Linear(N_IN, N), cell)

    yield "LIF", chain(LIFCell(0.9, 0.5, reset="zero"))
    strong = nn.Linear(N_IN, N)
    with torch.no_grad():
        strong.weight.mul_(2)  # membranes well above threshold, where the resets differ
    yield "LIF, reset=subtract", nn.Sequential(strong, LIFCell(0.9, 0.5))
    yield "CubaLIF", chain(SynapticCell(0.8, 0.9, 0.5, reset="zero"))
    yield "IF", chain(IFCell(0.5, reset="zero"))
    yield "LIF + recurrent Linear (subgraph)", chain(RecurrentLIFCell(N, 0.9, 0.5, reset="zero"))


def _step(module: Callable[..., Any], x: Tensor) -> Tensor:
    state, outputs = None, []
    for step in x:
        output, state = module(step, state)
        outputs.append(output)
    return torch.stack(outputs).detach().float()


def _snntorch(graph: Any, dt: float) -> Tensor | Callable[[Tensor], Tensor]:
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    module = import_from_nir(graph)

    def run(x: Tensor) -> Tensor:
        snntorch.utils.reset(module)
        return _step(module, x)

    return run


def _norse(graph: Any, dt: float) -> Callable[[Tensor], Tensor]:
    import norse.torch as norse

    module = norse.from_nir(graph, dt=dt)
    return lambda x: _step(module, x)


PEERS: dict[str, Callable[[Any, float], Callable[[Tensor], Tensor]]] = {
    "snnTorch 1.0": _snntorch,  # type: ignore[dict-item]
    "Norse 1.1": _norse,
}


def _unit_r(graph: Any, dt: float) -> tuple[Any, float]:
    graph = copy.deepcopy(graph)
    for node in _neuron_nodes(graph):
        if hasattr(node, "r"):
            node.r = np.ones_like(node.r)
    return graph, dt


def _snntorch_dt(graph: Any, dt: float) -> tuple[Any, float]:
    return graph, 1e-4


def _no_metadata(graph: Any, dt: float) -> tuple[Any, float]:
    graph = copy.deepcopy(graph)
    for node in _neuron_nodes(graph):
        node.metadata = {}
    return graph, dt


#: One convention each: what a peer may do differently from this project's import.
CONVENTIONS: dict[str, Callable[[Any, float], tuple[Any, float]]] = {
    "ignores r (takes r = 1)": _unit_r,
    "assumes dt = 1e-4": _snntorch_dt,
    "resets to v_reset (ignores the reset in metadata)": _no_metadata,
}


def _variants(graph: Any, dt: float) -> Iterator[tuple[str, Any, float]]:
    """This project's import under one changed convention, then under two."""
    names = list(CONVENTIONS)
    for name in names:
        yield (name, *CONVENTIONS[name](graph, dt))
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            changed, changed_dt = CONVENTIONS[second](*CONVENTIONS[first](graph, dt))
            yield f"{first} and {second}", changed, changed_dt


def _neuron_nodes(graph: Any) -> Iterator[Any]:
    for node in graph.nodes.values():
        if type(node).__name__ == "NIRGraph":
            yield from _neuron_nodes(node)
        elif hasattr(node, "v_threshold"):
            yield node


def _ours(graph: Any, dt: float, x: Tensor) -> Tensor:
    with torch.no_grad():
        return from_nir(graph, dt=dt)(x).float()


def _row(name: str, model: nn.Module, dt: float, peer: str, x: Tensor) -> InteropRow:
    graph = to_nir(model, dt=dt)
    ours = _ours(graph, dt, x)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = PEERS[peer](graph, dt)(x)
    except Exception as error:  # a peer that refuses the graph is a result, not a crash
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return InteropRow(name, dt, peer, "error", f"{type(error).__name__}: {message}"[:90])
    if theirs.shape == ours.shape and torch.equal(theirs, ours):
        return InteropRow(name, dt, peer, "agree", f"{int(ours.sum())} spikes")
    counts = f"{int(theirs.sum())} spikes, this project {int(ours.sum())}"
    if not bool(theirs.any()):
        return InteropRow(name, dt, peer, "differ", f"{counts} (silent: no cause to tell)")
    for cause, variant, variant_dt in _variants(graph, dt):
        if theirs.shape == ours.shape and torch.equal(theirs, _ours(variant, variant_dt, x)):
            return InteropRow(name, dt, peer, "differ", f"{counts}; {cause}")
    return InteropRow(name, dt, peer, "differ", f"{counts}; no one or two conventions explain it")


def interop_rows(peers: tuple[str, ...] = tuple(PEERS)) -> list[InteropRow]:
    """Every (node type, dt, peer) comparison, on one fixed random input."""
    torch.manual_seed(0)
    models = list(_models())  # built before any peer draws from the global generator
    x = torch.rand(STEPS, BATCH, N_IN, generator=torch.Generator().manual_seed(1)) < 0.5
    return [
        _row(name, model, dt, peer, x.float())
        for dt in DTS
        for name, model in models
        for peer in peers
    ]


def markdown_table(rows: list[InteropRow]) -> str:
    """One line per node type and dt, one column per peer."""
    peers = list(dict.fromkeys(row.peer for row in rows))
    lines = [
        "| Exported node | dt | " + " | ".join(peers) + " |",
        "|---|---|" + "---|" * len(peers),
    ]
    keys = list(dict.fromkeys((row.node, row.dt) for row in rows))
    for node, dt in keys:
        cells = []
        for peer in peers:
            (row,) = [r for r in rows if (r.node, r.dt, r.peer) == (node, dt, peer)]
            cells.append(row.outcome + (f": {row.detail}" if row.detail else ""))
        lines.append(f"| {node} | {dt:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
