"""A sweep under faults: other configurations in the same file, corrupt lines, a second
sweep on the same file, Ctrl-C. Nothing may be mixed and nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sc_neurocore.cli import main
from sc_neurocore.tasks.sweep import SweepConfig, configurations, read_lines, run_key, run_sweep
from sc_neurocore.tasks.sweep_file import read_sweep
from sc_neurocore.tasks.sweep_report import by_configuration, cells, checks

TINY = dict(classes=3, units=5, samples_per_class=12)
TINY_ARGS = [f"--data={key}={value}" for key, value in TINY.items()]


def _config(**fields) -> SweepConfig:  # type: ignore[no-untyped-def]
    options = dict(
        surrogates=("superspike",),
        steepness=(1.0, 10.0),
        seeds=(0,),
        controls=False,
        epochs=1,
        data=TINY,
        model={"hidden": 6},
    )
    return SweepConfig(**{**options, **fields})


@pytest.mark.parametrize(
    "change",
    [{"model": {"hidden": 7}}, {"epochs": 2}, {"time_budget": 30.0}, {"data": {**TINY, "seed": 1}}],
    ids=["hidden", "epochs", "time_budget", "data"],
)
def test_resume_reruns_every_run_of_another_configuration(tmp_path, change) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "s.jsonl"
    assert len(run_sweep(_config(), out)) == 2
    other = _config(**change)
    rows = run_sweep(other, out)
    assert len(rows) == len(configurations(other)) == 2  # nothing reused from the first
    assert run_sweep(other, out) == []  # ... and its own runs are resumed


def test_report_names_the_fields_a_mixed_file_differs_in(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "mixed.jsonl"
    run_sweep(_config(steepness=(1.0,)), out)
    run_sweep(_config(steepness=(1.0,), epochs=2), out)
    assert main(["sweep", "--report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 configurations" in text and "training.epochs" in text
    # one table row per configuration: seed 0 once each, never "seeds 2"
    rows = [line for line in text.splitlines() if line.startswith("superspike")]
    assert len(rows) == 2 and all(line.split()[3] == "1" for line in rows)
    assert main(["sweep", "--report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["configurations"]) == 2
    assert report["differs"] == ["training.epochs"]


def test_corrupt_lines_are_counted_and_named(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "s.jsonl"
    run_sweep(_config(), out)
    good = out.read_text().splitlines()
    out.write_text("\n".join([good[0], "{}", "\0" * 40, "[1, 2]", good[1], good[1][:30]]) + "\n")
    assert main(["sweep", "--report", str(out)]) == 0
    captured = capsys.readouterr()
    report = captured.out + captured.err
    assert "4 lines skipped" in report
    for number in (2, 3, 4, 6):
        assert f"{out.name}:{number}" in report
    assert [run_key(row) for row in read_lines(out)] == [run_key(json.loads(g)) for g in good]


def test_a_file_of_only_an_empty_object_is_a_usage_error_not_a_crash(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "empty.jsonl"
    out.write_text("{}\n")
    assert main(["sweep", "--report", str(out)]) == 2
    assert f"{out.name}:1" in capsys.readouterr().err


def _sweep_args(out: Path, *extra: str) -> list[str]:
    return [
        "sweep", "--surrogates", "superspike", "--steepness", "1,2,4,8", "--seeds", "0,1",
        "--no-controls", "--epochs", "1", "--hidden", "6", "--processes", "1",
        "--out", str(out), *TINY_ARGS, *extra,
    ]  # fmt: skip


def test_the_banner_counts_only_pending_runs(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "s.jsonl"
    args = _sweep_args(out)
    args[args.index("--steepness") + 1] = "1"
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    banner = capsys.readouterr().err.splitlines()[0]
    assert "2 runs" in banner and "2 done" in banner and "0 to run" in banner


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sc_neurocore", *args]


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def test_two_identical_sweeps_on_one_file_share_the_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "shared.jsonl"
    args = _sweep_args(out, "--data=samples_per_class=40")
    logs = [tmp_path / f"{index}.err" for index in range(2)]
    workers = [
        subprocess.Popen(
            _cli(*args), stdout=subprocess.DEVNULL, stderr=log.open("w"), env=_environment()
        )
        for log in logs
    ]
    for worker in workers:
        assert worker.wait(timeout=240) == 0
    keys = [run_key(row) for row in read_lines(out)]
    assert len(keys) == len(set(keys)) == 8  # every run once: none duplicated, none lost
    ran = [log.read_text().count("] superspike") for log in logs]
    assert sum(ran) == 8 and min(ran) >= 1, ran  # both worked, neither repeated the other


def _ctrl_c_as_at_a_terminal() -> None:
    """A command started in the background by a non-interactive shell (as a CI script may
    start the test run) inherits SIGINT ignored; the sweep is meant to be run at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_ends_with_one_line_and_a_file_that_resumes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "s.jsonl"
    args = _sweep_args(out, "--data=samples_per_class=60")
    # 8 runs of about 1.5 s each (100 epochs): the signal lands mid-sweep however loaded the
    # machine is (at one epoch the whole sweep could end between two polls).
    args[args.index("--epochs") + 1] = "100"
    total = 8
    sweep = subprocess.Popen(
        _cli(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )
    deadline = time.monotonic() + 120
    while not list(read_lines(out)) and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("[")]
    assert "Traceback" not in err and len(lines) == 2, err  # the banner and one line
    assert "interrupted" in lines[-1] and "resume" in lines[-1]
    saved = {run_key(row) for row in read_lines(out)}
    assert 1 <= len(saved) < total
    again = subprocess.run(_cli(*args), capture_output=True, env=_environment(), timeout=240)
    assert again.returncode == 0
    keys = [run_key(row) for row in read_lines(out)]
    assert len(keys) == len(set(keys)) == total and saved <= set(keys)


def test_rows_of_two_configurations_are_never_aggregated_together(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "s.jsonl"
    run_sweep(_config(steepness=(1.0,)), out)
    run_sweep(_config(steepness=(1.0,), model={"hidden": 7}), out)
    rows = list(read_lines(out))
    with pytest.raises(ValueError, match="model.hidden"):
        cells(rows)
    assert [len(group) for _, group in by_configuration(rows)] == [1, 1]


DATA = Path(__file__).resolve().parents[1] / "docs" / "data"
#: docs/which-surrogate.md's verdicts per committed sweep: true gradient near chance,
#: shapes within 3 points, smallest steepness >= 5 points below the best.
PAGE_VERDICTS = {
    "which-surrogate-randman-hard.jsonl": (False, True, False),
    "which-surrogate-digits.jsonl": (False, True, False),
    "which-surrogate-randman.jsonl": (False, True, False),
}


@pytest.mark.parametrize("name", sorted(PAGE_VERDICTS))
def test_the_committed_sweeps_each_hold_one_configuration(name: str) -> None:
    """docs/which-surrogate.md's PASS/FAIL come from files that mix nothing: one
    configuration per file, each (surrogate, steepness, path, seed) once."""
    lines = read_sweep(DATA / name)
    assert lines.rows and not lines.skipped
    assert len(by_configuration(lines.rows)) == 1
    runs = [(r["surrogate"], r["scale"], r["path"], r["seed"]) for r in lines.rows]
    assert len(runs) == len(set(runs))
    assert tuple(check.passed for check in checks(lines.rows)) == PAGE_VERDICTS[name]
