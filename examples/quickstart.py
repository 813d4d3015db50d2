"""Quickstart (docs home page): build and train a 2-layer spiking network in 20 lines."""

import torch
from torch.nn.functional import cross_entropy

from sc_neurocore.networks import SpikingNet

torch.manual_seed(0)
torch.set_num_threads(1)  # small layers: one thread is fastest (docs: Performance tips)
# Two classes of Bernoulli spike trains, 25 steps x 40 inputs; each class fires its half more.
labels = torch.randint(0, 2, (768,))
rates = torch.full((768, 40), 0.05)
rates[labels == 0, :20] = rates[labels == 1, 20:] = 0.15
spikes = torch.bernoulli(rates.expand(25, 768, 40))  # (time, batch, inputs)
train, test = slice(0, 512), slice(512, 768)

net = SpikingNet(40, 64, 2)  # Linear -> LIF -> Linear -> LIF, atan surrogate
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(15):
    counts, _ = net(spikes[:, train])  # output spikes per neuron, summed over time
    loss = cross_entropy(0.5 * counts, labels[train])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if epoch in (0, 14):
        print(
            f"epoch {epoch + 1:2}: loss {loss.item():.3f}, output spikes per neuron "
            f"per step {counts.mean().item() / 25:.3f}"
        )
accuracy = (net(spikes[:, test])[0].argmax(1) == labels[test]).float().mean().item()
print(f"test accuracy {100 * accuracy:.1f} % (chance 50 %)")
