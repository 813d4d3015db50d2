"""The torch modules an imported NIR graph is built from, and the graph that steps them.

Nodes without a project counterpart become :class:`ContinuousNeuron` (any NIR neuron,
discretised by :mod:`.discretisation`), :class:`Scale`, :class:`Threshold` or
:class:`Delay` (pooling lives in :mod:`.nir_layers`);
:class:`NIRModule` runs the nodes of a (possibly recurrent) graph one time step at a time:
a node's input is the sum of its incoming edges, and an edge that closes a cycle carries
the previous step's value (zero at the first step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..core.callforms import atan_surrogate
from ..neurons.base import SpikingCell, SurrogateCallable, check_reset, check_surrogate, reset_to
from ..neurons.neuron import Neuron

__all__ = [
    "STATEFUL",
    "ContinuousNeuron",
    "Delay",
    "NIRModule",
    "NeuronNode",
    "Scale",
    "Threshold",
]


def _buffer(module: nn.Module, name: str, value: Any) -> None:
    module.register_buffer(name, torch.as_tensor(value, dtype=torch.float64))


class Scale(nn.Module):
    """NIR ``Scale``: ``y(t) = x(t) * s`` element-wise (a Hadamard product)."""

    scale: Tensor

    def __init__(self, scale: Any) -> None:
        super().__init__()
        _buffer(self, "scale", scale)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale.to(x.dtype)


class Threshold(nn.Module):
    """NIR ``Threshold``: ``z = 1 if x > threshold else 0``, a spike without state.

    Runs as ``surrogate(x - threshold)``: a Heaviside forward (``x - threshold > 0``, the
    spec's strict comparison) with the surrogate's gradient.
    """

    threshold: Tensor

    def __init__(self, threshold: Any, surrogate_fn: SurrogateCallable | None = None) -> None:
        super().__init__()
        _buffer(self, "threshold", threshold)
        self.surrogate_fn = check_surrogate(surrogate_fn or atan_surrogate)

    def forward(self, x: Tensor) -> Tensor:
        return self.surrogate_fn(x - self.threshold.to(x.dtype))


class ContinuousNeuron(nn.Module):
    """One NIR neuron node as a discrete step; ``forward(I, i_syn, v) -> (out, i_syn, v)``.

    ``i_syn = syn_decay*i_syn + syn_gain*I`` (when ``synaptic``), then
    ``v = decay*v + gain*drive + bias`` with ``drive`` = ``i_syn`` or ``I``; a firing node
    spikes through ``surrogate_fn(v - threshold)`` and resets as ``reset`` says (NIR's
    ``"zero"``: to ``v_reset``; detached, as the cells); ``out`` is the spike, or ``v`` for
    a leaky integrator.  ``node`` is the NIR type and ``nir_params`` its original
    parameters (kept so a re-export is exact).
    """

    def __init__(
        self,
        node: str,
        nir_params: dict[str, Any],
        step: Any,
        synapse: Any | None,
        threshold: Any | None,
        v_reset: Any | None,
        surrogate_fn: SurrogateCallable | None = None,
        reset: str = "zero",
    ) -> None:
        super().__init__()
        self.reset = check_reset(reset)
        self.node, self.nir_params = node, dict(nir_params)
        self.synaptic, self.fires = synapse is not None, threshold is not None
        _buffer(self, "decay", step.decay)
        _buffer(self, "gain", step.gain)
        _buffer(self, "bias", step.bias)
        if synapse is not None:
            _buffer(self, "syn_decay", synapse.decay)
            _buffer(self, "syn_gain", synapse.gain)
        if threshold is not None:
            _buffer(self, "threshold", threshold)
            _buffer(self, "v_reset", v_reset)
        self.surrogate_fn = check_surrogate(surrogate_fn or atan_surrogate)

    def forward(
        self, x: Tensor, i_syn: Tensor | None = None, v: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        def value(name: str) -> Tensor:
            return getattr(self, name).to(x.dtype)

        drive = x
        i_new = torch.zeros_like(x) if i_syn is None else i_syn
        if self.synaptic:
            i_new = value("syn_decay") * i_new + value("syn_gain") * x
            drive = i_new
        v = torch.zeros_like(drive) if v is None else v
        v = value("decay") * v + value("gain") * drive + value("bias")
        if not self.fires:
            return v, i_new, v
        threshold = value("threshold")
        spike = self.surrogate_fn(v - threshold)
        if spike.dtype != x.dtype:  # the state's dtype is promoted; spikes follow the input
            spike = spike.to(x.dtype)
        if self.reset == "zero":
            return spike, i_new, reset_to(v, spike, value("v_reset"))
        if self.reset == "subtract":
            return spike, i_new, v - spike.detach() * threshold
        return spike, i_new, v

    def extra_repr(self) -> str:
        return f"node={self.node!r}, fires={self.fires}, synaptic={self.synaptic}"


class Delay(nn.Module):
    """NIR ``Delay``: ``y(t) = x(t - tau)`` with ``tau`` per element, in whole steps of
    ``dt`` (``x`` is zero before the first step).

    ``forward(x, history) -> (y, history)``: ``history[k]`` is the input ``k`` steps ago.
    """

    steps: Tensor
    delay: Tensor

    def __init__(self, delay: Any, steps: Any) -> None:
        super().__init__()
        _buffer(self, "delay", delay)  # as the file gave it (seconds), for a re-export
        self.register_buffer("steps", torch.as_tensor(np.asarray(steps, dtype=np.int64)))

    def forward(self, x: Tensor, history: Tensor | None = None) -> tuple[Tensor, Tensor]:
        longest = int(self.steps.max()) if self.steps.numel() else 0
        if history is None:
            history = x.new_zeros((longest + 1, *x.shape))
        history = torch.cat([x.unsqueeze(0), history[:-1]])
        index = self.steps.expand(x.shape).unsqueeze(0)
        return history.gather(0, index).squeeze(0), history


class NeuronNode(Neuron):
    """A :class:`~sc_neurocore.neurons.Neuron` layer stepped by :class:`NIRModule` one time
    step at a time: ``forward(x (batch, ...), *states) -> (out, *states)`` (states in the
    spec's order; none at the first step: they start at zero)."""

    def forward(self, x: Tensor, *states: Tensor) -> tuple[Tensor, ...]:  # type: ignore[override]
        initial = dict(zip(self.spec.states, states))
        out, finals = super().forward(x.unsqueeze(0), initial or None)
        return (out[0], *finals.values())


#: Node modules that carry state from step to step: ``m(x, *state) -> (out, *state)``.
STATEFUL = (SpikingCell, ContinuousNeuron, Delay, NeuronNode)


class NIRModule(nn.Module):
    """An imported graph: ``forward(x (T, batch, ...)) -> (T, batch, ...)`` of its output.

    ``order`` lists the node names in evaluation order; ``edges`` are ``(source, target)``
    pairs; ``inputs``/``outputs`` name the Input and Output nodes.  With several outputs
    the result is a tuple in the order of ``outputs``.
    """

    def __init__(
        self,
        nodes: dict[str, nn.Module],
        edges: Sequence[tuple[str, str]],
        order: Sequence[str],
        inputs: Sequence[str],
        outputs: Sequence[str],
        graph_metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.nodes = nn.ModuleDict({_key(name): module for name, module in nodes.items()})
        self.names = {name: _key(name) for name in nodes}
        self.edges, self.order = list(edges), list(order)
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.graph_metadata = dict(graph_metadata or {})
        position = {name: index for index, name in enumerate(self.order)}
        #: target -> [(source, from the previous step?)]
        self.sources: dict[str, list[tuple[str, bool]]] = {name: [] for name in self.order}
        for source, target in self.edges:
            self.sources[target].append((source, position[source] >= position[target]))

    def node(self, name: str) -> nn.Module:
        return self.nodes[self.names[name]]

    def forward(self, x: Tensor, *extra: Tensor) -> Tensor | tuple[Tensor, ...]:
        feeds = dict(zip(self.inputs, (x, *extra)))
        steps = x.shape[0]
        state: dict[str, tuple[Tensor, ...]] = {}
        previous = self._at_rest(x)
        recorded: dict[str, list[Tensor]] = {name: [] for name in self.outputs}
        for t in range(steps):
            current: dict[str, Tensor] = {}
            for name in self.order:
                if name in feeds:
                    current[name] = feeds[name][t]
                    continue
                terms = [
                    (previous if delayed else current).get(source)
                    for source, delayed in self.sources[name]
                ]
                present = [term for term in terms if term is not None]
                if not present:  # only fed back by neurons at rest (zero), at the first step
                    continue
                total = present[0]
                for term in present[1:]:
                    total = total + term
                module = self.node(name)
                if isinstance(module, STATEFUL):
                    out, *new_state = module(total, *state.get(name, ()))
                    state[name] = tuple(new_state)
                    current[name] = out
                else:
                    current[name] = module(total)
            for name in self.outputs:
                recorded[name].append(current[name])
            previous = current
        results = tuple(torch.stack(recorded[name]) for name in self.outputs)
        return results[0] if len(results) == 1 else results

    def _at_rest(self, x: Tensor) -> dict[str, Tensor]:
        """What a fed-back edge carries into the first step: the output of its stateless
        source for zero input (an Affine's bias: NIR's nodes all start at t=0, so a
        recurrent Affine adds its bias from the first step on); neurons at rest give 0."""
        shapes = self.graph_metadata.get("shapes", {})
        fed_back = {s for sources in self.sources.values() for s, delayed in sources if delayed}
        rest = {}
        for name in fed_back - set(self.inputs):
            module = self.node(name)
            if not isinstance(module, STATEFUL) and name in shapes:
                rest[name] = module(x.new_zeros((x.shape[1], *shapes[name])))
        return rest


def _key(name: str) -> str:
    """A ModuleDict key for a (possibly dotted) node name."""
    return name.replace(".", "__")
