"""Train a two-layer spiking network on scikit-learn's digits, wiring the path by hand.

Run (in the repository): pip install -e ".[examples]" && python examples/train_digits.py
(``sc-neurocore train`` does the same with options; see docs/demo.md.)
"""

from functools import partial

import torch

from sc_neurocore import training as snn

PATH_WIRED = snn.atan_surrogate_custom_op  # or snn.atan_surrogate_legacy, get_surrogate(...)


class DigitNet(torch.nn.Module):
    def __init__(self, surrogate_fn=PATH_WIRED):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 10)
        self.lif1 = snn.LIFCell(beta=0.9, surrogate_fn=surrogate_fn)
        self.lif2 = snn.LIFCell(beta=0.9, surrogate_fn=surrogate_fn)

    def forward(self, x):  # x: (time, batch, 64) spikes -> output spike counts (batch, 10)
        v1 = v2 = None
        counts = 0
        for x_t in x:
            s1, v1 = self.lif1(self.fc1(x_t), v1)
            s2, v2 = self.lif2(self.fc2(s1), v2)
            counts = counts + s2
        return counts


torch.manual_seed(0)
digits, net = snn.load_digits(), DigitNet()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
encode = partial(snn.rate_encode, timesteps=20, generator=torch.Generator().manual_seed(0))
loss_fn = partial(snn.spike_count_cross_entropy, scale=0.5)
for epoch in range(8):
    train = snn.batches(digits.x_train, digits.y_train, 64, shuffle=True)
    loss = snn.train_epoch(net, train, optimizer, encode=encode, loss_fn=loss_fn)
    print(f"epoch {epoch + 1}: loss {loss:.3f}")
test = snn.evaluate(net, snn.batches(digits.x_test, digits.y_test, 360), encode=encode)
print(f"test accuracy {100 * test.accuracy:.1f} % with {net.lif1!r}")
