"""A spiking CNN on the 8x8 digits (as 1x8x8 images), saved as NIR and run by Norse and
by this project from the same file: the same spikes, step for step.

    Conv2d -> LIF (current-based) -> SumPool2d -> Conv2d -> LIF (current-based)

The neurons are current-based LIF (`SynapticCell`, NIR's `CubaLIF`), which Norse reads
with every parameter; plain `LIF` files carry `r = tau/dt`, which Norse ignores
(docs/interchange.md). The last convolution covers the whole pooled map, so no Flatten
is needed (Norse's Flatten would fold in the batch dimension).

Run (in the repository): pip install -e ".[examples,nir]" && pip install --no-deps norse nirtorch
&& python examples/nir_spiking_cnn.py
"""

import logging
import tempfile
import warnings
from pathlib import Path

import nir
import norse.torch as norse
import torch
from torch import nn

from sc_neurocore import get_surrogate
from sc_neurocore.interchange.nir_layers import SumPool2d
from sc_neurocore.neurons.cells import SynapticCell
from sc_neurocore.nir import from_nir, to_nir
from sc_neurocore.tasks.digits import batches, load_digits
from sc_neurocore.tasks.encoding import rate_encode

STEPS, DT = 12, 1e-3
torch.manual_seed(0)
digits = load_digits()
surrogate = get_surrogate("atan")
net = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1),
    SynapticCell(0.5, 0.8, 1.0, surrogate, reset="zero"),
    SumPool2d((2, 2), (2, 2), (0, 0)),
    nn.Conv2d(8, 10, 4),  # 4x4 -> 1x1: ten output neurons
    SynapticCell(0.5, 0.8, 1.0, surrogate, reset="zero"),
)


def run(x: torch.Tensor) -> torch.Tensor:
    """Time-major images (T, batch, 1, 8, 8) -> output spikes (T, batch, 10)."""
    state: dict[int, tuple] = {}
    out = []
    for step in x:
        value = step
        for index, layer in enumerate(net):
            if isinstance(layer, SynapticCell):
                value, *rest = layer(value, *state.get(index, ()))
                state[index] = tuple(rest)
            else:
                value = layer(value)
        out.append(value.flatten(1))
    return torch.stack(out)


def images(x: torch.Tensor, seed: int) -> torch.Tensor:
    return rate_encode(x.view(-1, 1, 8, 8), STEPS, generator=torch.Generator().manual_seed(seed))


optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(3):
    for index, (x, y) in enumerate(batches(digits.x_train, digits.y_train, 64, shuffle=True)):
        loss = nn.functional.cross_entropy(run(images(x, 100 * epoch + index)).sum(0), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

test = images(digits.x_test, 123)
with torch.no_grad():
    ours_before = run(test)
accuracy = float((ours_before.sum(0).argmax(-1) == digits.y_test).float().mean())
print(f"trained spiking CNN: test accuracy {100 * accuracy:.1f} %")

path = Path(tempfile.mkdtemp()) / "digits_cnn.nir"
nir.write(path, to_nir(net, dt=DT, input_shape=(1, 8, 8)))
print(f"saved {path.name}: {[type(n).__name__ for n in nir.read(path).nodes.values()]}")

imported = from_nir(path, dt=DT)
with torch.no_grad():
    ours = imported(test).flatten(2)

logging.disable(logging.WARNING)  # Norse logs each parameter it checks
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    theirs_module = norse.from_nir(nir.read(path), dt=DT)
state, steps = None, []
with torch.no_grad():
    for step in test:
        spikes, state = theirs_module(step, state)
        steps.append(spikes.flatten(1))
theirs = torch.stack(steps)

print(
    f"spikes: trained net {int(ours_before.sum())}, this project from the file "
    f"{int(ours.sum())}, Norse from the file {int(theirs.sum())}"
)
assert accuracy > 0.8, "the CNN should learn the digits"
assert torch.equal(ours, ours_before), "this project's import runs the trained net"
assert torch.equal(theirs, ours), "Norse and this project give the same spikes"
print("identical spikes from Norse and from this project")
