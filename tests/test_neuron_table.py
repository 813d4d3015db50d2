"""docs/neurons.md is what scripts/gen_neuron_table.py generates from the built-in specs, and
the picture's simulation (scripts/plot_neurons.py) makes every spiking built-in fire."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sc_neurocore.neuron_models import BUILTIN_NEURONS

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_page_is_the_generated_one() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_neuron_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_builtin_has_a_row_and_its_equations() -> None:
    table = _script("gen_neuron_table")
    page = table.render()
    for spec in BUILTIN_NEURONS:
        assert f"| [`{spec.name}`](#{spec.name}) |" in page
        assert f"### {spec.name}\n" in page
    lines = table.equations(BUILTIN_NEURONS[3])  # cuba_lif: the current first, then v
    assert lines[:2] == ["i[t] = alpha*i[t-1] + x[t]", "v[t] = beta*v[t-1] + i[t]"]
    assert lines[-1] == "v[t] <- v[t] - s[t]*threshold"
    assert (ROOT / "docs" / "img" / "neurons.png").stat().st_size > 10_000


def test_a_stale_page_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _script("gen_neuron_table")
    monkeypatch.setattr(table, "render", lambda: "something else\n")
    monkeypatch.setattr(sys, "argv", ["gen_neuron_table.py", "--check"])
    assert table.main() == 1


@pytest.mark.parametrize("spec", [s for s in BUILTIN_NEURONS if s.spiking], ids=lambda s: s.name)
def test_the_pictures_drive_makes_every_spiking_builtin_fire(spec: object) -> None:
    x, output, traces = _script("plot_neurons").simulate(spec)
    assert int(output.sum()) >= 3 and set(traces) == set(spec.states)  # type: ignore[attr-defined]
    assert float(x[-1]) in _script("plot_neurons").PEAKS
