"""The neuron tutorial works as written: its code blocks become a project that pip installs
into the plugin venv, its usage script shows what the page says, and the project's own test
suite (the kit's neuron checks) passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .plugin_env import REPO, PluginEnv, shared_plugin_env
from .plugin_env import tutorial_project as write_tutorial_project
from .test_plugins_tutorial import QUIET

TUTORIAL = REPO / "docs" / "neuron-tutorial.md"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> PluginEnv:
    return shared_plugin_env(tmp_path_factory)


def tutorial_project(root: Path) -> Path:
    """Write the tutorial's files: the TOML block, the package, the usage script, the test."""
    files = {
        "sc_neurocore_adaptive/__init__.py": (0,),
        "usage.py": (1,),
        "tests/test_adaptive.py": (2,),
    }
    return write_tutorial_project(TUTORIAL, root, files)


def test_tutorial_neuron_installs_runs_and_passes_its_suite(plugin_env: PluginEnv) -> None:
    project = tutorial_project(plugin_env.root / "neuron-tutorial")
    target = plugin_env.root / "neuron-tutorial-target"
    plugin_env.pip(
        "install", "-q", "--no-deps", *plugin_env.build_flags, "--target", str(target), str(project)
    )
    env = {**QUIET, "PYTHONPATH": str(target)}
    usage = plugin_env.run(str(project / "usage.py"), env=env, cwd=project)
    assert usage.returncode == 0, usage.stderr[-3000:]
    out = usage.stdout
    assert "gaps grow: True" in out  # the adaptation current slows the firing
    (grad,) = re.findall(r"d spikes / d rho: ([-0-9.e+]+)", out)
    assert float(grad) != 0.0  # the fused backward reached the learned param
    assert "fused == stepwise" in out
    listing = plugin_env.cli("neurons", **env)
    rows = listing.stdout.splitlines()
    row = next(line for line in rows if line.startswith("adaptive_current_lif "))
    assert row.endswith("sc-neurocore-adaptive")
    passed = plugin_env.passed_tests("-k", "float64 or registered", env=env, cwd=project)
    assert "test_registered_from_this_distribution" in passed  # the tutorial's own test
    for reset in ("subtract", "zero", "none"):
        case = f"test_neuron_fused_equals_stepwise[adaptive_current_lif-{reset}@atan-float64-cpu]"
        assert case in passed
