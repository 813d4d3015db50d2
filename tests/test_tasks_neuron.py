"""The task classifier and ``train --task`` take a neuron name for the hidden layer."""

from __future__ import annotations

import json

import pytest
import torch

from sc_neurocore.cli import main
from sc_neurocore.core.registry import get_surrogate
from sc_neurocore.neurons import Neuron
from sc_neurocore.neurons.synaptic import SynapticLIF
from sc_neurocore.tasks.classifier import ClassifierConfig, SpikingClassifier

from .test_tasks import TINY_RANDMAN


@pytest.mark.parametrize(("execution", "runs"), [("fused", "fused"), ("custom_op", "stepwise")])
def test_the_hidden_layer_is_the_named_neuron(execution: str, runs: str) -> None:
    torch.manual_seed(0)
    config = ClassifierConfig(hidden=12, neuron="alif", threshold=0.7)
    path = None if execution == "fused" else execution
    model = SpikingClassifier(5, 3, get_surrogate("atan", path), config, execution=execution)
    hidden = model.hidden
    assert isinstance(hidden, Neuron) and hidden.spec.name == "alif"
    assert hidden.runs[0] == runs and hidden.param("threshold") == 0.7
    membrane, spikes = model(torch.rand(10, 4, 5) * 3)
    assert membrane.shape == (10, 4, 3) and spikes.shape == (10, 4, 12)
    membrane.sum().backward()
    assert model.input.weight.grad is not None and bool(model.input.weight.grad.abs().sum() > 0)


def test_without_a_neuron_the_hidden_layer_is_unchanged() -> None:
    model = SpikingClassifier(5, 3, get_surrogate("atan"), ClassifierConfig(hidden=4))
    assert isinstance(model.hidden, SynapticLIF)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ClassifierConfig(neuron="li"), "does not spike"),
        (ClassifierConfig(neuron="alif", recurrent=True), "no recurrent form"),
    ],
)
def test_a_neuron_the_classifier_cannot_use_is_named(
    config: ClassifierConfig, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SpikingClassifier(5, 3, get_surrogate("atan"), config)


def test_train_task_with_a_neuron_reports_it(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--neuron", "alif", "--epochs", "1", "--json"]
    assert main(["train", "--task", "randman", *args, *TINY_RANDMAN]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["config"]["model"]["neuron"] == "alif"
    assert 0 <= report["test_accuracy"] <= 1


@pytest.mark.parametrize(("name", "message"), [("alfi", "unknown neuron 'alfi'"), ("li", "spike")])
def test_train_task_refuses_a_bad_neuron(
    capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    assert main(["train", "--task", "randman", "--neuron", name]) == 2
    err = capsys.readouterr().err
    assert "--neuron" in err and message in err


def test_a_default_run_s_key_is_unchanged_by_the_neuron_field() -> None:
    """Without a neuron the config (and so a sweep's run key) has the fields it had
    before neurons were named: results recorded then still resume."""
    assert "neuron" not in ClassifierConfig().as_dict()
    assert ClassifierConfig(neuron="alif").as_dict()["neuron"] == "alif"


def test_sweep_refuses_a_bad_neuron(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--task", "randman", "--neuron", "alfi", "--processes", "1"]) == 2
    err = capsys.readouterr().err
    assert "--neuron" in err and "unknown neuron 'alfi'" in err
