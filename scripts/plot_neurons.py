"""Simulate every built-in neuron on a ramp input and plot its states and spikes into
docs/img/neurons.png (the picture of docs/neurons.md).

Each neuron runs as the stepwise layer (``Neuron(name, fused=False)``) with its default
params, from rest (the Izhikevich neuron from ``v = c``, ``u = b c``), on a ramp from 0 to
a peak: the smallest of :data:`PEAKS` at which it fires at least three times.  Needs
matplotlib (extra ``plot``).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from sc_neurocore.core.neuron_spec import NeuronSpec  # noqa: E402
from sc_neurocore.neuron_models import BUILTIN_NEURONS  # noqa: E402
from sc_neurocore.neurons import Neuron  # noqa: E402

STEPS = 200
#: Ramp peaks tried in turn (a neuron in mV needs a larger drive than one with threshold 1).
PEAKS = (0.4, 4.0, 40.0)


def initial_state(spec: NeuronSpec) -> dict[str, torch.Tensor]:
    """Rest: zero, except a neuron whose reset value is a param ``c`` (Izhikevich) starts there."""
    defaults = spec.defaults
    if "c" in defaults and "b" in defaults and spec.states == ("v", "u"):
        v = torch.full((1, 1), defaults["c"], dtype=torch.float64)
        return {"v": v, "u": defaults["b"] * v}
    return {}


def simulate(spec: NeuronSpec) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """``(input, output, {state: trace})`` on the ramp; the traces are the states after each
    step's reset (the output is the spikes, or a readout's first state)."""
    layer = Neuron(spec, fused=False)
    ramp = torch.linspace(0.0, 1.0, STEPS, dtype=torch.float64).reshape(STEPS, 1, 1)
    for peak in PEAKS:
        x = ramp * peak
        state = initial_state(spec)
        traces: dict[str, list[torch.Tensor]] = {name: [] for name in spec.states}
        outs = []
        with torch.no_grad():
            for t in range(STEPS):
                out, state = layer(x[t : t + 1], state=state)
                outs.append(out[0])
                for name in spec.states:
                    traces[name].append(state[name])
        output = torch.stack(outs).flatten()
        if not spec.spiking or int(output.sum()) >= 3:
            break
    return x.flatten(), output, {k: torch.stack(v).flatten() for k, v in traces.items()}


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "neurons.png")
    args = parser.parse_args()
    columns = 3
    rows = math.ceil(len(BUILTIN_NEURONS) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 2.9 * rows), squeeze=False)
    time = torch.arange(STEPS)
    for axis, spec in zip(axes.flat, BUILTIN_NEURONS):
        x, output, traces = simulate(spec)
        for index, (name, trace) in enumerate(traces.items()):
            axis.plot(time, trace, lw=1.4, color=f"C{index}", label=name)
        axis.plot(time, x, lw=1.0, ls="--", color="0.5", label="input x")
        if spec.spiking:
            fired = time[output > 0]
            top = max(float(t.max()) for t in (*traces.values(), x))
            axis.plot(fired, [top * 1.08 + 0.05] * len(fired), "|", color="k", ms=8)
            axis.set_title(f"{spec.name}: {int(output.sum())} spikes (ticks)", fontsize=10)
        else:
            axis.set_title(f"{spec.name}: readout (no spikes)", fontsize=10)
        axis.legend(fontsize=7, loc="upper left", frameon=False)
        axis.set_xlim(0, STEPS)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(BUILTIN_NEURONS) :]:
        axis.set_visible(False)
    figure.supxlabel("time step")
    figure.suptitle("Built-in neurons on a ramp input (default params, stepwise layer)")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out} ({len(BUILTIN_NEURONS)} neurons)")


if __name__ == "__main__":
    main()
