"""The conformance kit, run for real: as both plugin distributions' own test suites,
and through ``sc-neurocore check``, which must fail on a wrong plugin."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from .plugin_env import PIP_TIMEOUT_S, PluginEnv, shared_plugin_env

#: Plugins that would (rightly) fail or warn in every run; the suites exclude them.
QUIET = "SC_NEUROCORE_DISABLE_PLUGINS"
NOISY = "wrong_math,conflict_a,conflict_b,import_error,hook_raises,malformed,wrong_api"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> PluginEnv:
    return shared_plugin_env(tmp_path_factory)


PROJECTS = ("sc-neurocore-extra-surrogates", "sc-neurocore-composite")


@pytest.fixture(scope="module")
def suites(plugin_env: PluginEnv) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Both plugins' test suites, started together: each is one process on its own core."""
    started = {
        project: plugin_env.start(
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rN",
            cwd=plugin_env.sources / project,
            env={QUIET: NOISY},
        )
        for project in PROJECTS
    }
    yield started
    for process in started.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("project", PROJECTS)
def test_plugin_test_suite_is_the_conformance_kit_and_passes(
    suites: dict[str, subprocess.Popen[str]], project: str
) -> None:
    stdout, stderr = suites[project].communicate(timeout=PIP_TIMEOUT_S)
    assert suites[project].returncode == 0, stdout[-6000:] + stderr[-2000:]
    assert " passed" in stdout and " failed" not in stdout
    summary = stdout.strip().splitlines()[-1]
    assert int(summary.split(" passed")[0].split()[-1]) > 200  # the matrix, not a stub


def test_check_fails_on_a_plugin_with_wrong_math(plugin_env: PluginEnv) -> None:
    result = plugin_env.cli(
        "check",
        "--distribution",
        "scn-wrong-math",
        "-s",
        "wrong_grad_mul",
        "-s",
        "atan",
        "-k",
        "float32 and (exact_step or grad_mul)",
    )
    assert result.returncode == 1, result.stdout[-3000:]
    out = result.stdout
    assert "forward is not the exact step" in out  # the soft_forward path
    assert "wrong_grad_mul.grad_mul" in out  # grad_mul disagreeing with grad
    # "FAILED path::test_id - message": the message is there or not depending on width.
    failed = {
        line.split("::")[-1].split(" - ")[0].strip()
        for line in out.splitlines()
        if line.startswith("FAILED")
    }
    assert "test_forward_is_exact_step[atan@soft_forward-float32-cpu]" in failed
    assert "test_spec_grad_mul_matches_grad[wrong_grad_mul-float32-cpu]" in failed
    # the backward of the built-in paths uses grad_mul, so their gradient is caught too
    assert "test_gradient_matches_spec[wrong_grad_mul@legacy_autograd-float32-cpu]" in failed
    # ... while the forward of a correct path with that spec passes
    assert not any(f.startswith("test_forward_is_exact_step[wrong_grad_mul@leg") for f in failed)


# Each test spells out its own `sc-neurocore check` command line.
def test_check_selects_pairs_and_passes_for_a_good_subset(plugin_env: PluginEnv) -> None:
    result = plugin_env.cli(
        "check",
        "-s",
        "erfc",
        "-s",
        "atan",
        "-p",
        "composite",
        "-p",
        "legacy_autograd",
        "-v",
        "-k",
        "float64 or layouts or compile",
        **{QUIET: NOISY},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    ran = {
        line.split("[")[1].split("-")[0]
        for line in result.stdout.splitlines()
        if "PASSED" in line and "@" in line
    }
    assert ran == {
        "erfc@composite",
        "erfc@legacy_autograd",
        "atan@composite",
        "atan@legacy_autograd",
    }


def test_check_rejects_unknown_names_with_a_suggestion(plugin_env: PluginEnv) -> None:
    result = plugin_env.cli("check", "--surrogate", "gausian")
    assert result.returncode == 2
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "warning:" not in line]
    assert len(errors) == 1 and "Did you mean 'gaussian'" in errors[0]
