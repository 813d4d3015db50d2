"""Train the digits demo's SpikingNet, save it as NIR, load it back: same test accuracy.

Run (in the repository): pip install -e ".[examples,nir]" && python examples/nir_round_trip.py
(docs/interchange.md states the conventions: dt, Euler, resets, metadata.)
"""

import tempfile
import warnings
from functools import partial
from pathlib import Path

import nir
import torch

from sc_neurocore import get_surrogate
from sc_neurocore.networks import SpikingNet
from sc_neurocore.nir import NIRMetadataWarning, from_nir, to_nir
from sc_neurocore.tasks.digits import batches, load_digits
from sc_neurocore.tasks.encoding import rate_encode
from sc_neurocore.tasks.loops import train_epoch

torch.manual_seed(0)
digits = load_digits()
net = SpikingNet(64, 128, 10, surrogate_fn=get_surrogate("atan"), fused=True)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(6):
    encode = partial(rate_encode, timesteps=20, generator=torch.Generator().manual_seed(epoch))
    train_epoch(
        net, batches(digits.x_train, digits.y_train, 64, shuffle=True), optimizer, encode=encode
    )

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", NIRMetadataWarning)
    graph = to_nir(net, dt=1e-3)  # the subtractive reset travels in metadata, with a warning
print(f"to_nir: nodes {list(graph.nodes)}; {len(caught)} metadata warning(s)")
path = Path(tempfile.mkdtemp()) / "digits.nir"
nir.write(path, graph)
imported = from_nir(path, dt=1e-3)


@torch.no_grad()
def accuracy(spike_counts) -> float:
    """Test accuracy of argmax spike counts, on the same rate-encoded test images."""
    x = rate_encode(digits.x_test, 20, generator=torch.Generator().manual_seed(123))
    return float((spike_counts(x).argmax(-1) == digits.y_test).float().mean())


original = accuracy(lambda x: net(x)[0])
loaded = accuracy(lambda x: imported(x).sum(0))
print(f"test accuracy: trained {100 * original:.1f} %, after NIR round trip {100 * loaded:.1f} %")
assert original == loaded and original > 0.8
