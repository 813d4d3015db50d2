"""Two neuron models added to sc-neurocore as a plugin: equations, nothing else.

Installing this distribution registers them through the ``sc_neurocore.plugins`` entry
point.  sc-neurocore derives everything else from the equations: the stepwise layer, the
fused operator with its reverse-time backward, the kernels of every backend, the export.

* ``two_compartment``: the input drives a dendrite ``d``; the soma ``v`` only sees the
  dendrite through a coupling conductance ``g`` (and leaks back into it), so a single
  input spike reaches the soma low-pass filtered twice.
* ``refractory_lif``: a LIF whose spike sets a refractory trace ``r`` to 1; the trace
  gates the input by ``1 - r`` and recovers geometrically (``rho`` per step), a relative
  refractory period that stays differentiable.
"""

from __future__ import annotations

from sc_neurocore import NeuronSpec, hookimpl

#: The sc-neurocore plugin API this package is written for.
SC_NEUROCORE_PLUGIN_API = 1

__version__ = "0.1.0"

NEURONS: tuple[NeuronSpec, ...] = (
    NeuronSpec(
        name="two_compartment",
        states=("v", "d"),
        params=(("beta", 0.9), ("beta_d", 0.8), ("g", 0.4), ("threshold", 1.0)),
        update={"d": "beta_d*d + g*(v - d) + x", "v": "beta*v + g*(d_new - v)"},
        fire="v - threshold",
        reset={"v": "v - s*threshold"},
        description="soma v fed by a dendrite d through a coupling g; the input drives d",
    ),
    NeuronSpec(
        name="refractory_lif",
        states=("v", "r"),
        params=(("beta", 0.9), ("threshold", 1.0), ("rho", 0.6)),
        update={"v": "beta*v + (1 - r)*x", "r": "rho*r"},
        fire="v - threshold",
        reset={"v": "v - s*threshold", "r": "r + s*(1 - r)"},
        description="LIF whose spike gates its input by 1 - r, r recovering by rho per step",
    ),
)


@hookimpl
def sc_neurocore_register_neurons() -> tuple[NeuronSpec, ...]:
    return NEURONS
