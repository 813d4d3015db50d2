"""The spike-timing classifier of Zenke & Vogels (2021) and stork: one hidden layer of
current-based LIF neurons and a non-spiking leaky-integrator readout.

``inputs (T, batch, units) -> Linear -> current-based LIF -> Linear -> leaky integrator``;
``forward`` returns the readout membrane ``(T, batch, classes)`` (reduced to logits by the
loss: max, last or mean over time) and the hidden spikes (for the activity regulariser).

Execution: ``"fused"`` runs :class:`SynapticLIF` and :class:`LeakyIntegrator` (one
operator each per sequence); a registered path name (``custom_op``, ...) steps
:class:`SynapticCell` and :class:`LeakyIntegratorCell` with that path's surrogate, which is
what a comparison of paths measures. ``recurrent=True`` uses :class:`RecurrentSynapticCell`
(always stepwise). ``neuron`` (a registered neuron name, e.g. ``"alif"``) replaces the
hidden layer by :class:`~sc_neurocore.neurons.Neuron` of that spec (fused, or stepwise
for a path), given the config's ``alpha``/``beta``/``threshold`` where the spec has
those params. ``true_gradient=True`` detaches the hidden spikes: the gradient of the
step function is zero almost everywhere, so neither the error nor the activity bounds reach
the hidden layer (the "true gradient" control of the surrogate sweep); the readout still
learns.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..neurons.base import SurrogateCallable
from ..neurons.cells import SynapticCell
from ..neurons.integrator import LeakyIntegrator, LeakyIntegratorCell, leaky_sequence
from ..neurons.neuron import Neuron
from ..neurons.recurrent import RecurrentSynapticCell
from ..neurons.synaptic import SynapticLIF

__all__ = ["ClassifierConfig", "SpikingClassifier", "decay"]


def decay(dt: float, tau: float) -> float:
    """The per-step decay factor ``exp(-dt/tau)`` of a time constant ``tau``."""
    if not (dt > 0 and tau > 0):
        raise ValueError(f"decay: dt and tau must be > 0, got dt={dt!r}, tau={tau!r}")
    return math.exp(-dt / tau)


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of :class:`SpikingClassifier`; time constants in units of ``dt``."""

    hidden: int = 128
    dt_ms: float = 2.0
    tau_mem_ms: float = 20.0
    tau_syn_ms: float = 10.0
    tau_readout_ms: float = 200.0
    threshold: float = 1.0
    input_scale: float = 3.0  # std of the input weights times sqrt(fan-in)
    output_scale: float = 1.0  # std of the readout weights times sqrt(fan-in)
    recurrent: bool = False
    neuron: str | None = None  # a registered neuron for the hidden layer; None: cuba LIF

    def as_dict(self) -> dict[str, object]:
        fields = asdict(self)
        if self.neuron is None:  # a run's key stays what it was before neurons were named
            del fields["neuron"]
        return fields


class SpikingClassifier(nn.Module):
    """See the module docstring; ``forward(inputs) -> (readout_membrane, hidden_spikes)``."""

    def __init__(
        self,
        units: int,
        classes: int,
        surrogate_fn: SurrogateCallable,
        config: ClassifierConfig | None = None,
        execution: str = "fused",
        true_gradient: bool = False,
    ) -> None:
        super().__init__()
        config = ClassifierConfig() if config is None else config
        self.config, self.execution, self.true_gradient = config, execution, bool(true_gradient)
        alpha = decay(config.dt_ms, config.tau_syn_ms)
        beta = decay(config.dt_ms, config.tau_mem_ms)
        readout_beta = decay(config.dt_ms, config.tau_readout_ms)
        self.input = nn.Linear(units, config.hidden, bias=False)
        self.output = nn.Linear(config.hidden, classes, bias=False)
        nn.init.normal_(self.input.weight, 0.0, config.input_scale / math.sqrt(units))
        nn.init.normal_(self.output.weight, 0.0, config.output_scale / math.sqrt(config.hidden))
        neuron: dict[str, Any] = dict(
            alpha=alpha, beta=beta, threshold=config.threshold, surrogate_fn=surrogate_fn
        )
        self.hidden: nn.Module
        if config.neuron is not None:
            self.hidden = _spec_hidden(config, execution, neuron)
        elif config.recurrent:
            self.hidden = RecurrentSynapticCell(config.hidden, **neuron)
            nn.init.normal_(self.hidden.recurrent.weight, 0.0, 0.1 / math.sqrt(config.hidden))
        elif execution == "fused":
            self.hidden = SynapticLIF(**neuron)
        else:
            self.hidden = SynapticCell(**neuron)
        fused_readout = execution == "fused"
        self.readout = (LeakyIntegrator if fused_readout else LeakyIntegratorCell)(readout_beta)

    def _hidden_spikes(self, inputs: Tensor) -> Tensor:
        if isinstance(self.hidden, Neuron):
            return self.hidden(self.input(inputs))[0]
        if isinstance(self.hidden, SynapticLIF):
            # The synaptic filter is linear and the input layer too, so filter the inputs
            # (units wide, no gradient needed) instead of the hidden current (hidden wide).
            filtered = leaky_sequence(inputs, None, self.hidden.alpha)
            return self.hidden.from_current(self.input(filtered))[0]
        current = self.input(inputs)
        spikes, state, previous = [], (None, None), None
        for drive in current.unbind(0):  # unbind: one view per step, no per-step zero-fill
            if isinstance(self.hidden, RecurrentSynapticCell):
                previous, i, v = self.hidden(drive, previous, *state)
            else:
                previous, i, v = self.hidden(drive, *state)
            state = (i, v)
            spikes.append(previous)
        return torch.stack(spikes)

    def forward(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        spikes = self._hidden_spikes(inputs)
        if self.true_gradient:  # for the readout and the activity bounds alike
            spikes = spikes.detach()
        drive = self.output(spikes)
        if isinstance(self.readout, LeakyIntegrator):
            return self.readout(drive), spikes
        membrane, outputs = None, []
        for step in drive.unbind(0):
            membrane = self.readout(step, membrane)
            outputs.append(membrane)
        return torch.stack(outputs), spikes


def _spec_hidden(config: ClassifierConfig, execution: str, values: dict[str, Any]) -> Neuron:
    """The hidden layer as ``Neuron(config.neuron)``, given the params the spec has."""
    from ..core.registry import get_neuron_spec

    spec = get_neuron_spec(str(config.neuron))
    if config.recurrent or not spec.spiking:
        why = "has no recurrent form" if config.recurrent else "does not spike (a readout)"
        raise ValueError(f"ClassifierConfig: neuron={spec.name!r} {why}")
    given = {n: values[n] for n in ("alpha", "beta", "threshold") if n in spec.param_names}
    fused = None if execution == "fused" else False  # a path's run steps it
    return Neuron(spec, values["surrogate_fn"], fused=fused, **given)
