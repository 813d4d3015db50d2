"""A ``get_surrogate(...)`` object as snnTorch's ``spike_grad=`` and SpikingJelly's
``surrogate_function=``, against the real peers (installed by .ci/run): the peer's
neuron then has exactly the registered surrogate's gradient, trains, compiles with
``fullgraph=True`` and pickles with ``torch.save`` (docs/peer-surrogates.md)."""

from __future__ import annotations

import io

import pytest
import torch

import sc_neurocore

from .optional import require  # noqa: E402

snn = require("snntorch")
sj_neuron = require("spikingjelly.activation_based.neuron")
sj_functional = require("spikingjelly.activation_based.functional")

SURROGATES = sc_neurocore.list_surrogates()


def _grad(name: str, x: torch.Tensor) -> torch.Tensor:
    spec = sc_neurocore.get_spec(name)
    return spec.grad(x, **dict(spec.params))


@pytest.mark.parametrize("name", SURROGATES)
def test_snntorch_leaky_uses_the_surrogate_gradient(name: str) -> None:
    leaky = snn.Leaky(beta=0.9, threshold=1.0, spike_grad=sc_neurocore.get_surrogate(name))
    x = torch.linspace(-1.0, 3.0, 41, dtype=torch.float64, requires_grad=True)
    spike, _ = leaky(x, torch.zeros_like(x))
    (grad,) = torch.autograd.grad(spike.sum(), x)
    assert torch.equal(spike.detach(), (x > 1.0).double())
    torch.testing.assert_close(grad, _grad(name, x.detach() - 1.0))


@pytest.mark.parametrize("name", SURROGATES)
def test_spikingjelly_lif_uses_the_surrogate_gradient(name: str) -> None:
    node = sj_neuron.LIFNode(tau=2.0, surrogate_function=sc_neurocore.get_surrogate(name))
    x = torch.linspace(-1.0, 5.0, 41, dtype=torch.float64, requires_grad=True)
    spike = node(x)  # from rest: v = x / tau, spike on v - 1
    (grad,) = torch.autograd.grad(spike.sum(), x)
    assert torch.equal(spike.detach(), (x / 2 > 1.0).double())
    torch.testing.assert_close(grad, _grad(name, x.detach() / 2 - 1.0) / 2)


class PeerNet(torch.nn.Module):
    """One snnTorch and one SpikingJelly layer per registered surrogate, side by side."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(5, 4)
        self.leaky = torch.nn.ModuleList(
            snn.Leaky(beta=0.9, spike_grad=sc_neurocore.get_surrogate(n)) for n in SURROGATES
        )
        self.jelly = torch.nn.ModuleList(
            sj_neuron.LIFNode(surrogate_function=sc_neurocore.get_surrogate(n), step_mode="m")
            for n in SURROGATES
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.fc(x)
        outputs = [layer(current) for layer in self.jelly]
        for layer in self.leaky:
            mem, spikes = torch.zeros_like(current[0]), []
            for step in current:
                spike, mem = layer(step, mem)
                spikes.append(spike)
            outputs.append(torch.stack(spikes))
        return torch.stack(outputs)


def _fresh(net: PeerNet) -> PeerNet:
    sj_functional.reset_net(net)
    return net


def test_peer_layers_train_compile_fullgraph_and_pickle() -> None:
    torch.manual_seed(0)
    net = PeerNet()
    x = torch.rand(6, 3, 5) * 2
    target = torch.rand(len(SURROGATES) * 2, 6, 3, 4)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = ((_fresh(net)(x) - target) ** 2).mean()
        loss.backward()
        assert bool(net.fc.weight.grad.ne(0).any())
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0], losses
    with torch.no_grad():
        eager = _fresh(net)(x)
        buffer = io.BytesIO()
        torch.save(_fresh(net), buffer)  # snnTorch's own surrogate.atan() cannot be pickled
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=False)
        assert torch.equal(_fresh(loaded)(x), eager)
        unsupported = _peer_does_not_compile()
        if unsupported:
            pytest.skip(unsupported)
        compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
        _fresh(net)
        assert torch.equal(compiled(x), eager)


def _peer_does_not_compile() -> str | None:
    """Why this torch cannot compile snnTorch's ``Leaky`` fullgraph even with a spike function of
    plain torch ops (no surrogate of ours involved), or ``None``: the control of the test above.

    snnTorch 1.0 tests ``mem == None``, which Dynamo of torch 2.8 and 2.10 cannot trace.
    """
    leaky = snn.Leaky(beta=0.9, spike_grad=lambda x: (x > 0).to(x.dtype))

    def step(x: torch.Tensor) -> torch.Tensor:
        return leaky(x, torch.zeros_like(x))[0]

    try:
        torch.compile(step, fullgraph=True, backend="aot_eager")(torch.rand(3))
    except torch._dynamo.exc.Unsupported as error:
        first = str(error).strip().splitlines()[0]
        # No "compile" in the reason: tests/ci_skips.py reads that as a missing C compiler.
        return f"Dynamo of torch {torch.__version__} cannot trace snnTorch's own Leaky: {first}"
    return None
