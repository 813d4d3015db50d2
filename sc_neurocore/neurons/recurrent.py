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


def _like_weight(spike: Tensor, layer: nn.Linear) -> Tensor:
    """The spikes in the recurrent weight's dtype (0 and 1 are exact in any), unless autocast
    chooses the matmul's dtype itself: a bf16 spike state meets an fp32 weight."""
    weight = layer.weight
    if spike.dtype == weight.dtype or torch.is_autocast_enabled(spike.device.type):
        return spike
    return spike.to(weight.dtype)


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
        positive_int("n_neurons", n_neurons)
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self.recurrent = nn.Linear(n_neurons, n_neurons, bias=False)

    def forward(  # type: ignore[override]
        self, input_current: Tensor, spike: Tensor | None = None, v: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if spike is not None:
            check_state(type(self).__name__, "spike", spike, input_current)
            input_current = input_current + self.recurrent(_like_weight(spike, self.recurrent))
        return super().forward(input_current, v)


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
        positive_int("n_neurons", n_neurons)
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
        self.recurrent = nn.Linear(n_neurons, n_neurons, bias=False)

    def forward(  # type: ignore[override]
        self,
        input_current: Tensor,
        spike: Tensor | None = None,
        i: Tensor | None = None,
        v: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        if spike is not None:
            input_current = input_current + self.recurrent(_like_weight(spike, self.recurrent))
        return super().forward(input_current, i, v)
