"""``SpikingNet``: a feed-forward stack of Linear -> LIF layers over time-major input."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .core.callforms import atan_surrogate
from .core.settings import positive_int
from .core.spec import check_like
from .neurons.base import SurrogateCallable, check_surrogate
from .neurons.cells import LIFCell
from .neurons.membrane import membrane_sum

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
        hidden_neuron = _fused_lif() if fused else LIFCell
        self.fused = bool(fused)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.neurons = nn.ModuleList(hidden_neuron(**options) for _ in range(n_layers - 1))
        # The output layer's membrane sum has a closed form only for the subtractive reset.
        self.fused_output = self.fused and options.get("reset", "subtract") == "subtract"
        self.neurons.append((hidden_neuron if self.fused_output else LIFCell)(**options))

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
            spikes = neuron(current)[0] if self.fused else _step(neuron, current)
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


def _fused_lif() -> type[nn.Module]:
    try:
        from .neurons.fused import LIF
    except ImportError as error:
        raise ImportError(
            f"SpikingNet(fused=True) needs sc_neurocore.neurons.fused.LIF: {error}"
        ) from error
    return LIF  # type: ignore[no-any-return]
