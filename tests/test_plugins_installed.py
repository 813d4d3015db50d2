"""Third-party plugins for real: distributions built and installed by pip into a venv.

Everything here runs in the subprocess world of :mod:`tests.plugin_env`: the two
plugin distributions of ``plugins/`` plus the broken, conflicting and duplicated
ones of :mod:`tests.plugin_fixtures`, discovered through their installed entry
points (nothing is monkeypatched).
"""

from __future__ import annotations

import json
import sys

import pytest

from .plugin_env import PluginEnv, shared_plugin_env
from .plugin_fixtures import LATE_PROJECT, LATE_SOURCE, write_project

EXTRA = (
    "rectangular",
    "exponential",
    "gaussian",
    "multi_gaussian",
    "piecewise_quadratic",
    "soft_sign",
    "erfc",
    "tanh",
)
BROKEN = ("import_error", "hook_raises", "malformed", "wrong_api")


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> PluginEnv:
    return shared_plugin_env(tmp_path_factory)


WARNINGS_PROBE = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import sc_neurocore, torch
    names = sc_neurocore.list_surrogates()
    x = torch.linspace(-1, 1, 5, requires_grad=True)
    sc_neurocore.get_surrogate("gaussian", "composite")(x).sum().backward()
    gap = sc_neurocore.explain("twice_only", "composite").as_dict()
    try:
        sc_neurocore.get_surrogate("atan", "elsewhere")
    except sc_neurocore.PathUnavailableError as error:
        unavailable = str(error)
print(json.dumps({
    "surrogates": list(names),
    "paths": list(sc_neurocore.list_paths()),
    "grad": x.grad.tolist(),
    "api": sc_neurocore.PLUGIN_API_VERSION,
    "atan": sc_neurocore.get_spec("atan").description,
    "gap": [gap["resolved"], gap["reason"]],
    "unavailable": unavailable,
    "warnings": [[w.category.__name__, str(w.message),
                  issubclass(w.category, UserWarning)] for w in caught
                 if issubclass(w.category, sc_neurocore.PluginWarning)],
}))
"""


def _by_name(objects: list[dict]) -> dict[str, dict]:
    return {obj["name"]: obj for obj in objects}


def test_plugins_listing_shows_each_entry_point_with_its_fate(plugin_env: PluginEnv) -> None:
    plugins = plugin_env.cli_json("plugins")
    names = [p["name"] for p in plugins]
    builtins = names[:4]  # surrogates, neurons and the two built-in paths, by name
    assert builtins == sorted(builtins) and {"surrogates", "neurons", "custom_op"} <= set(builtins)
    assert len(names) == len(set(names)), "an entry point is listed twice"
    table = _by_name(plugins)
    for name, dist in (
        ("extra_surrogates", "sc-neurocore-extra-surrogates"),
        ("composite", "sc-neurocore-composite"),
    ):
        assert table[name]["distribution"] == dist
        assert (table[name]["version"], table[name]["status"], table[name]["error"]) == (
            "0.1.0",
            "loaded",
            "",
        )
    assert table["extra_surrogates"]["provides"]["surrogates"] == list(EXTRA)
    assert table["import_error"]["status"] == "failed"
    assert "ModuleNotFoundError" in table["import_error"]["error"]
    assert table["hook_raises"]["status"] == "failed"
    assert "boom from hook_raises" in table["hook_raises"]["error"]
    assert table["malformed"]["status"] == "failed"
    assert "expected ExecutionPath" in table["malformed"]["error"]
    assert table["wrong_api"]["status"] == "skipped"
    assert "plugin API 99" in table["wrong_api"]["error"]
    assert "version(s) 1" in table["wrong_api"]["error"]
    assert all(table[name]["distribution"] == "scn-broken" for name in BROKEN)
    overridden = table["conflict_a"]["overridden"]
    assert any(o.startswith("surrogate 'atan': sc-neurocore wins (built-in") for o in overridden)
    assert any(o.startswith("path 'custom_op': sc-neurocore wins (built-in") for o in overridden)


def test_broken_plugins_warn_and_everything_else_works(plugin_env: PluginEnv) -> None:
    result = plugin_env.python_json(WARNINGS_PROBE)
    assert result["api"] == 1
    assert result["atan"].startswith("Arctangent")  # the built-in, not scn-conflict-a's
    resolved, reason = result["gap"]
    assert not resolved and "no primitive" in reason
    assert "'elsewhere'" in result["unavailable"]
    assert "needs hardware not present" in result["unavailable"]
    assert set(EXTRA) <= set(result["surrogates"])
    assert "never_loaded" not in result["surrogates"]  # from the wrong-API plugin
    assert result["paths"][:2] == ["custom_op", "legacy_autograd"]
    assert "composite" in result["paths"]
    assert all(g > 0 for g in result["grad"])  # gaussian on composite really ran
    messages = [message for _, message, is_user_warning in result["warnings"]]
    assert all(is_user_warning for *_, is_user_warning in result["warnings"])
    for entry_point in BROKEN:
        matching = [m for m in messages if f"'{entry_point}'" in m]
        assert matching, f"no PluginWarning names {entry_point}: {messages}"
        assert "scn-broken" in matching[0]


def test_every_extra_surrogate_runs_on_every_path(plugin_env: PluginEnv) -> None:
    surrogates = _by_name(plugin_env.cli_json("surrogates"))
    for name in EXTRA:
        info = surrogates[name]
        assert info["distribution"] == "sc-neurocore-extra-surrogates"
        assert info["reference"] and info["has_primitive"]
        assert {"custom_op", "legacy_autograd", "composite"} <= set(info["paths"])


def test_paths_listing_reports_provider_and_partial_coverage(plugin_env: PluginEnv) -> None:
    paths = _by_name(plugin_env.cli_json("paths"))
    for key in ("name", "distribution", "version", "available", "surrogates"):
        assert all(key in info for info in paths.values())
    composite = paths["composite"]
    assert (composite["distribution"], composite["version"], composite["available"]) == (
        "sc-neurocore-composite",
        "0.1.0",
        True,
    )
    assert set(EXTRA) <= set(composite["surrogates"])
    assert "twice_only" not in composite["surrogates"]
    assert "no primitive" in composite["missing"]["twice_only"]
    assert "twice_only" in paths["custom_op"]["surrogates"]
    elsewhere = paths["elsewhere"]
    assert not elsewhere["available"] and elsewhere["reason"] == "needs hardware not present"
    assert elsewhere["distribution"] == "scn-conflict-b" and elsewhere["surrogates"] == []


def test_surrogates_table_shows_the_coverage_matrix_with_gaps(plugin_env: PluginEnv) -> None:
    result = plugin_env.cli("surrogates")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    column = header.index("composite")
    row = next(line.split() for line in lines if line.startswith("twice_only "))
    assert row[column] == "-"  # the gap is shown, not hidden
    gaussian = next(line.split() for line in lines if line.startswith("gaussian "))
    assert gaussian[column] == "yes"
    assert gaussian[header.index("elsewhere")] == "n/a"  # an unavailable path
    assert "twice_only@composite" in lines[-1]
    # plugin warnings are one line each on stderr, never on stdout
    plugin_lines = [line for line in result.stderr.splitlines() if "plugin" in line]
    assert plugin_lines and all(line.startswith("sc-neurocore: warning: ") for line in plugin_lines)
    assert "PluginWarning" not in result.stderr


def test_conflicting_names_are_reported_resolved_and_choosable(plugin_env: PluginEnv) -> None:
    default = plugin_env.cli("explain", "bump", "--path", "legacy_autograd", "--json")
    assert default.returncode == 0, default.stderr
    warning = next(line for line in default.stderr.splitlines() if "'bump'" in line)
    assert "scn-conflict-a" in warning and "scn-conflict-b" in warning
    explanation = json.loads(default.stdout)
    specs = [c for c in explanation["candidates"] if c["kind"] == "surrogate spec"]
    assert [(c["distribution"], c["chosen_spec"]) for c in specs] == [
        ("scn-conflict-a", True),
        ("scn-conflict-b", False),
    ]
    assert "first by distribution name" in explanation["reason"]

    chosen = plugin_env.cli("explain", "bump", "--json", SC_NEUROCORE_PREFER="bump=scn-conflict-b")
    winner = [c for c in json.loads(chosen.stdout)["candidates"] if c.get("chosen_spec")]
    assert winner[0]["distribution"] == "scn-conflict-b"
    assert "'bump' is provided by several" not in chosen.stderr
    code = (
        "import json, sc_neurocore\n"
        "before = sc_neurocore.get_spec('bump').description\n"
        "sc_neurocore.prefer('bump', 'scn-conflict-b')\n"
        "print(json.dumps([before, sc_neurocore.get_spec('bump').description]))"
    )
    assert plugin_env.python_json(code) == ["bump from A", "bump from B"]


def test_a_plugin_cannot_replace_a_builtin(plugin_env: PluginEnv) -> None:
    result = plugin_env.cli("explain", "atan", "--path", "custom_op", "--json")
    explanation = json.loads(result.stdout)
    chosen = [c for c in explanation["candidates"] if c.get("chosen") or c.get("chosen_spec")]
    assert {c["distribution"] for c in chosen} == {"sc-neurocore"}
    refused = {
        c["kind"] for c in explanation["candidates"] if c["distribution"] == "scn-conflict-a"
    }
    assert refused == {"surrogate spec", "path 'custom_op' build(spec)"}
    assert "tried to replace built-in surrogate 'atan'" in result.stderr
    assert "tried to replace built-in path 'custom_op'" in result.stderr


def test_disable_variables(plugin_env: PluginEnv) -> None:
    disabled = _by_name(
        plugin_env.cli_json(
            "plugins",
            SC_NEUROCORE_DISABLE_PLUGINS=" extra_surrogates , import_error,surrogates,"
            "SCN_Broken:malformed,other-dist:hook_raises",
        )
    )
    assert disabled["extra_surrogates"]["status"] == "disabled"
    assert "SC_NEUROCORE_DISABLE_PLUGINS" in disabled["extra_surrogates"]["error"]
    assert disabled["import_error"]["status"] == "disabled"
    assert disabled["malformed"]["status"] == "disabled"  # distribution:name form
    assert disabled["hook_raises"]["status"] == "failed"  # qualified by another distribution
    assert disabled["surrogates"]["status"] == "loaded"  # built-ins cannot be disabled
    assert disabled["composite"]["status"] == "loaded"

    code = (
        "import json, warnings, sc_neurocore\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    report = sc_neurocore.plugin_report()\n"
        "print(json.dumps([list(sc_neurocore.list_paths()), len(caught),"
        " [r['name'] for r in report if r['status'] != 'disabled']]))"
    )
    paths, warned, active = plugin_env.python_json(code, SC_NEUROCORE_DISABLE_PLUGIN_AUTOLOAD="1")
    assert paths == ["custom_op", "legacy_autograd"]
    assert warned == 0  # no third-party plugin was even imported
    assert set(active) == {"surrogates", "neurons", "custom_op", "legacy_autograd"}


def test_a_distribution_seen_twice_is_loaded_once(plugin_env: PluginEnv) -> None:
    code = (
        "import json, warnings, importlib_metadata, sc_neurocore\n"
        "copies = [d for d in importlib_metadata.distributions() "
        "if d.metadata['Name'] == 'scn-twice']\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    report = sc_neurocore.plugin_report()\n"
        "print(json.dumps([len(copies), [r['name'] for r in report],"
        " [str(w.message) for w in caught]]))"
    )
    copies, names, messages = plugin_env.python_json(code)
    assert copies == 2  # the environment really holds it twice
    assert names.count("twice") == 1
    assert not [m for m in messages if "twice" in m]


def test_concurrent_first_use_loads_each_plugin_once(plugin_env: PluginEnv) -> None:
    code = (
        "import json, threading, sc_neurocore\n"
        "barrier = threading.Barrier(16)\n"
        "seen = []\n"
        "def use():\n"
        "    barrier.wait()\n"
        "    seen.append(sc_neurocore.list_surrogates())\n"
        "threads = [threading.Thread(target=use) for _ in range(16)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "from scn_twice import twice\n"
        "print(json.dumps([twice.CALLS, len(set(seen)), len(seen)]))"
    )
    calls, distinct, total = plugin_env.python_json(code)
    assert (calls, distinct, total) == (1, 1, 16)


def test_refresh_plugins_sees_a_package_installed_while_running(plugin_env: PluginEnv) -> None:
    source = write_project(plugin_env.root / "late-src", LATE_PROJECT, {"late": LATE_SOURCE})
    target = plugin_env.root / "late-target"
    target.mkdir()
    pip = [sys.executable, "-m", "pip", "--python", str(plugin_env.python), "install", "-q"]
    pip += ["--no-deps", *plugin_env.build_flags, "--target", str(target), str(source)]
    code = (
        "import json, subprocess, sys, sc_neurocore\n"
        "before = 'late_arrival' in sc_neurocore.list_surrogates()\n"
        "subprocess.run(json.loads(sys.argv[1]), check=True)\n"
        "sc_neurocore.refresh_plugins()\n"
        "after = 'late_arrival' in sc_neurocore.list_surrogates()\n"
        "print(json.dumps([before, after]))"
    )
    result = plugin_env.run("-c", code, json.dumps(pip), env={"PYTHONPATH": str(target)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [False, True]
