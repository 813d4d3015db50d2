"""``SpikingNet``: a feed-forward stack of Linear -> LIF layers over time-major input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .core.callforms import atan_surrogate
from .core.neuron_spec import NeuronSpec
from .core.settings import positive_int
from .core.spec import check_like
from .neurons.base import SurrogateCallable, check_surrogate
from .neurons.cells import LIFCell
from .neurons.membrane import membrane_sum
from .neurons.neuron import Neuron

__all__ = ["SpikingNet"]


# Every cell spells its arguments out (no **kwargs), so its signature, help() and the
# API reference show them (the layers' own arguments, repeated on purpose).
class SpikingNet(nn.Module):
    """``n_layers`` Linear layers, each followed by LIF neurons; input ``(T, batch, n_input)``.

    Returns ``(spike_counts, membrane_sum)`` of the output layer, both ``(batch, n_output)``:
    the spikes and the (post-reset) membrane potential summed over time.

    Feed-forward layers do not depend on later layers, so each Linear runs once on the
    whole sequence ``(T, batch, n)`` and only the neurons step through time.  With
    ``fused=True`` every layer uses the fused multi-step ``LIF`` of
    :mod:`sc_neurocore.neurons.fused` (same equations, one op per layer), and the output's
    membrane sum comes from its closed form (:func:`~sc_neurocore.neurons.membrane.membrane_sum`):
    spike counts are identical to the stepped network's, the membrane sum agrees to
    floating-point rounding (its terms are added in another order).
    ``reset`` and ``v_reset`` apply to every layer's neurons (see :class:`LIFCell`).
    The ``state_dict`` has the same keys either way and records no path, so a model
    trained one way loads the other way.

    ``neuron`` (a registered neuron name such as ``"alif"``, or a
    :class:`~sc_neurocore.NeuronSpec`) builds the hidden layers from
    :class:`~sc_neurocore.neurons.Neuron` instead of LIF: fused where the surrogate is a
    registered one, with ``beta``, ``threshold``, ``reset``, ``v_reset`` and the
    ``learn_*`` flags passed on to the params the spec has, and ``neuron_params`` for its
    other params; the output layer stays LIF, whose membrane sum is the readout.
    """

    def __init__(
        self,
        n_input: int,
        n_hidden: int,
        n_output: int,
        n_layers: int = 2,
        beta: float = 0.9,
        surrogate_fn: SurrogateCallable | None = None,
        threshold: float = 1.0,
        fused: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        reset: str = "subtract",
        v_reset: float = 0.0,
        neuron: str | NeuronSpec | None = None,
        neuron_params: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        sizes = [positive_int("n_input", n_input)]
        sizes += [positive_int("n_hidden", n_hidden)] * (positive_int("n_layers", n_layers) - 1)
        sizes.append(positive_int("n_output", n_output))
        surrogate = check_surrogate(atan_surrogate if surrogate_fn is None else surrogate_fn)
        options: dict[str, Any] = dict(
            beta=beta,
            threshold=threshold,
            surrogate_fn=surrogate,
            learn_beta=learn_beta,
            learn_threshold=learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )
        hidden_neuron: Any = _fused_lif() if fused else LIFCell
        if neuron is not None:
            hidden_neuron = _spec_layer(neuron, options, neuron_params or {})
        elif neuron_params:
            raise ValueError(
                f"SpikingNet: neuron_params={neuron_params!r} needs neuron= (the params of LIF "
                "are beta and threshold)"
            )
        self.fused = bool(fused)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.neurons = nn.ModuleList(hidden_neuron(**options) for _ in range(n_layers - 1))
        self.stepped = neuron is None and not self.fused
        # The output layer's membrane sum has a closed form only for the subtractive reset.
        self.fused_output = self.fused and options.get("reset", "subtract") == "subtract"
        output_neuron = _fused_lif() if self.fused_output else LIFCell
        self.neurons.append(output_neuron(**options))

    @property
    def surrogate_fn(self) -> SurrogateCallable:
        return self.neurons[-1].surrogate_fn  # type: ignore[return-value]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            what = x.dtype if isinstance(x, Tensor) else type(x).__name__
            raise TypeError(f"SpikingNet: x must be a floating-point torch.Tensor, got {what}")
        # The dtype is left to nn.Linear: under torch.autocast a mismatch is legitimate.
        weight: Tensor = self.layers[0].weight  # type: ignore[assignment]
        check_like("SpikingNet", "x", x, weight, "the parameters", dtype=False)
        spikes = x
        for layer, neuron in zip(self.layers[:-1], self.neurons[:-1]):
            current = layer(spikes)
            spikes = _step(neuron, current) if self.stepped else neuron(current)[0]
        current = self.layers[-1](spikes)
        output: Any = self.neurons[-1]
        if self.fused_output:
            spikes = output(current)[0]
            return spikes.sum(0), membrane_sum(current, spikes, output.beta, output.threshold)
        return _step_and_sum(output, current)

    def extra_repr(self) -> str:
        return f"fused={self.fused}"


def _step(neuron: nn.Module, current: Tensor) -> Tensor:
    """Run a single-step cell over ``current`` (T, ...) and stack its spikes."""
    v = None
    spikes = []
    for step in current.unbind(0):
        spike, v = neuron(step, v)
        spikes.append(spike)
    return torch.stack(spikes)


def _step_and_sum(neuron: nn.Module, current: Tensor) -> tuple[Tensor, Tensor]:
    """Run a single-step cell over ``current`` (T, ...); sum spikes and membranes over time."""
    steps = current.unbind(0)
    counts, v = neuron(steps[0])
    membrane = v
    for step in steps[1:]:
        spike, v = neuron(step, v)
        counts = counts + spike
        membrane = membrane + v
    return counts, membrane


def _spec_layer(
    neuron: str | NeuronSpec, options: dict[str, Any], extra: dict[str, float]
) -> Callable[..., nn.Module]:
    """A factory of ``Neuron(neuron, ...)`` layers that takes SpikingNet's LIF options,
    passing on those the spec has a param for (an option it lacks keeps its default)."""
    spec = Neuron(neuron).spec  # the registry's spec of a name, checked by the layer
    if not spec.spiking:
        raise ValueError(
            f"SpikingNet: neuron={spec.name!r} does not spike (a readout); the hidden layers "
            "need a spiking neuron"
        )
    names = set(spec.param_names)
    if options["reset"] == "zero":
        names.add("v_reset")
    unknown = sorted(set(extra) - names)
    if unknown:
        raise ValueError(
            f"SpikingNet: neuron_params names {unknown[0]!r}, not a param of neuron "
            f"{spec.name!r} {spec.param_names}"
        )

    def make(**options: Any) -> nn.Module:
        given: dict[str, Any] = {
            n: options[n] for n in ("beta", "threshold", "v_reset") if n in names
        }
        given.update(extra)
        learn = [n for n in ("beta", "threshold") if n in names and options[f"learn_{n}"]]
        return Neuron(
            spec,
            options["surrogate_fn"],
            learn=learn,
            reset=options["reset"],
            **given,
        )

    return make


def _fused_lif() -> type[nn.Module]:
    try:
        from .neurons.fused import LIF
    except ImportError as error:
        raise ImportError(
            f"SpikingNet(fused=True) needs sc_neurocore.neurons.fused.LIF: {error}"
        ) from error
    return LIF  # type: ignore[no-any-return]
