"""``sc-neurocore train`` in-process, with tiny settings so it runs in seconds."""

from __future__ import annotations

import re
import sys

import pytest

from sc_neurocore.cli import main
from sc_neurocore.training import SURROGATE_PATHS, load_digits

pytest.importorskip("sklearn", reason='the demo needs the "examples" extra (scikit-learn)')

TINY = ["--epochs", "2", "--timesteps", "4", "--hidden", "16", "--batch-size", "256"]
EPOCH_LINE = re.compile(r"\[(\w+)\] epoch\s+(\d+)/\d+\s+loss (\S+)")


def _epoch_losses(text: str) -> dict[str, list[str]]:
    losses: dict[str, list[str]] = {}
    for path, _, loss in EPOCH_LINE.findall(text):
        losses.setdefault(path, []).append(loss)
    return losses


def test_train_reports_accuracy_time_surrogate_and_path(capsys) -> None:
    assert main(["train", *TINY, "--surrogate", "fast_sigmoid", "--param", "slope=10"]) == 0
    out = capsys.readouterr().out
    assert "1437 train / 360 test" in out
    assert len(_epoch_losses(out)["custom_op"]) == 2
    result = re.search(r"test accuracy (\S+) % \((\d+)/360\)\s+wall (\S+) s", out)
    assert result is not None, out
    assert float(result.group(1)) > 10  # two tiny epochs already beat chance (10 %)
    assert "surrogate fast_sigmoid(slope=10)" in out and "path custom_op" in out


def test_same_seed_same_losses_other_seed_other_losses(capsys) -> None:
    runs = []
    for seed in ("3", "3", "4"):
        assert main(["train", *TINY, "--seed", seed, "--path", "legacy_autograd"]) == 0
        runs.append(_epoch_losses(capsys.readouterr().out)["legacy_autograd"])
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_compare_paths_reports_identical_losses(capsys) -> None:
    assert main(["train", *TINY, "--compare-paths"]) == 0
    out = capsys.readouterr().out
    losses = _epoch_losses(out)
    assert set(SURROGATE_PATHS) <= set(losses)
    assert losses["custom_op"] == losses["legacy_autograd"]
    assert re.search(r"per-epoch losses identical across paths .*largest difference 0\b", out)


def test_fused_flag_trains(capsys) -> None:
    assert main(["train", *TINY, "--fused"]) == 0
    out = capsys.readouterr().out
    assert "fused" in out and "test accuracy" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "--epochs"),
        (["--timesteps", "-1"], "--timesteps"),
        (["--lr", "0"], "--lr"),
        (["--threads", "0"], "--threads"),
        (["--surrogate", "atann"], "atann"),
        (["--path", "nowhere"], "nowhere"),
        (["--param", "alpha"], "NAME=NUMBER"),
        (["--param", "alpha=-1"], "alpha"),
        (["--param", "slope=2"], "slope"),
        (["--device", "warp9"], "warp9"),
        (["--compare-paths", "--path", "custom_op"], "--compare-paths"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, args: list[str], message: str) -> None:
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("sc-neurocore train: error")


def test_missing_scikit_learn_says_how_to_install(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn"):
        load_digits()
    assert main(["train", *TINY]) == 2
    assert "pip install scikit-learn" in capsys.readouterr().err
