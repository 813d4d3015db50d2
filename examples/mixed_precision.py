"""Train a spiking network on scikit-learn's digits in bf16 under torch.autocast.

The hidden layer is stepped cell by cell with an fp32 membrane fed bf16 currents (the state
stays fp32 by type promotion), the output layer is the fused LIF (bf16 in, fp32 accumulation
inside, the compiled C kernels on CPU); the same network trained in fp32 is the reference.
Run (in the repository): pip install -e ".[examples]" && python examples/mixed_precision.py
"""

from functools import partial

import torch

from sc_neurocore import training as snn
from sc_neurocore.neurons.fused import LIF


class MixedNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 10)
        self.hidden, self.output = snn.LIFCell(beta=0.9), LIF(beta=0.9)

    def forward(self, x):  # x: (time, batch, 64) spikes -> output spike counts (batch, 10)
        v = torch.zeros(x.shape[1], 128)  # fp32 membrane, whatever autocast does
        spikes = []
        for x_t in x:
            s, v = self.hidden(self.fc1(x_t), v)
            spikes.append(s)
        assert v.dtype == torch.float32
        return self.output(self.fc2(torch.stack(spikes)))[0].sum(0)


def train(dtype):
    torch.manual_seed(0)
    digits, net = snn.load_digits(), MixedNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    encode = partial(snn.rate_encode, timesteps=20, generator=torch.Generator().manual_seed(0))
    amp = partial(torch.autocast, "cpu", dtype=dtype, enabled=dtype != torch.float32)
    for _ in range(3):
        for x, y in snn.batches(digits.x_train, digits.y_train, 64, shuffle=True):
            with amp():  # the forward pass only, as torch's AMP recipe says
                loss = snn.spike_count_cross_entropy(net(encode(x)), y, scale=0.5)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with amp():
        test = snn.evaluate(net, snn.batches(digits.x_test, digits.y_test, 360), encode=encode)
    return test.accuracy


fp32, bf16 = train(torch.float32), train(torch.bfloat16)
assert bf16 > 0.8 and abs(bf16 - fp32) < 0.05, (fp32, bf16)
print(f"test accuracy: fp32 {100 * fp32:.1f} %, bf16 autocast {100 * bf16:.1f} %")
print("bf16 autocast trains to the fp32 accuracy")
