"""``SynapticLIF``: the current-based LIF (``SynapticCell``) fused over a whole sequence.

Per step, exactly :class:`~sc_neurocore.training.SynapticCell`::

    i_t = alpha * i_{t-1} + x_t          (synaptic current: a leaky integrator)
    v_t = beta * v_{t-1} + i_t, spike on v_t - threshold, reset

The current depends on the input alone, so it is one linear filter of the whole
sequence, computed once by the fused leaky-integrator operator; the membrane and the
spikes are then the fused LIF operator on that current. Both operators have closed-form
backward passes (the LIF's through the surrogate of the registered spec, the filter's in
reverse time), so the chain rule through the two is the closed-form BPTT of the cell:
``dL/dx_t = dL/di_t = dL/dh_t + alpha * dL/di_{t+1}``. :meth:`SynapticLIF.from_current`
takes a current filtered by the caller (a linear input layer commutes with the filter).
Which callables run fused, the compiled kernels and the stepwise fallback are those of
:class:`~sc_neurocore.neurons.fused.LIF`.
"""

from __future__ import annotations

from torch import Tensor

from ..core.compat import transforms_active as _transforms_active
from .base import SurrogateCallable, Value, decay_attribute
from .dtypes import broadcast_to_state
from .fused import LIF, check_arguments, is_compiling
from .integrator import check_sequence, leaky_sequence

__all__ = ["SynapticLIF"]


# Every cell spells its arguments out (no **kwargs), so its signature, help() and the
# API reference show them; the checks those arguments share live in neurons/base.py.
class SynapticLIF(LIF):
    """Multi-step current-based LIF: ``forward(inputs (T, batch, ...), i0=None, v0=None)``
    returns ``(spikes, i_T, v_T)``.

    Arguments and learnable parameters (``alpha_logit``, ``beta_logit``, ``threshold_log``)
    are those of :class:`~sc_neurocore.training.SynapticCell`, so state dicts interchange.
    """

    alpha = decay_attribute("alpha")
    repr_fields = ("alpha", "beta", "threshold")
    neurons = ("lif", "cuba_lif")  # from_current runs the LIF on a filtered current

    def __init__(
        self,
        alpha: Value = 0.9,
        beta: Value = 0.8,
        threshold: Value = 1.0,
        surrogate_fn: SurrogateCallable | None = None,
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        *,
        reset: str = "subtract",
        v_reset: Value = 0.0,
    ) -> None:
        super().__init__(
            beta, threshold, surrogate_fn, learn_beta, learn_threshold, reset=reset, v_reset=v_reset
        )
        self._decay("alpha", alpha, learn_alpha)

    def forward(  # type: ignore[override]
        self, inputs: Tensor, i0: Tensor | None = None, v0: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        if isinstance(inputs, Tensor) and inputs.dim() >= 2 and isinstance(i0, Tensor):
            inputs = broadcast_to_state(inputs, i0)
        check_sequence("SynapticLIF", inputs, i0, "i0")
        if isinstance(v0, Tensor):
            inputs = broadcast_to_state(inputs, v0)
        beta, threshold, v_reset = self.beta, self.threshold, self.v_reset
        check_arguments(inputs, v0, beta, threshold, self.reset, v_reset)
        if not self._bound or (not is_compiling() and _transforms_active()):
            current = leaky_sequence(inputs, i0, self.alpha)
            spikes, v = self._stepwise(current, v0, beta, threshold)
            return spikes.to(inputs.dtype), current[-1], v
        params = [self.alpha, beta, threshold] + ([v_reset] if self.reset == "zero" else [])
        spikes, (v, i) = self._bound["cuba_lif", self.reset](inputs, [v0, i0], params)
        return spikes, i, v

    def from_current(self, current: Tensor, v0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(spikes, v_T)`` for a synaptic current already filtered with ``alpha``.

        The filter is linear, so ``leaky(W x) == W leaky(x)``: a caller whose input layer
        is a linear map can filter its narrower input once and skip this layer's filter.
        """
        return LIF.forward(self, current, v0)
