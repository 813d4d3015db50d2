"""SpikingNet, the encoders, the spike-count loss and the train/evaluate loops."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

import sc_neurocore
from sc_neurocore.training import (
    SURROGATE_PATHS,
    LIFCell,
    SpikingNet,
    batches,
    evaluate,
    latency_encode,
    predict,
    rate_encode,
    spike_count_cross_entropy,
    train_epoch,
)


def _time_major_reference(net: SpikingNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The textbook loop: for each time step, every layer in turn with its own LIFCell."""
    cells = [LIFCell(beta=0.9, threshold=1.0, surrogate_fn=net.surrogate_fn) for _ in net.layers]
    states: list[torch.Tensor | None] = [None] * len(cells)
    counts = membrane = torch.zeros(())
    for step in x:
        h = step
        for index, (layer, cell) in enumerate(zip(net.layers, cells)):
            h, states[index] = cell(layer(h), states[index])
        counts = counts + h
        membrane = membrane + states[-1]
    return counts, membrane


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_matches_a_time_major_loop_of_cells(n_layers: int) -> None:
    torch.manual_seed(0)
    net = SpikingNet(5, 7, 3, n_layers=n_layers).double()
    x = rate_encode(torch.rand(4, 5, dtype=torch.float64), 6)
    counts, membrane = net(x)
    want_counts, want_membrane = _time_major_reference(net, x)
    assert counts.shape == membrane.shape == (4, 3)
    torch.testing.assert_close(counts, want_counts)
    torch.testing.assert_close(membrane, want_membrane)
    assert len(net.layers) == n_layers


def test_layer_sizes_and_parameter_names() -> None:
    net = SpikingNet(64, 32, 10, n_layers=3)
    shapes = [tuple(layer.weight.shape) for layer in net.layers]
    assert shapes == [(32, 64), (32, 32), (10, 32)]
    assert set(net.state_dict()) == {
        f"layers.{i}.{p}" for i in range(3) for p in ("weight", "bias")
    }


def test_state_dict_does_not_depend_on_path_and_loads_across_paths() -> None:
    nets = {}
    for path in SURROGATE_PATHS:
        torch.manual_seed(0)
        surrogate = sc_neurocore.get_surrogate("atan", path)
        nets[path] = SpikingNet(6, 8, 3, surrogate_fn=surrogate, learn_beta=True)
    first, *others = (net.state_dict() for net in nets.values())
    for other in others:
        assert first.keys() == other.keys()
    x = rate_encode(torch.rand(2, 6), 5, generator=torch.Generator().manual_seed(1))
    trained, *rest = nets.values()
    for net in rest:
        net.load_state_dict(trained.state_dict())
        assert all(torch.equal(a, b) for a, b in zip(net(x), trained(x)))


@pytest.mark.parametrize("learn", [False, True])
def test_fused_network_has_the_same_state_dict_and_outputs(learn: bool) -> None:
    torch.manual_seed(0)
    stepped = SpikingNet(6, 8, 3, n_layers=3, learn_beta=learn, learn_threshold=learn).double()
    fused = SpikingNet(6, 8, 3, n_layers=3, fused=True, learn_beta=learn, learn_threshold=learn)
    fused = fused.double()
    fused.load_state_dict(stepped.state_dict())
    x = rate_encode(torch.rand(2, 6, dtype=torch.float64), 7, torch.Generator().manual_seed(2))
    for mine, want in zip(fused(x), stepped(x)):
        torch.testing.assert_close(mine, want)
    assert fused.fused and not stepped.fused


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"n_input": 0}, "n_input"), ({"n_hidden": 2.5}, "n_hidden"), ({"n_layers": 0}, "n_layers")],
)
def test_bad_sizes_name_the_argument(kwargs: dict, argument: str) -> None:
    options = {"n_input": 4, "n_hidden": 4, "n_output": 2, **kwargs}
    with pytest.raises(ValueError, match=argument):
        SpikingNet(**options)


def test_bad_neuron_arguments_reach_the_cells() -> None:
    with pytest.raises(ValueError, match="beta"):
        SpikingNet(4, 4, 2, beta=1.5)
    with pytest.raises(TypeError, match="surrogate_fn"):
        SpikingNet(4, 4, 2, surrogate_fn=3)


def test_rate_encoding_is_bernoulli_and_reproducible() -> None:
    x = torch.tensor([0.0, 0.25, 1.0]).repeat(2000, 1)
    spikes = rate_encode(x, 10, generator=torch.Generator().manual_seed(0))
    again = rate_encode(x, 10, generator=torch.Generator().manual_seed(0))
    assert spikes.shape == (10, 2000, 3) and spikes.dtype == x.dtype
    assert torch.equal(spikes, again)
    rates = spikes.mean(dim=(0, 1))
    assert rates[0] == 0 and rates[2] == 1 and abs(float(rates[1]) - 0.25) < 0.02


def test_latency_encoding_fires_once_brightest_first() -> None:
    spikes = latency_encode(torch.tensor([[1.0, 0.5, 0.0, 0.2]]), 5)
    # steps: round((1 - x) * 4) = 0, 2, never, round(3.2) = 3
    assert spikes[:, 0].T.tolist() == [
        [1.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0],
    ]


@pytest.mark.parametrize("encoder", [rate_encode, latency_encode])
def test_encoders_reject_bad_input(encoder) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        encoder(torch.tensor([1.5]), 4)
    with pytest.raises(ValueError, match="timesteps"):
        encoder(torch.tensor([0.5]), 0)
    with pytest.raises(TypeError, match="x"):
        encoder(torch.tensor([1]), 4)


def test_spike_count_cross_entropy_uses_counts_as_logits() -> None:
    counts = torch.tensor([[3.0, 0.0, 1.0], [0.0, 2.0, 2.0]])
    targets = torch.tensor([0, 2])
    torch.testing.assert_close(
        spike_count_cross_entropy(counts, targets), F.cross_entropy(counts, targets)
    )
    torch.testing.assert_close(
        spike_count_cross_entropy(counts, targets, scale=0.5), F.cross_entropy(counts / 2, targets)
    )
    with pytest.raises(ValueError, match="scale"):
        spike_count_cross_entropy(counts, targets, scale=0.0)


def test_predict_breaks_count_ties_by_membrane_only() -> None:
    counts = torch.tensor([[2.0, 2.0, 1.0], [3.0, 2.0, 0.0]])
    membrane = torch.tensor([[-5.0, 1.0, 50.0], [-9.0, 9.0, 9.0]])
    assert predict(counts, membrane).tolist() == [1, 0]
    assert predict(counts).tolist() == [0, 0]


def _toy_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes, each lighting up its own third of 12 inputs."""
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(96) % 3
    x = torch.rand(96, 12, generator=generator) * 0.2
    for c in range(3):
        x[y == c, 4 * c : 4 * c + 4] += 0.7
    return x, y


@pytest.mark.parametrize("path", SURROGATE_PATHS)
def test_short_training_run_lowers_the_loss(path: str) -> None:
    torch.manual_seed(0)
    x, y = _toy_problem()
    net = SpikingNet(12, 16, 3, surrogate_fn=sc_neurocore.get_surrogate("atan", path))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    encode = partial(rate_encode, timesteps=8, generator=torch.Generator().manual_seed(0))
    before = evaluate(net, batches(x, y, 32), encode=encode)
    progress: list[int] = []
    losses = [
        train_epoch(
            net,
            batches(x, y, 16, shuffle=True, generator=torch.Generator().manual_seed(epoch)),
            optimizer,
            encode=encode,
            progress=lambda done, loss: progress.append(done),
        )
        for epoch in range(6)
    ]
    after = evaluate(net, batches(x, y, 32), encode=encode)
    assert losses[-1] < 0.5 * losses[0]
    assert after.loss < before.loss and after.accuracy > 0.9
    assert progress[:6] == [1, 2, 3, 4, 5, 6]


def test_batches_cover_every_sample_once() -> None:
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    seen = torch.cat([b for _, b in batches(x, y, 3, shuffle=True)])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(b) for _, b in batches(x, y, 4)] == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        next(batches(x, y, 0))


def test_fused_network_output_layer_runs_fused_with_the_stepped_gradients() -> None:
    torch.manual_seed(0)
    stepped = SpikingNet(6, 8, 3, learn_beta=True, learn_threshold=True)
    fused = SpikingNet(6, 8, 3, fused=True, learn_beta=True, learn_threshold=True)
    fused.load_state_dict(stepped.state_dict())
    assert fused.fused_output and type(fused.neurons[-1]) is type(fused.neurons[0])
    x = rate_encode(torch.rand(4, 6), 20, torch.Generator().manual_seed(3))
    (counts, membrane), (want_counts, want_membrane) = fused(x), stepped(x)
    assert torch.equal(counts, want_counts)  # the same spikes, summed exactly
    torch.testing.assert_close(membrane, want_membrane, rtol=1e-5, atol=1e-5)
    weights = torch.randn_like(membrane)
    grads = [
        torch.autograd.grad(((c + m) * weights).sum(), list(net.parameters()))
        for net, (c, m) in ((fused, (counts, membrane)), (stepped, (want_counts, want_membrane)))
    ]
    for mine, want in zip(*grads):
        torch.testing.assert_close(mine, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reset", ["zero", "none"])
def test_fused_network_without_subtractive_reset_steps_its_output_layer(reset: str) -> None:
    torch.manual_seed(0)
    stepped = SpikingNet(6, 8, 3, reset=reset)
    fused = SpikingNet(6, 8, 3, fused=True, reset=reset)
    fused.load_state_dict(stepped.state_dict())
    assert not fused.fused_output  # the closed form holds for the subtractive reset only
    x = rate_encode(torch.rand(4, 6), 12, torch.Generator().manual_seed(4))
    for mine, want in zip(fused(x), stepped(x)):
        torch.testing.assert_close(mine, want)
