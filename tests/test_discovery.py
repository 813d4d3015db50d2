"""Discovery and conflict rules in-process: parsing, validation, decisions.

These exercise the decision functions directly with constructed records; the real
behaviour with installed distributions is proven in ``test_plugins_installed``.
"""

from __future__ import annotations

import threading
import types
import warnings

import pluggy
import pytest
import torch

import sc_neurocore
from sc_neurocore import PluginWarning, hookimpl
from sc_neurocore.core import registry
from sc_neurocore.core.discovery import (
    DISABLE_VARIABLE,
    PluginRecord,
    _check_api_version,
    _collect,
    _env_names,
    _Skip,
    discover,
)
from sc_neurocore.core.hookspecs import PROJECT_NAME, SUPPORTED_PLUGIN_API_VERSIONS
from sc_neurocore.core.registry import Provided, _decide, parse_preferences


def record(name: str, distribution: str, builtin: bool = False) -> PluginRecord:
    return PluginRecord(name, distribution, "1.0", f"{name}_module", builtin, status="loaded")


def claim(name: str, distribution: str, builtin: bool = False) -> Provided:
    return Provided(item=object(), record=record(name, distribution, builtin))


def test_disable_list_parsing_ignores_blanks_and_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_VARIABLE, " a, b ,,c , My_Dist : d")
    assert _env_names(DISABLE_VARIABLE) == {"a", "b", "c", "my-dist:d"}
    monkeypatch.setenv(DISABLE_VARIABLE, "")
    assert _env_names(DISABLE_VARIABLE) == set()


def test_preference_parsing_normalizes_and_warns_on_malformed_entries() -> None:
    assert parse_preferences("bump=Dist_A, tanh = dist.b ,") == {
        "bump": "dist-a",
        "tanh": "dist-b",
    }
    with pytest.warns(PluginWarning, match="expected NAME=DISTRIBUTION"):
        assert parse_preferences("oops,x=y,=z") == {"x": "y"}


def test_builtin_always_wins_and_the_intruder_is_named() -> None:
    builtin, intruder = claim("surrogates", "sc-neurocore", True), claim("evil", "evil-dist")
    with pytest.warns(PluginWarning, match="'evil' from evil-dist tried to replace built-in"):
        winner, reason = _decide("surrogates", "atan", [intruder, builtin], {"atan": "evil-dist"})
    assert winner is builtin and reason.startswith("built-in")


def test_conflict_is_deterministic_warns_with_both_names_and_can_be_chosen() -> None:
    a, b = claim("pa", "dist-a"), claim("pb", "dist-b")
    for order in ([a, b], [b, a]):
        with pytest.warns(PluginWarning) as caught:
            winner, reason = _decide("surrogates", "bump", order, {})
        assert winner is a and "conflict" in reason
        message = str(caught[0].message)
        assert "dist-a" in message and "dist-b" in message and "prefer('bump'" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _decide("surrogates", "bump", [a, b], {"bump": "dist-b"})[0] is b
        assert _decide("surrogates", "bump", [a, b], {"bump": "pb"})[0] is b  # entry-point name
        assert _decide("paths", "solo", [b], {})[0] is b  # one provider: no conflict
    with pytest.warns(PluginWarning) as caught:
        assert _decide("surrogates", "bump", [a, b], {"bump": "dist-c"})[0] is a
    assert any("matches none of the providers" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("declared", "loads"), [(None, True), (1, True), (99, False), ("1", False), (0, False)]
)
def test_api_version_check(declared: object, loads: bool) -> None:
    plugin = types.SimpleNamespace()
    if declared is not None:
        plugin.SC_NEUROCORE_PLUGIN_API = declared
    rec = record("p", "d")
    if loads:
        _check_api_version(rec, plugin)
        return
    with pytest.raises(_Skip) as info:
        _check_api_version(rec, plugin)
    supported = ", ".join(str(v) for v in SUPPORTED_PLUGIN_API_VERSIONS)
    assert f"supports API version(s) {supported}" in str(info.value)
    assert repr(declared) in str(info.value)


def _manager() -> pluggy.PluginManager:
    from sc_neurocore.core import hookspecs

    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (42, "must return an iterable, got int"),
        ("fast_sigmoid", "must return an iterable, got str"),
        ([object()], "expected SurrogateSpec objects"),
    ],
)
def test_malformed_hook_results_are_rejected(returned: object, message: str) -> None:
    @hookimpl
    def sc_neurocore_register_surrogates() -> object:
        return returned

    plugin = types.SimpleNamespace(
        sc_neurocore_register_surrogates=sc_neurocore_register_surrogates
    )
    with pytest.raises(TypeError, match=message):
        _collect(_manager(), plugin, record("bad", "bad-dist"))


def test_a_plugin_returning_nothing_contributes_nothing() -> None:
    @hookimpl
    def sc_neurocore_register_paths() -> None:
        return None

    plugin = types.SimpleNamespace(sc_neurocore_register_paths=sc_neurocore_register_paths)
    assert _collect(_manager(), plugin, record("empty", "empty-dist")) == {"paths": []}


def test_builtins_cannot_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_VARIABLE, "surrogates")
    with pytest.warns(PluginWarning, match="built-in plugin 'surrogates'"):
        found = discover()
    statuses = {r.name: r.status for r in found.records if r.builtin}
    assert statuses["surrogates"] == "loaded"


def test_prefer_validates_its_arguments() -> None:
    with pytest.raises(TypeError, match="name"):
        sc_neurocore.prefer(3, "dist")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="distribution"):
        sc_neurocore.prefer("atan", "")


def test_prefer_keeps_builtins_and_can_be_undone() -> None:
    try:
        sc_neurocore.prefer("atan", "someone-else")
        assert sc_neurocore.get_spec("atan").description.startswith("Arctangent")
        assert registry._preferences == {"atan": "someone-else"}
    finally:
        sc_neurocore.prefer("atan", None)
    assert registry._preferences == {}


def test_concurrent_use_after_refresh_sees_one_table() -> None:
    sc_neurocore.refresh_plugins()
    barrier, tables = threading.Barrier(8), []

    def use() -> None:
        barrier.wait()
        tables.append(registry.table())
        sc_neurocore.get_surrogate("atan", "legacy_autograd")(torch.zeros(2))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tables) == 8 and all(t is tables[0] for t in tables)
