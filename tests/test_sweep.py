"""The surrogate sweep: the run list, sharding, resume, merging, JSON lines and the report."""

from __future__ import annotations

import json

import pytest

import sc_neurocore
from sc_neurocore.cli import main
from sc_neurocore.tasks.run import CONTROLS
from sc_neurocore.tasks.sweep import (
    SweepConfig,
    configurations,
    parse_shard,
    read_lines,
    run_key,
    run_sweep,
    shard,
)
from sc_neurocore.tasks.sweep_report import checks, heatmap, merge, table

TINY = dict(classes=3, units=5, samples_per_class=12)
LINE_FIELDS = {"task", "surrogate", "scale", "path", "seed", "test_accuracy", "baseline_1nn"}


def _config(**fields) -> SweepConfig:  # type: ignore[no-untyped-def]
    options = dict(
        surrogates=("superspike", "triangular"),
        steepness=(1.0, 10.0),
        seeds=(0,),
        epochs=1,
        data=TINY,
        model={"hidden": 6},
    )
    return SweepConfig(**{**options, **fields})


def test_default_runs_cover_every_registered_surrogate_and_the_controls() -> None:
    runs = configurations(SweepConfig(seeds=(0, 1)))
    names = {run.surrogate for run in runs}
    scaled = [n for n in sc_neurocore.list_surrogates() if sc_neurocore.get_spec(n).scale]
    assert set(scaled) | set(CONTROLS) <= names
    per_seed = len(scaled) * 7 + len(CONTROLS) + len(names - set(scaled) - set(CONTROLS))
    assert len(runs) == 2 * per_seed
    assert len({run_key(run) for run in runs}) == len(runs)  # every run has its own key


@pytest.mark.parametrize("count", [1, 3, 4])
def test_shards_partition_the_runs(count: int) -> None:
    runs = configurations(_config(seeds=(0, 1, 2)))
    parts = [shard(runs, k, count) for k in range(count)]
    keys = [run_key(run) for part in parts for run in part]
    assert sorted(keys) == sorted(run_key(run) for run in runs) and len(set(keys)) == len(keys)
    assert parse_shard(f"{count - 1}/{count}") == (count - 1, count)


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)


def test_sweep_lines_resume_and_merge(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = _config()
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    rows = run_sweep(config, first, shard_of=(0, 2))
    rows += run_sweep(config, second, shard_of=(1, 2))
    assert len(rows) == len(configurations(config)) == 6
    for row in read_lines(first):
        assert LINE_FIELDS <= set(row)
        assert 0 <= row["test_accuracy"] <= 1
    controls = [row for row in rows if row["surrogate"] in CONTROLS]
    assert sorted(row["surrogate"] for row in controls) == sorted(CONTROLS)
    assert all(row["scale"] is None for row in controls)
    # Resume: nothing left to run; an interrupted (cut) line is ignored and rerun.
    assert run_sweep(config, first, shard_of=(0, 2)) == []
    lines = first.read_text().splitlines()
    first.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    again = run_sweep(config, first, shard_of=(0, 2))
    assert len(again) == 1 and run_key(again[0]) == run_key(json.loads(lines[-1]))
    merged = merge([first, second])
    assert len(merged) == 6 and len({run_key(row) for row in merged}) == 6


def test_report_table_checks_and_heatmap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    rows = run_sweep(_config(), tmp_path / "s.jsonl")
    text = table(rows)
    assert "superspike" in text and "true_gradient" in text and "1-NN" in text
    results = {check.claim: check for check in checks(rows)}
    gradient = results["true gradient within 5 points of chance"]
    assert gradient.passed in (True, False) and "chance 33.3 %" in gradient.detail
    png = heatmap(rows, tmp_path / "h.png", "tiny")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_sweep_then_report(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cli.jsonl"
    args = ["sweep", "--surrogates", "superspike", "--steepness", "2", "--seeds", "0"]
    args += ["--epochs", "1", "--hidden", "6", "--processes", "1", "--out", str(out)]
    args += [f"--data={key}={value}" for key, value in TINY.items()]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "[3/3]" in captured.err and "ETA" in captured.err
    assert len(list(read_lines(out))) == 3
    assert main(["sweep", "--report", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == 3 and len(report["checks"]) == 3
    assert main(["sweep", "--steepness", "0"]) == 2
    assert main(["sweep", "--shard", "2/2"]) == 2


@pytest.mark.parametrize(("task", "expected"), [("randman", "hard"), ("digits", "default")])
def test_cli_sweep_defaults_to_the_tasks_hard_preset_or_its_first(task: str, expected: str) -> None:
    from sc_neurocore.cli.sweep import config_of
    from sc_neurocore_cli import parse

    args = parse(["sweep", "--task", task])
    assert {run.preset for run in configurations(config_of(args))} == {expected}
    assert {run.preset for run in configurations(SweepConfig(task=task))} == {expected}
    assert main(["sweep", "--task", "nonesuch"]) == 2
