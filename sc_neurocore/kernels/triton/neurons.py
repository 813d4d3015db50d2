"""The per-step update of each fused neuron, as the small template the Triton generator fills in.

A fused multi-step neuron differs from another only in a few lines per time step; the
kernel skeleton (load, loop over time, store, the reverse walk of the backward, the
parameter-gradient sums) is shared and lives in :mod:`.fused_source`.  A template names:

- ``integrate``: the pre-reset membrane ``h`` from the carried state ``v``, the input ``x``
  and the decay ``beta`` (``LIFCell``'s ``beta * v + x`` as one fused multiply-add, the
  operation torch's ``add(alpha=)`` and the compiled C kernels perform);
- ``reset``: the state after a spike (``spike`` is 0 or 1, detached, as in the cells);
- ``dv_dh`` and ``dv_dthreshold``: the derivatives of ``reset`` with respect to ``h`` and
  ``threshold`` with the spike held fixed, which is all the closed-form backward needs.

The spike is always ``h > threshold`` and its gradient the surrogate ``g(h - threshold)``.
Everything is written over Triton values in the compute dtype ``COMPUTE``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LEAKY", "RESETS", "NeuronTemplate", "lif_template"]


@dataclass(frozen=True)
class NeuronTemplate:
    """One fused neuron's step, as Triton expressions of ``h``, ``v``, ``x``, ``spike`` and the
    parameters ``beta``, ``threshold`` (and ``v_reset`` where the reset uses it)."""

    name: str
    integrate: str
    reset: str
    dv_dh: str
    dv_dthreshold: str
    #: False: no spike, the per-step output is the membrane itself (a leaky integrator);
    #: its gradient enters the membrane directly instead of through the surrogate.
    spiking: bool = True

    @property
    def key(self) -> str:
        """What distinguishes this template's generated source from another's."""
        fields = (self.name, self.integrate, self.reset, self.dv_dh, self.dv_dthreshold)
        return "|".join((*fields, str(self.spiking)))


#: reset mode -> (state after a spike, d state / d h, d state / d threshold), spike fixed.
RESETS: dict[str, tuple[str, str, str]] = {
    # v = h - spike * threshold: the membrane keeps what exceeded the threshold
    "subtract": ("h - spike * threshold", "1.0", "-spike"),
    # v = v_reset where it spiked, h elsewhere
    "zero": ("tl.where(spike > 0, v_reset, h)", "1.0 - spike", "0.0"),
    # no reset: the membrane only leaks
    "none": ("h", "1.0", "0.0"),
}


def lif_template(reset: str = "subtract") -> NeuronTemplate:
    """The fused ``LIF`` (``LIFCell``'s equations) with the given reset mode."""
    if reset not in RESETS:
        raise ValueError(f"LIF: reset must be one of {sorted(RESETS)}, got {reset!r}")
    after, dv_dh, dv_dthreshold = RESETS[reset]
    return NeuronTemplate(
        name=f"lif_{reset}",
        integrate="tl.fma(beta, v, x)",
        reset=after,
        dv_dh=dv_dh,
        dv_dthreshold=dv_dthreshold,
    )


#: The leaky integrator ``y = beta * y + x`` (``LeakyIntegrator``, the synaptic current of
#: ``SynapticLIF``): the LIF's integration with no spike and no reset.
LEAKY = NeuronTemplate(
    name="leaky",
    integrate="tl.fma(beta, v, x)",
    reset="h",
    dv_dh="1.0",
    dv_dthreshold="0.0",
    spiking=False,
)
