"""Recurrent cells: a cell of :mod:`.cells` whose input adds a linear map of its own
previous spikes (``self.recurrent``, ``nn.Linear(n_neurons, n_neurons, bias=False)``).

The spikes are state like the membrane: ``forward(input, spike, *state)``, ``spike=None``
(the first step) adds nothing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..core.settings import positive_int
from .base import SurrogateCallable
from .cells import LIFCell, SynapticCell
from .dtypes import check_state

__all__ = ["RecurrentLIFCell", "RecurrentSynapticCell"]


def _recurrent_layer(n_neurons: int) -> nn.Linear:
    return nn.Linear(positive_int("n_neurons", n_neurons), n_neurons, bias=False)


def _with_recurrence(cell: nn.Module, input_current: Tensor, spike: Tensor | None) -> Tensor:
    """``input_current`` plus ``cell.recurrent`` of the previous spikes (none at the first step).

    The spikes go in the recurrent weight's dtype (0 and 1 are exact in any), unless autocast
    chooses the matmul's dtype itself: a bf16 spike state meets an fp32 weight.
    """
    if spike is None:
        return input_current
    check_state(type(cell).__name__, "spike", spike, input_current)
    layer: nn.Linear = cell.recurrent  # type: ignore[assignment]
    if spike.dtype != layer.weight.dtype and not torch.is_autocast_enabled(spike.device.type):
        spike = spike.to(layer.weight.dtype)
    return input_current + layer(spike)


# As in cells.py, every cell spells its arguments out (no **kwargs), so its signature,
# help() and the API reference show them: the two argument lists below repeat on purpose.
class RecurrentLIFCell(LIFCell):
    """LIF whose input adds a bias-free linear map of its previous spikes.

    ``v = beta*v + I + W @ spike_prev``; ``forward(input, spike, v) -> (spike, v)``, where
    ``W`` is ``self.recurrent`` (``nn.Linear(n_neurons, n_neurons, bias=False)``).
    """

    def __init__(
        self,
        n_neurons: int,
        beta: float | Tensor = 0.9,
        threshold: float | Tensor = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        recurrent = _recurrent_layer(n_neurons)
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self.recurrent = recurrent

    def forward(  # type: ignore[override]
        self, input_current: Tensor, spike: Tensor | None = None, v: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        return super().forward(_with_recurrence(self, input_current, spike), v)


class RecurrentSynapticCell(SynapticCell):
    """Current-based LIF whose current also integrates a linear map of its previous spikes.

    ``i = alpha*i + I + W @ spike_prev; v = beta*v + i``; ``forward(input, spike, i, v) ->
    (spike, i, v)``, ``W = self.recurrent`` (``nn.Linear(n_neurons, n_neurons, bias=False)``).
    """

    def __init__(
        self,
        n_neurons: int,
        alpha: float | Tensor = 0.9,
        beta: float | Tensor = 0.8,
        threshold: float | Tensor = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: float | Tensor = 0.0,
    ) -> None:
        recurrent = _recurrent_layer(n_neurons)
        super().__init__(
            alpha,
            beta,
            threshold,
            surrogate_fn,
            learn_alpha,
            learn_beta,
            learn_threshold,
            reset=reset,
            v_reset=v_reset,
        )
        self.recurrent = recurrent

    def forward(  # type: ignore[override]
        self,
        input_current: Tensor,
        spike: Tensor | None = None,
        i: Tensor | None = None,
        v: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        return super().forward(_with_recurrence(self, input_current, spike), i, v)
