"""``--json`` means JSON and nothing else on stdout, in every command and mode that takes it;
``--help`` of every command is answered without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sc_neurocore.cli import main
from sc_neurocore_cli import COMMANDS

TINY_RANDMAN = ["--data", "classes=2", "--data", "units=4", "--data", "samples_per_class=12"]
SWEEP_RUN = ["--surrogates", "atan", "--steepness", "1", "--seeds", "0", "--no-controls"]
SWEEP_RUN += ["--epochs", "1", "--hidden", "4", "--processes", "1", *TINY_RANDMAN]

#: A cheap real run of each (command, mode) that takes --json; ``{out}``: a file of tmp_path.
CHEAP: dict[tuple[str, str], list[str]] = {
    ("paths", "only"): [],
    ("surrogates", "only"): [],
    ("plugins", "only"): [],
    ("explain", "only"): ["atan"],
    ("neurons", "only"): [],
    ("kernels", "list"): [],
    ("kernels", "compile"): ["--compile", "cuda:90", "--op", "surrogate", "--dtype", "float32"],
    ("bench", "cpu"): ["--quick", "--only", "bandwidth", "--no-progress"],
    ("bench", "cuda"): ["--device", "cuda", "--quick"],
    ("train", "digits"): ["--epochs", "1", "--hidden", "8", "--timesteps", "2"],
    ("train", "task"): ["--task", "randman", "--epochs", "1", "--hidden", "4", *TINY_RANDMAN],
    ("sweep", "run"): [*SWEEP_RUN, "--out", "{out}"],
    ("sweep", "report"): ["--report", "{out}"],
}

WITH_JSON = [
    (command.name, mode)
    for command in COMMANDS
    for mode in command.modes
    for option in command.options
    if option.dest == "json" and option.applies_to(mode)
]


def test_every_command_with_json_has_a_cheap_run_here() -> None:
    assert sorted(WITH_JSON) == sorted(CHEAP)


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sweep") / "runs.jsonl"


@pytest.mark.parametrize(
    ("name", "mode"), sorted(CHEAP), ids=["-".join(key) for key in sorted(CHEAP)]
)
def test_json_output_is_json_and_nothing_else(
    name: str, mode: str, sweep_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if (name, mode) == ("bench", "cuda"):
        import torch

        if not torch.cuda.is_available():  # refused before measuring: nothing on stdout
            assert main([name, *CHEAP[(name, mode)], "--json", "-"]) == 2
            assert capsys.readouterr().out == ""
            return
    if (name, mode) == ("sweep", "report") and not sweep_file.exists():
        args = [arg.format(out=sweep_file) for arg in CHEAP[("sweep", "run")]]
        assert main([name, *args]) == 0
        capsys.readouterr()
    args = [arg.format(out=sweep_file) for arg in CHEAP[(name, mode)]]
    json_flag = ["--json", "-"] if name == "bench" else ["--json"]
    assert main([name, *args, *json_flag]) == 0
    out = capsys.readouterr().out
    value = json.loads(out)  # the whole of stdout, or this fails
    assert value, f"{name} {mode}: empty JSON"
    assert main([name, *args]) == 0  # and without --json, not JSON
    plain = capsys.readouterr().out
    with pytest.raises(ValueError):
        json.loads(plain)


HELP_CHILD = r"""
import contextlib, io, sys
from sc_neurocore_cli import COMMANDS, main
for argv in [["--help"], *[[c.name, "--help"] for c in COMMANDS]]:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(argv) == 0, argv
    assert "usage: sc-neurocore" in out.getvalue(), argv
with contextlib.redirect_stderr(io.StringIO()):
    assert main(["train", "--task", "randman", "--fused"]) == 2
print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "sc_neurocore")))
"""


def test_help_and_usage_errors_import_neither_torch_nor_the_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELP_CHILD], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
