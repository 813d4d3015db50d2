"""The built-in neuron specs: math only (every backend follows from these equations).

Each is the single-step cell of the same name written as a :class:`NeuronSpec`: the
update from the previous states and the input ``x``, the fire value whose sign is the
spike, and the reset from the updated states and the (detached) spike ``s``.
"""

from __future__ import annotations

from .core.hookspecs import hookimpl
from .core.neuron_spec import NeuronSpec

__all__ = ["BUILTIN_NEURONS", "sc_neurocore_register_neurons"]

_UPSWING = "delta_t*exp(minimum((v - v_rh)/delta_t, 5))"

BUILTIN_NEURONS: tuple[NeuronSpec, ...] = (
    NeuronSpec(
        "lif",
        ("v",),
        (("beta", 0.9), ("threshold", 1.0)),
        {"v": "beta*v + x"},
        "v - threshold",
        {"v": "v - s*threshold"},
        "leaky integrate-and-fire (LIFCell, LIF)",
    ),
    NeuronSpec(
        "if",
        ("v",),
        (("threshold", 1.0),),
        {"v": "v + x"},
        "v - threshold",
        {"v": "v - s*threshold"},
        "integrate-and-fire without leak (IFCell)",
    ),
    NeuronSpec(
        "li",
        ("v",),
        (("beta", 0.9),),
        {"v": "beta*v + x"},
        None,
        {},
        "leaky integrator readout: no spikes, its membrane is the output (LeakyIntegrator)",
    ),
    NeuronSpec(
        "cuba_lif",
        ("v", "i"),
        (("alpha", 0.9), ("beta", 0.8), ("threshold", 1.0)),
        {"i": "alpha*i + x", "v": "beta*v + i_new"},
        "v - threshold",
        {"v": "v - s*threshold"},
        "current-based LIF: a synaptic current feeds the membrane (SynapticCell, SynapticLIF)",
    ),
    NeuronSpec(
        "alif",
        ("v", "a"),
        (("beta", 0.9), ("threshold", 1.0), ("rho", 0.99), ("beta_adapt", 1.8)),
        {"v": "beta*v + x", "a": "a"},
        "v - (threshold + beta_adapt*a)",
        {"v": "v - s*(threshold + beta_adapt*a)", "a": "rho*a + s"},
        "adaptive-threshold LIF, Bellec et al. 2020 (ALIFCell)",
    ),
    NeuronSpec(
        "expif",
        ("v",),
        (("beta", 0.9), ("threshold", 1.0), ("delta_t", 0.5), ("v_rh", 0.8)),
        {"v": f"beta*v + {_UPSWING} + x"},
        "v - threshold",
        {"v": "v - s*threshold"},
        "exponential integrate-and-fire (ExpIFCell)",
    ),
    NeuronSpec(
        "adex",
        ("v", "w"),
        (
            ("beta", 0.9),
            ("threshold", 1.0),
            ("delta_t", 0.5),
            ("v_rh", 0.8),
            ("a", 0.01),
            ("b", 0.1),
            ("rho", 0.99),
            ("v_rest", 0.0),
        ),
        {"v": f"beta*v + ({_UPSWING} - w + x)", "w": "rho*w + a*(v - v_rest)"},
        "v - threshold",
        {"v": "v - s*threshold", "w": "w + b*s"},
        "adaptive exponential integrate-and-fire (AdExCell)",
    ),
    NeuronSpec(
        "izhikevich",
        ("v", "u"),
        (
            ("a", 0.02),
            ("b", 0.2),
            ("c", -65.0),
            ("d", 8.0),
            ("dt", 0.5),
            ("v_peak", 30.0),
        ),
        {
            "v": "v + dt*(0.04*v*v + 5*v + 140 - u) + x",
            "u": "u + dt*a*(b*v - u)",
        },
        "v - v_peak",
        {"v": "v*(1 - s) + s*c", "u": "u + s*d"},
        "Izhikevich 2003, Euler steps of dt ms (v in mV; start it at c with state=)",
    ),
    NeuronSpec(
        "resonate_fire",
        ("v", "w"),
        (("b", -0.1), ("omega", 1.0), ("dt", 0.2), ("threshold", 1.0)),
        {"v": "v + dt*(b*v - omega*w) + x", "w": "w + dt*(omega*v + b*w)"},
        "v - threshold",
        {"v": "v - s*threshold"},
        "resonate-and-fire, Izhikevich 2001: a damped oscillator that fires on its real part",
    ),
)


@hookimpl
def sc_neurocore_register_neurons() -> tuple[NeuronSpec, ...]:
    return BUILTIN_NEURONS
