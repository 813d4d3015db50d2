"""A neuron from its equations: an adaptive LIF written as a NeuronSpec, checked fused ==
stepwise under every registered surrogate and reset, then trained (fused) to fire at target
rates, with its adaptation params learned alongside the weights.

The spec is the issue's example: a threshold that rises by ``b*a`` after each spike, where
``a`` jumps by ``1 - rho`` per spike and decays by ``rho`` per step.
"""

from __future__ import annotations

import torch

import sc_neurocore
from sc_neurocore import NeuronSpec
from sc_neurocore.neurons import Neuron
from sc_neurocore.testing import check_fused_equals_stepwise

ADAPTIVE = NeuronSpec(
    name="my_alif",
    states=("v", "a"),
    params=(("beta", 0.9), ("rho", 0.95), ("b", 1.8), ("threshold", 1.0)),
    update={"v": "beta*v + x", "a": "rho*a"},
    fire="v - (threshold + b*a)",
    reset={"v": "v - s*(threshold + b*a)", "a": "a + (1 - rho)*s"},
    description="adaptive LIF: each spike raises the threshold by b*(1 - rho), decaying by rho",
)

STEPS, BATCH, INPUTS, NEURONS = 40, 32, 16, 8


def check_parity() -> int:
    """Fused against stepwise for every registered surrogate and reset, float64 and float32."""
    checked = 0
    for surrogate in sc_neurocore.list_surrogates():
        for reset in ("subtract", "zero", "none"):
            for dtype in (torch.float64, torch.float32):
                check_fused_equals_stepwise(ADAPTIVE, surrogate, reset, dtype)
                checked += 1
    return checked


def train() -> tuple[float, float, dict[str, float]]:
    """Weights and (rho, b) learned so that neuron j fires at rate target[j]."""
    torch.manual_seed(0)
    weights = torch.nn.Linear(INPUTS, NEURONS)
    layer = Neuron(ADAPTIVE, fused=True, learn=("rho", "b"))
    assert layer.runs[0] == "fused", layer.runs
    optimizer = torch.optim.Adam([*weights.parameters(), *layer.parameters()], lr=0.02)
    target = torch.linspace(0.05, 0.4, NEURONS)
    x = (torch.rand(STEPS, BATCH, INPUTS) < 0.2).float()  # fixed input spike trains
    losses = []
    for _ in range(150):
        spikes, _ = layer(weights(x))
        loss = ((spikes.mean(dim=(0, 1)) - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    learned = {name: layer.param(name).item() for name in ("rho", "b")}  # type: ignore[union-attr]
    return losses[0], min(losses[-10:]), learned


def main() -> None:
    checked = check_parity()
    surrogates = len(sc_neurocore.list_surrogates())
    grid = f"{surrogates} surrogates x 3 resets x 2 dtypes"
    print(f"fused == stepwise: {checked} checks passed ({grid})")
    first, last, learned = train()
    print(f"rate loss: first {first:.3e}, last {last:.3e}")
    print(f"learned rho {learned['rho']:.4f} (from 0.95), b {learned['b']:.4f} (from 1.8)")


if __name__ == "__main__":
    main()
