"""A neuron plugin for real: ``plugins/sc-neurocore-extra-neurons`` installed by pip into the
plugin venv of :mod:`tests.plugin_env`, then listed, run fused on the CPU against its stepwise
baseline by its own test suite (the conformance kit), and exported through ``torch.export``
and reloaded in a fresh process."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from .plugin_env import PIP_TIMEOUT_S, PluginEnv, shared_plugin_env
from .test_plugins_tutorial import QUIET  # the fixture plugins that would warn in every run

DISTRIBUTION = "sc-neurocore-extra-neurons"
NEURONS = ("refractory_lif", "two_compartment")  # third-party names come sorted


#: The kit's cases run here (each compiles its own C kernels): every neuron under every
#: installed surrogate with its own reset in float64, and under atan with every reset in both
#: dtypes; plus the distribution's own tests.  The plugin's CI runs the whole matrix.
SELECTION = "(subtract and float64) or atan or registered or soma or blocks"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> PluginEnv:
    return shared_plugin_env(tmp_path_factory)


@pytest.fixture(scope="module")
def suite(plugin_env: PluginEnv) -> Iterator[subprocess.Popen[str]]:
    """The plugin's test suite, started first: it runs on one core while the rest run."""
    process = plugin_env.start(
        "-m",
        "pytest",
        "-v",
        "-p",
        "no:cacheprovider",
        "-k",
        SELECTION,
        cwd=plugin_env.sources / DISTRIBUTION,
        env=QUIET,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_the_plugin_neurons_are_listed_with_their_provenance(
    plugin_env: PluginEnv, suite: subprocess.Popen[str]
) -> None:
    code = "import json, sc_neurocore; print(json.dumps(sc_neurocore.list_neurons()))"
    names = plugin_env.python_json(code, **QUIET)
    assert tuple(names[-2:]) == NEURONS and names[0] == "lif"
    infos = {info["name"]: info for info in plugin_env.cli_json("neurons", **QUIET)}
    for name in NEURONS:
        info = infos[name]
        assert (info["distribution"], info["version"], info["plugin"]) == (
            DISTRIBUTION,
            "0.1.0",
            "extra_neurons",
        )
        assert not info["builtin"] and info["decision"] == f"only provider: {DISTRIBUTION}"
        assert info["spiking"] and info["resets"] == ["subtract", "zero", "none"]
        assert info["kernels"]["cpu"]["kernel"] in ("native", "torch")
    assert infos["two_compartment"]["states"] == ["v", "d"]
    assert infos["refractory_lif"]["params"] == {"beta": 0.9, "threshold": 1.0, "rho": 0.6}
    assert infos["refractory_lif"]["reset"]["r"] == "r + s*(1 - r)"
    table = plugin_env.cli("neurons", **QUIET).stdout
    row = next(line for line in table.splitlines() if line.startswith("two_compartment "))
    assert row.endswith(DISTRIBUTION) and "v,d" in row
    plugins = {p["name"]: p for p in plugin_env.cli_json("plugins", **QUIET)}
    assert plugins["extra_neurons"]["provides"]["neurons"] == ["two_compartment", "refractory_lif"]


def test_its_suite_is_the_kit_and_runs_every_neuron_fused_against_stepwise(
    plugin_env: PluginEnv, suite: subprocess.Popen[str]
) -> None:
    stdout, stderr = suite.communicate(timeout=PIP_TIMEOUT_S)
    assert suite.returncode == 0, stdout[-6000:] + stderr[-2000:]
    passed = {line.split("::")[-1].split()[0] for line in stdout.splitlines() if " PASSED" in line}
    surrogates = plugin_env.python_json(
        "import json, sc_neurocore; print(json.dumps(sc_neurocore.list_surrogates()))", **QUIET
    )
    case = "test_neuron_fused_equals_stepwise[{}-{}@{}-{}-cpu]"
    expected = {case.format(name, "subtract", s, "float64") for name in NEURONS for s in surrogates}
    expected |= {
        case.format(name, reset, "atan", dtype)
        for name in NEURONS
        for reset in ("subtract", "zero", "none")
        for dtype in ("float64", "float32")
    }
    assert len(surrogates) > 6  # the extra surrogates are installed: plugin x plugin
    assert expected <= passed, sorted(expected - passed)[:5]
    assert "test_a_spike_blocks_the_next_input" in passed  # the plugin's own tests ran too
    assert not any("test_gradient_matches_spec" in name for name in passed)  # no pairs of its


EXPORT = """
import json, sys, torch
import sc_neurocore
from sc_neurocore.neurons import Neuron
torch.manual_seed(0)
layer = Neuron(sys.argv[2], fused=True, learn=("beta",), reset="zero")
x = torch.rand(10, 2, 5) * 1.5
program = torch.export.export(layer, (x,))
torch.export.save(program, sys.argv[1] + ".pt2")
out, final = layer(x)
torch.save((x, out, final), sys.argv[1] + ".io.pt")
targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
print(json.dumps([out.sum().item(), sorted(t for t in targets if "neuron" in t)]))
"""

LOAD = """
import json, sys, torch
import sc_neurocore
program = torch.export.load(sys.argv[1] + ".pt2")
x, out, final = torch.load(sys.argv[1] + ".io.pt")
got, got_final = program.module()(x)
same = torch.equal(got, out) and all(torch.equal(got_final[k], v) for k, v in final.items())
print(json.dumps(same))
"""


@pytest.mark.parametrize("name", NEURONS)
def test_exported_and_reloaded_in_a_fresh_process(plugin_env: PluginEnv, name: str) -> None:
    stem = str(plugin_env.root / f"export-{name}")
    saved = plugin_env.run("-c", EXPORT, stem, name, env=QUIET)
    assert saved.returncode == 0, saved.stderr[-3000:]
    spikes, targets = json.loads(saved.stdout.strip().splitlines()[-1])
    assert spikes > 0
    assert targets == [f"sc_neurocore_neuron.{name}_reset_zero.default"]
    loaded = plugin_env.run("-c", LOAD, stem, env=QUIET)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) is True


def test_its_triton_kernels_compile_for_sm_90(plugin_env: PluginEnv) -> None:
    """The kernels generated from the plugin's equations compile for an H100 (sm_90), no GPU
    needed: ``sc-neurocore kernels --compile`` in the venv where only pip put the neurons."""
    for name in NEURONS:
        rows = plugin_env.cli_json(
            "kernels", "--compile", "cuda:90", "--op", name, "--dtype", "float32", **QUIET
        )
        assert {row["kernel"] for row in rows} == {"forward", "backward"}, rows
        for row in rows:
            assert row["op"] == f"neuron:{name}" and row["status"] == "compiled", row
            assert row["spills"] == 0 and row["registers"] > 0, row
