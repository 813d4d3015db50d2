"""Any registered neuron in a network, trained fused, then taken out of the script: a
SpikingNet whose hidden layer is the adaptive LIF (``neuron="alif"``) learns which half of
its inputs fires more, then travels as a ``torch.export`` program and as a NIR graph, and
both give back exactly its outputs.

NIR has no adaptive LIF: the node is a stand-in whose metadata carries the spec's
equations and params, from which ``from_nir`` rebuilds the same layer.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import nir
import torch

from sc_neurocore.interchange.nir_export import NIRMetadataWarning
from sc_neurocore.networks import SpikingNet
from sc_neurocore.nir import from_nir, to_nir
from sc_neurocore.training import spike_count_cross_entropy

STEPS, INPUTS, DT = 12, 8, 1e-3


def batch(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rate-coded inputs; the label says which half of the channels fires more."""
    labels = torch.randint(0, 2, (size,))
    rates = torch.full((size, INPUTS), 0.15)
    rates[labels == 0, : INPUTS // 2] = 0.6
    rates[labels == 1, INPUTS // 2 :] = 0.6
    spikes = (torch.rand(STEPS, size, INPUTS) < rates).float()
    return spikes, labels


def main() -> None:
    torch.manual_seed(0)
    net = SpikingNet(INPUTS, 16, 2, neuron="alif", beta=0.85)
    print(f"hidden layer: {net.neurons[0].spec.name}, runs {net.neurons[0].runs[0]}")
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(60):
        x, labels = batch(64)
        loss = spike_count_cross_entropy(net(x)[0], labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x, labels = batch(500)
    with torch.no_grad():
        counts, membrane = net(x)
    accuracy = 100 * float((counts.argmax(1) == labels).float().mean())
    print(f"test accuracy {accuracy:.1f} % (chance 50 %)")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alif_net.pt2"
        torch.export.save(torch.export.export(net, (x,)), path)
        reloaded = torch.export.load(path).module()
        same = all(torch.equal(a, b) for a, b in zip(reloaded(x), (counts, membrane)))
        print(f"exported program reloaded: outputs identical: {same}")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NIRMetadataWarning)
            graph = to_nir(net, dt=DT)
        nir.write(Path(folder) / "alif_net.nir", graph)
        imported = from_nir(Path(folder) / "alif_net.nir", dt=DT)
        with torch.no_grad():
            spikes = imported(x)
        kinds = [type(node).__name__ for node in graph.nodes.values()]
        print(f"NIR nodes: {', '.join(kinds)} ({len(caught)} metadata warnings)")
        same = torch.equal(spikes.sum(0), counts)
        print(f"NIR round trip: output spike counts identical: {same}")


if __name__ == "__main__":
    main()
