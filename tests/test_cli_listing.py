"""``sc-neurocore paths | surrogates | plugins | explain | check`` in this environment.

The installed-plugin behaviour of the same commands is proven in
``test_plugins_installed``; here the output format, the exit codes and the error
messages are checked against whatever the registry holds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import sc_neurocore
from sc_neurocore.cli import main
from sc_neurocore.core.registry import coverage


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_aligned(text: str) -> None:
    """Every row starts each column where the header does."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [i for i in range(2, len(header)) if header[i] != " " and header[i - 2 : i] == "  "]
    for line in lines[1:]:
        for start in starts:
            assert line[start - 2 : start] == "  " and line[start] != " ", (header, line)


def test_paths_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "paths")
    assert code == 0
    assert out.splitlines()[0].split()[:5] == [
        "PATH",
        "DISTRIBUTION",
        "VERSION",
        "AVAILABLE",
        "COVERS",
    ]
    assert_aligned(out)
    code, out, _ = run(capsys, "paths", "--json")
    paths = json.loads(out)
    assert [p["name"] for p in paths] == list(sc_neurocore.list_paths())
    for info in paths:
        assert {"name", "distribution", "version", "available", "surrogates"} <= set(info)
        covered = [s for s in sc_neurocore.list_surrogates() if coverage(s, info["name"])[0]]
        assert info["surrogates"] == covered


def test_surrogates_matrix_marks_every_cell(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "surrogates")
    assert code == 0
    table, footer = out.rstrip().split("\n\n")
    assert_aligned(table)
    header, *rows = table.splitlines()
    paths = sc_neurocore.list_paths()
    assert header.split()[2 : 2 + len(paths)] == list(paths)
    assert [row.split()[0] for row in rows] == list(sc_neurocore.list_surrogates())
    gaps = 0
    for row in rows:
        name, _, *cells = row.split()
        for path, cell in zip(paths, cells):
            expected = "yes" if coverage(name, path)[0] else "-"
            gaps += expected == "-"
            assert cell == expected, (name, path)
    assert footer.startswith(f"{len(rows)} surrogates x {len(paths)} paths")
    assert ("no gaps" in footer) == (gaps == 0)


def test_surrogates_json(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "surrogates", "--json")
    infos = json.loads(out)
    assert [i["name"] for i in infos] == list(sc_neurocore.list_surrogates())
    for info in infos:
        spec = sc_neurocore.get_spec(info["name"])
        assert info["params"] == dict(spec.params)
        assert info["has_primitive"] == (spec.primitive is not None)
        assert set(info["paths"]) | set(info["gaps"]) == set(sc_neurocore.list_paths())


def test_plugins_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    assert_aligned(out)
    _, out, _ = run(capsys, "plugins", "--json")
    records = {r["name"]: r for r in json.loads(out)}
    for name in ("surrogates", "custom_op", "legacy_autograd"):
        record = records[name]
        assert (record["distribution"], record["status"], record["error"]) == (
            "sc-neurocore",
            "loaded",
            "",
        )
        assert record["version"] == sc_neurocore.__version__
        assert record["overridden"] == []


def test_explain_shows_candidates_and_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "atan", "--path", "legacy_autograd")
    assert code == 0
    assert out.startswith("(atan, legacy_autograd): resolves")
    assert "chosen: path 'legacy_autograd' from sc-neurocore" in out
    assert "why: " in out
    _, out, _ = run(capsys, "explain", "atan", "--json")
    data = json.loads(out)
    assert data["path"] == sc_neurocore.get_default_path() and data["resolved"]
    assert {c["kind"] for c in data["candidates"]} >= {"surrogate spec"}


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (("explain", "atann"), "Did you mean 'atan'?"),
        (("explain", "atan", "--path", "custom-op"), "Did you mean 'custom_op'?"),
        (("check", "--surrogate", "superspik"), "Did you mean 'superspike'?"),
        (("check", "--path", "legacy"), "legacy_autograd"),
    ],
)
def test_unknown_names_exit_2_with_one_line_and_a_suggestion(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], suggestion: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert suggestion in err and err.startswith(f"sc-neurocore {argv[0]}: error: ")


def test_check_runs_the_conformance_kit() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sc_neurocore", "check", "-s", "straight_through", "-p"]
        + ["legacy_autograd", "-k", "float64 or layouts", "-v"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = [line for line in result.stdout.splitlines() if " PASSED" in line]
    assert any("test_layouts[straight_through@legacy_autograd" in line for line in passed)
    assert any(
        "test_gradient_matches_spec[straight_through@legacy_autograd-float64" in line
        for line in passed
    )
    assert not any("superspike" in line for line in passed)
