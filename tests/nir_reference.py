"""An independent NumPy simulator of NIR graphs, written from NIR's equations (not from
the project's cells): forward Euler with time step dt, per step integrate, fire, reset;
convolutions and pools as explicit sums over (dilated, strided, zero-padded) windows
(numpy's sliding_window_view and einsum, not torch), delays as a list of past inputs.

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


def _pads(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple]:
    """(before, after) zeros per spatial dim; "same" puts the odd one after (torch's rule)."""
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str) and padding == "valid":
        return [(0, 0)] * len(kernel)
    if isinstance(padding, str) and padding == "same":
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [(t // 2, t - t // 2) for t in total]
    sizes = np.broadcast_to(np.atleast_1d(np.asarray(padding)), (len(kernel),))
    return [(int(p), int(p)) for p in sizes]


def _windows(x: np.ndarray, kernel, stride, dilation, pads) -> np.ndarray:
    """x (B, C, *spatial) -> (B, C, *out, *kernel): every dilated window, strided."""
    x = np.pad(x, [(0, 0), (0, 0), *pads])
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    axes = tuple(range(2, x.ndim))
    view = np.lib.stride_tricks.sliding_window_view(x, spans, axis=axes)
    picks = tuple(slice(None, None, s) for s in stride) + tuple(
        slice(None, None, d) for d in dilation
    )
    return view[(slice(None), slice(None), *picks)]


def _conv(node: Any, x: np.ndarray) -> np.ndarray:
    """y[o] = b[o] + sum over the group's input channels and kernel taps of w * x_window."""
    weight = np.asarray(node.weight)
    dims = weight.ndim - 2
    as_tuple = lambda v: tuple(int(i) for i in np.broadcast_to(np.atleast_1d(v), (dims,)))  # noqa: E731
    kernel, stride, dilation = weight.shape[2:], as_tuple(node.stride), as_tuple(node.dilation)
    windows = _windows(x, kernel, stride, dilation, _pads(node.padding, kernel, dilation))
    groups = int(node.groups)
    per_in, per_out = x.shape[1] // groups, weight.shape[0] // groups
    outs = []
    for g in range(groups):
        part = windows[:, g * per_in : (g + 1) * per_in]
        w = weight[g * per_out : (g + 1) * per_out]
        letters = "xyz"[:dims]
        spec = f"bc{letters}{letters.upper()},oc{letters.upper()}->bo{letters}"
        outs.append(np.einsum(spec, part, w))
    bias = np.asarray(node.bias).reshape(1, -1, *([1] * dims))
    return np.concatenate(outs, axis=1) + bias


def _pool(node: Any, x: np.ndarray, average: bool) -> np.ndarray:
    kernel = tuple(int(k) for k in np.broadcast_to(node.kernel_size, (2,)))
    stride = tuple(int(s) for s in np.broadcast_to(node.stride, (2,)))
    windows = _windows(x, kernel, stride, (1, 1), _pads(node.padding, kernel, (1, 1)))
    total = windows.sum(axis=(-2, -1))
    return total / (kernel[0] * kernel[1]) if average else total


def _flatten(node: Any, x: np.ndarray) -> np.ndarray:
    shape = x.shape[1:]
    start = node.start_dim % len(shape)
    end = node.end_dim % len(shape)
    merged = int(np.prod(shape[start : end + 1]))
    return x.reshape(x.shape[0], *shape[:start], merged, *shape[end + 1 :])


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
    if kind in ("Conv1d", "Conv2d"):
        return _conv(node, x)
    if kind in ("SumPool2d", "AvgPool2d"):
        return _pool(node, x, kind == "AvgPool2d")
    if kind == "Flatten":
        return _flatten(node, x)
    raise NotImplementedError(kind)


def _delay(node: Any, state: dict[str, Any], x: np.ndarray, dt: float) -> np.ndarray:
    """y(t) = x(t - delay): the input ``delay/dt`` steps ago, zero before the start."""
    past = state.setdefault("past", [])
    past.insert(0, x)
    lag = np.rint(np.asarray(node.delay) / dt).astype(int)
    out = np.zeros_like(x)
    for index in np.ndindex(lag.shape):
        if lag[index] < len(past):
            out[(slice(None), *index)] = past[lag[index]][(slice(None), *index)]
    return out


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
    # before the first step every node is at rest: neurons give 0, a stateless node its
    # output for zero input (an Affine its bias), which a fed-back edge carries into step 0
    previous: dict[str, np.ndarray] = {}
    for name in names:
        node, kind = graph.nodes[name], type(graph.nodes[name]).__name__
        if kind not in (*NEURONS, "Input", "Delay") and node.input_type.get("input") is not None:
            shape = tuple(np.asarray(node.input_type["input"]).tolist())
            previous[name] = _stateless(node, kind, np.zeros((x.shape[1], *shape)))
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
            elif kind == "Delay":
                done[name] = _delay(node, state[name], total, dt)
            else:
                done[name] = _stateless(node, kind, total)
        outputs.append(done[output_name])
        previous = done
    return np.stack(outputs), history
