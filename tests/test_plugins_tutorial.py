"""The plugin tutorial works as written: its code blocks become a project that pip
installs into the plugin venv, and the project's own test suite (the kit) passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from .plugin_env import REPO, PluginEnv, shared_plugin_env
from .plugin_env import tutorial_project as write_tutorial_project

TUTORIAL = REPO / "docs" / "plugin-tutorial.md"
QUIET = {
    "SC_NEUROCORE_DISABLE_PLUGINS": "wrong_math,conflict_a,conflict_b,import_error,"
    "hook_raises,malformed,wrong_api"
}


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> PluginEnv:
    return shared_plugin_env(tmp_path_factory)


def tutorial_project(root: Path) -> Path:
    """Write the tutorial's files: the TOML block, the package (blocks 1-2), the test."""
    files = {
        "sc_neurocore_cosine/__init__.py": (0, 1),
        "usage.py": (2,),
        "tests/test_cosine.py": (3,),
    }
    return write_tutorial_project(TUTORIAL, root, files)


def test_tutorial_plugin_installs_runs_and_passes_its_suite(plugin_env: PluginEnv) -> None:
    project = tutorial_project(plugin_env.root / "tutorial")
    target = plugin_env.root / "tutorial-target"
    plugin_env.pip(
        "install", "-q", "--no-deps", *plugin_env.build_flags, "--target", str(target), str(project)
    )
    env = {**QUIET, "PYTHONPATH": str(target)}
    usage = plugin_env.run(str(project / "usage.py"), env=env, cwd=project)
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith("Surrogate('raised_cosine', path='upcast', width=0.5)")
    assert "2." in usage.stdout  # g(0) = 1/width = 2 reached x.grad
    passed = plugin_env.passed_tests(
        "-k",
        "test_registered or (float32 and (raised_cosine or atan)) or (compile and raised_cosine)",
        env=env,
        cwd=project,
    )
    assert "test_registered_from_this_distribution" in passed  # the tutorial's own test
    # the kit ran on the new surrogate everywhere and on every surrogate via the new path
    assert "test_gradient_matches_spec[raised_cosine@custom_op-float32-cpu]" in passed
    assert "test_gradient_matches_spec[atan@upcast-float32-cpu]" in passed
    assert "test_compile_fullgraph[raised_cosine@upcast-cpu]" in passed
