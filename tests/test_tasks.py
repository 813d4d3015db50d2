"""Tasks behind one interface: spike event sets, readout losses, activity bounds, the 1-NN
baseline, the SHD reader on a synthetic file of that layout, and ``train --task``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from sc_neurocore.cli import main
from sc_neurocore.tasks.baseline import nearest_neighbour_accuracy
from sc_neurocore.tasks.catalog import PRESETS, load_task, preset
from sc_neurocore.tasks.losses import READOUT_REDUCTIONS, readout_cross_entropy, readout_logits
from sc_neurocore.tasks.regularizers import ActivityBounds, activity_penalty
from sc_neurocore.tasks.spikes import SpikeSet, split_indices

TINY_RANDMAN = ["--data", "samples_per_class=30", "--data", "classes=3", "--hidden", "16"]


def test_spike_set_dense_subset_and_first_spike_times() -> None:
    times = torch.tensor([[0, 3], [2, 1], [4, 4]])
    spikes = SpikeSet.from_times(times, torch.tensor([0, 1, 0]), steps=5)
    dense = spikes.dense(torch.tensor([2, 0]))
    assert dense.shape == (5, 2, 2)
    assert dense[4, 0].tolist() == [1.0, 1.0] and dense[0, 1, 0] == 1 and dense[3, 1, 1] == 1
    assert float(dense.sum()) == 4
    again = SpikeSet.from_dense(spikes.dense(torch.arange(3)), spikes.labels)
    assert torch.equal(again.first_spike_times(), times.double())
    subset = spikes.subset(torch.tensor([1]))
    assert subset.labels.tolist() == [1] and subset.first_spike_times().tolist() == [[2.0, 1.0]]
    silent = SpikeSet(*(torch.zeros(0, dtype=torch.int64) for _ in "sut"), torch.tensor([0]), 7, 2)
    assert silent.first_spike_times().tolist() == [[7.0, 7.0]]  # a silent unit reads as T


def test_spike_set_dense_matches_a_reference_built_event_by_event() -> None:
    generator = torch.Generator().manual_seed(3)
    sample, step, unit = (torch.randint(0, n, (400,), generator=generator) for n in (30, 9, 5))
    spikes = SpikeSet(sample, step, unit, torch.zeros(30, dtype=torch.int64), steps=9, units=5)
    index = torch.tensor([7, 0, 29, 7, 12])  # unsorted, with a repeat
    expected = torch.zeros(9, len(index), 5)
    for place, chosen in enumerate(index.tolist()):
        for s, t, u in zip(sample.tolist(), step.tolist(), unit.tolist()):
            if s == chosen:
                expected[t, place, u] = 1.0  # two events in one bin are one spike
    assert torch.equal(spikes.dense(index), expected)
    assert spikes.dense(torch.zeros(0, dtype=torch.int64)).shape == (9, 0, 5)


def test_spike_set_rejects_out_of_range_events() -> None:
    one = torch.tensor([0])
    with pytest.raises(ValueError, match="unit"):
        SpikeSet(one, one, torch.tensor([5]), one, steps=2, units=1)
    with pytest.raises(TypeError, match="int64"):
        SpikeSet(one, one.int(), one, one, steps=2, units=1)
    with pytest.raises(ValueError, match="sum"):
        split_indices(10, (0.5, 0.5, 0.5))


@pytest.mark.parametrize("reduction", READOUT_REDUCTIONS)
def test_readout_reductions_and_cross_entropy(reduction: str) -> None:
    membrane = torch.tensor([[[0.0, 1.0]], [[3.0, 0.5]], [[1.0, 2.0]]])
    expected = {"max": [3.0, 2.0], "last": [1.0, 2.0], "mean": [4 / 3, 3.5 / 3]}[reduction]
    logits = readout_logits(membrane, reduction)
    torch.testing.assert_close(logits, torch.tensor([expected]))
    loss = readout_cross_entropy(membrane, torch.tensor([1]), reduction)
    assert math.isclose(float(loss), -float(torch.log_softmax(logits, -1)[0, 1]), rel_tol=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        readout_logits(membrane, "median")


def test_activity_penalty_pushes_counts_into_the_band() -> None:
    spikes = torch.zeros(4, 2, 3)
    spikes[:, :, 0] = 1  # neuron 0: 4 spikes per sample; neuron 1 and 2: none
    penalty = activity_penalty(spikes, lower=1.0, upper=2.0, lower_strength=1.0, upper_strength=0.5)
    assert math.isclose(float(penalty), (1 + 1) / 3 + 0.5 * (2**2) / 3, rel_tol=1e-6)
    leaf = spikes.clone().requires_grad_()
    ActivityBounds(lower=1.0)(leaf).backward()
    assert float(leaf.grad[:, :, 1].sum()) < 0 and float(leaf.grad[:, :, 0].abs().sum()) == 0
    with pytest.raises(ValueError, match="lower"):
        activity_penalty(spikes, lower=-1.0)


def test_nearest_neighbour_baseline() -> None:
    train = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    test = torch.tensor([[1.0, 0.0], [9.0, 9.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1])
    assert nearest_neighbour_accuracy(train, labels, test, torch.tensor([0, 1, 1])) == 2 / 3
    with pytest.raises(ValueError, match="same features"):
        nearest_neighbour_accuracy(train, labels, torch.zeros(1, 3), torch.tensor([0]))


def _write_shd(path, samples: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as file:
        kind = h5py.vlen_dtype(np.dtype("float32"))
        unit_kind = h5py.vlen_dtype(np.dtype("uint16"))
        times = file.create_dataset("spikes/times", (samples,), dtype=kind)
        units = file.create_dataset("spikes/units", (samples,), dtype=unit_kind)
        labels = rng.integers(0, 20, samples).astype(np.uint8)
        for index in range(samples):
            count = int(rng.integers(5, 40))
            times[index] = np.sort(rng.uniform(0, 1.2, count)).astype(np.float32)
            units[index] = rng.integers(0, 700, count).astype(np.uint16)
        file.create_dataset("labels", data=labels)


def test_shd_reader_bins_a_synthetic_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sc_neurocore.tasks.shd import read_shd

    _write_shd(tmp_path / "shd_train.h5", 12, 0)
    import h5py

    spikes = read_shd(tmp_path / "shd_train.h5", steps=10, duration=1.0)
    with h5py.File(tmp_path / "shd_train.h5") as file:
        sample = 3
        when, which = file["spikes/times"][sample], file["spikes/units"][sample]
        assert spikes.labels.tolist() == file["labels"][()].tolist()
    kept = when < 1.0
    mine = spikes.sample == sample
    assert int(mine.sum()) == int(kept.sum())  # spikes after `duration` are dropped
    assert spikes.step[mine].tolist() == np.floor(when[kept] * 10).astype(int).tolist()
    assert spikes.unit[mine].tolist() == which[kept].astype(int).tolist()
    assert spikes.units == 700 and spikes.steps == 10


def test_shd_task_trains_from_a_folder(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _write_shd(tmp_path / "shd_train.h5", 40, 1)
    _write_shd(tmp_path / "shd_test.h5", 10, 2)
    args = ["--epochs", "1", "--hidden", "8", "--data", "steps=20", "--json"]
    assert main(["train", "--task", "shd", "--data-dir", str(tmp_path), *args]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "shd" and report["config"]["samples"]["test"] == 10
    assert main(["train", "--task", "shd"]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_shd_reader_refuses_other_layouts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    h5py = pytest.importorskip("h5py")
    from sc_neurocore.tasks.shd import read_shd

    with h5py.File(tmp_path / "other.h5", "w") as file:
        file.create_dataset("labels", data=np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="spikes/times"):
        read_shd(tmp_path / "other.h5")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        read_shd(tmp_path / "missing.h5")


@pytest.mark.parametrize("task", sorted(PRESETS))
def test_every_preset_names_its_data_model_and_training(task: str) -> None:
    for name, chosen in PRESETS[task].items():
        assert chosen.description and chosen.training.epochs >= 1, (task, name)
    with pytest.raises(ValueError, match="presets"):
        preset(task, "nonexistent")


def test_randman_task_splits_its_samples() -> None:
    data = load_task("randman", dict(classes=3, units=5, samples_per_class=20))
    assert (len(data.train), len(data.val), len(data.test)) == (48, 6, 6)
    assert data.description["randman"]["classes"] == 3


def test_train_task_json_has_the_promised_fields(capsys) -> None:
    assert main(["train", "--task", "randman", "--epochs", "2", *TINY_RANDMAN, "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    for key in ("task", "preset", "surrogate", "path", "test_accuracy", "baseline_1nn"):
        assert key in report
    assert report["task"] == "randman" and report["preset"] == "stork"
    assert report["surrogate"] == "superspike" and report["path"] == "fused"
    assert 0 <= report["test_accuracy"] <= 1 and 0 <= report["baseline_1nn"] <= 1
    assert report["wall_seconds"] >= report["train_seconds"] > 0
    assert [row["epoch"] for row in report["history"]] == [1, 2]
    assert all({"epoch", "seconds", "val_accuracy"} <= set(row) for row in report["history"])
    assert "1-NN on raw spike times" in captured.err  # human lines go to stderr


def test_train_task_steepness_maps_through_the_scale(capsys) -> None:
    args = ["--surrogate", "triangular", "--steepness", "2", "--json", "--epochs", "1"]
    assert main(["train", "--task", "randman", *args, *TINY_RANDMAN]) == 0
    report = json.loads(capsys.readouterr().out)
    assert math.isclose(report["params"]["width"], 2 * (math.sqrt(2) - 1) / 2)
    assert math.isclose(report["scale"], 2.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fused"], "--fused"),
        (["--steepness", "0"], "--steepness"),
        (["--surrogate", "straight_through", "--steepness", "3"], "no scale"),
        (["--path", "nowhere"], "nowhere"),
        (["--preset", "easy"], "easy"),
        (["--data", "dim"], "FIELD=VALUE"),
    ],
)
def test_train_task_bad_arguments_exit_2(capsys, args: list[str], message: str) -> None:
    assert main(["train", "--task", "randman", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("true_gradient", [False, True])
def test_true_gradient_control_gives_the_hidden_layer_no_gradient(true_gradient: bool) -> None:
    """The control's hidden weights get no gradient from the loss nor from the activity
    bounds (the step function's own derivative); the readout learns either way."""
    from sc_neurocore.core.registry import get_surrogate
    from sc_neurocore.tasks.classifier import ClassifierConfig, SpikingClassifier

    torch.manual_seed(0)
    model = SpikingClassifier(
        6,
        3,
        get_surrogate("straight_through"),
        ClassifierConfig(hidden=10, input_scale=5.0),
        true_gradient=true_gradient,
    )
    x = (torch.rand(20, 4, 6, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    membrane, spikes = model(x)
    bounds = ActivityBounds(lower=50.0)  # above any count in 20 steps: always active
    (readout_cross_entropy(membrane, torch.tensor([0, 1, 2, 0]), "max") + bounds(spikes)).backward()
    assert float(spikes.detach().sum()) > 0
    hidden_grad = model.input.weight.grad
    assert (hidden_grad is None) == true_gradient
    if not true_gradient:
        assert float(hidden_grad.abs().sum()) > 0
    assert float(model.output.weight.grad.abs().sum()) > 0
