"""An independent NumPy simulator of NIR graphs, written from NIR's equations (not from
the project's cells): forward Euler with time step dt, per step integrate, fire, reset.

Node values are evaluated when all their sources are known; when no node is ready (a
cycle), the first waiting node with a known source runs with the previous step's value
of the others (zero at the first step).  Subgraphs are not supported here (the tests
build recurrent graphs flat).
"""

from __future__ import annotations

from typing import Any

import numpy as np

NEURONS = ("LIF", "LI", "IF", "I", "CubaLIF", "CubaLI")


def _neuron_step(node: Any, kind: str, state: dict[str, np.ndarray], x: np.ndarray, dt: float):
    v = state.get("v", np.zeros_like(x))
    drive = x
    if kind.startswith("Cuba"):
        i_syn = state.get("i", np.zeros_like(x))
        i_syn = i_syn + dt / node.tau_syn * (-i_syn + node.w_in * x)
        state["i"] = i_syn
        drive = i_syn
    if kind in ("LIF", "LI"):
        v = v + dt / node.tau * (node.v_leak - v + node.r * drive)
    elif kind in ("CubaLIF", "CubaLI"):
        v = v + dt / node.tau_mem * (node.v_leak - v + node.r * drive)
    else:  # IF, I
        v = v + dt * node.r * drive
    state["v_pre"] = v
    if kind in ("LIF", "IF", "CubaLIF"):
        z = (v > node.v_threshold).astype(np.float64)
        state["v"] = np.where(z > 0, node.v_reset, v)
        return z
    state["v"] = v
    return v


def _stateless(node: Any, kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "Affine":
        return x @ node.weight.T + node.bias
    if kind == "Linear":
        return x @ node.weight.T
    if kind == "Scale":
        return x * node.scale
    if kind == "Threshold":
        return (x > node.threshold).astype(np.float64)
    if kind in ("Input", "Output"):
        return x
    raise NotImplementedError(kind)


def simulate(graph: Any, x: np.ndarray, dt: float) -> tuple[np.ndarray, dict[str, list]]:
    """Run ``graph`` on ``x`` (T, batch, ...) from rest; ``(output sequence, states)``
    where ``states[name]`` lists each step's state dict of a neuron node."""
    names = list(graph.nodes)
    sources: dict[str, list[str]] = {name: [] for name in names}
    for source, target in graph.edges:
        sources[target].append(source)
    (input_name,) = [n for n in names if type(graph.nodes[n]).__name__ == "Input"]
    (output_name,) = [n for n in names if type(graph.nodes[n]).__name__ == "Output"]
    state: dict[str, dict[str, np.ndarray]] = {name: {} for name in names}
    history: dict[str, list] = {name: [] for name in names}
    previous: dict[str, np.ndarray] = {}
    outputs = []
    for t in range(x.shape[0]):
        done = {input_name: x[t]}
        while len(done) < len(names):
            ready = [n for n in names if n not in done and all(s in done for s in sources[n])]
            if not ready:
                ready = [n for n in names if n not in done and any(s in done for s in sources[n])][
                    :1
                ]
            name = ready[0]
            terms = [done[s] if s in done else previous.get(s) for s in sources[name]]
            total = sum(term for term in terms if term is not None)
            node = graph.nodes[name]
            kind = type(node).__name__
            if kind in NEURONS:
                done[name] = _neuron_step(node, kind, state[name], total, dt)
                history[name].append(dict(state[name]))
            else:
                done[name] = _stateless(node, kind, total)
        outputs.append(done[output_name])
        previous = done
    return np.stack(outputs), history
