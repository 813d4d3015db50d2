"""Discovery and conflict rules in-process: parsing, validation, decisions, isolation.

Registries here are built from given plugin objects (``Registry.from_plugins``), so no
private state is touched; the behaviour with installed distributions is proven in
``test_plugins_installed``.
"""

from __future__ import annotations

import threading
import types
import warnings

import pytest
import torch

import sc_neurocore
from sc_neurocore import ExecutionPath, Implementation, PluginWarning, Registry, hookimpl
from sc_neurocore.core.conflicts import Provided, decide, parse_preferences
from sc_neurocore.core.discovery import (
    DISABLE_VARIABLE,
    PluginRecord,
    PluginSource,
    builtin_sources,
    discover,
)
from sc_neurocore.core.hookspecs import SUPPORTED_PLUGIN_API_VERSIONS
from sc_neurocore.core.settings import env_names


def record(name: str, distribution: str, builtin: bool = False) -> PluginRecord:
    return PluginRecord(name, distribution, "1.0", f"{name}_module", builtin, status="loaded")


def claim(name: str, distribution: str, builtin: bool = False) -> Provided:
    return Provided(item=object(), record=record(name, distribution, builtin))


def plugin_module(name: str, **hooks: object) -> types.ModuleType:
    """A plugin as entry points deliver them: a module with hook functions."""
    module = types.ModuleType(name)
    for attribute, value in hooks.items():
        setattr(module, attribute, value)
    return module


def only_record(registry: Registry, name: str) -> PluginRecord:
    return next(r for r in registry.table().discovered.records if r.name == name)


def test_disable_list_parsing_ignores_blanks_and_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_VARIABLE, " a, b ,,c , My_Dist : d")
    assert env_names(DISABLE_VARIABLE) == {"a", "b", "c", "my-dist:d"}
    monkeypatch.setenv(DISABLE_VARIABLE, "")
    assert env_names(DISABLE_VARIABLE) == set()


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
        winner, reason = decide("surrogates", "atan", [intruder, builtin], {"atan": "evil-dist"})
    assert winner is builtin and reason.startswith("built-in")


def test_conflict_is_deterministic_warns_with_both_names_and_can_be_chosen() -> None:
    a, b = claim("pa", "dist-a"), claim("pb", "dist-b")
    for order in ([a, b], [b, a]):
        with pytest.warns(PluginWarning) as caught:
            winner, reason = decide("surrogates", "bump", order, {})
        assert winner is a and "conflict" in reason
        message = str(caught[0].message)
        assert "dist-a" in message and "dist-b" in message and "prefer('bump'" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert decide("surrogates", "bump", [a, b], {"bump": "dist-b"})[0] is b
        assert decide("surrogates", "bump", [a, b], {"bump": "pb"})[0] is b  # entry-point name
        assert decide("paths", "solo", [b], {})[0] is b  # one provider: no conflict
    with pytest.warns(PluginWarning) as caught:
        assert decide("surrogates", "bump", [a, b], {"bump": "dist-c"})[0] is a
    assert any("matches none of the providers" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("declared", "loads"), [(None, True), (1, True), (99, False), ("1", False), (0, False)]
)
def test_api_version_check(declared: object, loads: bool) -> None:
    plugin = plugin_module("versioned")
    if declared is not None:
        plugin.SC_NEUROCORE_PLUGIN_API = declared
    registry = Registry.from_plugins({"p": plugin})
    if loads:
        assert only_record(registry, "p").status == "loaded"
        return
    with pytest.warns(PluginWarning, match="was skipped"):
        found = only_record(registry, "p")
    supported = ", ".join(str(v) for v in SUPPORTED_PLUGIN_API_VERSIONS)
    assert found.status == "skipped"
    assert f"supports API version(s) {supported}" in found.error
    assert repr(declared) in found.error


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (42, "must return an iterable, got int"),
        ("fast_sigmoid", "must return an iterable, got str"),
        ([object()], "expected SurrogateSpec objects"),
    ],
)
def test_malformed_hook_results_fail_the_plugin(returned: object, message: str) -> None:
    @hookimpl
    def sc_neurocore_register_surrogates() -> object:
        return returned

    plugin = plugin_module("bad", sc_neurocore_register_surrogates=sc_neurocore_register_surrogates)
    registry = Registry.from_plugins({"bad": plugin}, with_builtins=True)
    with pytest.warns(PluginWarning, match="'bad'.* failed"):
        found = only_record(registry, "bad")
    assert found.status == "failed" and message in found.error
    assert registry.list_surrogates()[:6] == sc_neurocore.list_surrogates()[:6]


def test_a_plugin_returning_nothing_contributes_nothing() -> None:
    @hookimpl
    def sc_neurocore_register_paths() -> None:
        return None

    plugin = plugin_module("empty", sc_neurocore_register_paths=sc_neurocore_register_paths)
    found = only_record(Registry.from_plugins({"empty": plugin}), "empty")
    assert found.status == "loaded" and found.provides == {"paths": []}


def test_a_plugin_failing_in_a_later_hook_contributes_nothing_at_all() -> None:
    path = ExecutionPath("half", "a path from a plugin that breaks later", lambda spec: spec.grad)

    class Plugin:
        @hookimpl
        def sc_neurocore_register_paths(self) -> tuple[ExecutionPath, ...]:
            return (path,)

        @hookimpl
        def sc_neurocore_register_implementations(self) -> tuple[Implementation, ...]:
            raise RuntimeError("boom")

    registry = Registry.from_plugins({"half": Plugin()})
    with pytest.warns(PluginWarning, match="RuntimeError: boom"):
        assert registry.list_paths() == ()
    assert only_record(registry, "half").status == "failed"


def test_tryfirst_orders_the_calls_through_pluggy() -> None:
    calls: list[str] = []

    def plugin(name: str, **options: bool) -> object:
        @hookimpl(**options)
        def sc_neurocore_register_paths() -> tuple[ExecutionPath, ...]:
            calls.append(name)
            return ()

        return plugin_module(name, sc_neurocore_register_paths=sc_neurocore_register_paths)

    Registry.from_plugins({"a": plugin("a"), "b": plugin("b", tryfirst=True)}).table()
    assert calls == ["b", "a"]


def test_unreadable_source_metadata_is_isolated() -> None:
    def broken() -> object:
        raise ValueError("its distribution metadata has no Name (got None)")

    source = PluginSource(PluginRecord("nameless", "(unreadable metadata)", "", "x", False), broken)
    with pytest.warns(PluginWarning, match="no Name"):
        found = discover([*builtin_sources(), source])
    statuses = {r.name: r.status for r in found.records}
    assert statuses["nameless"] == "failed" and statuses["surrogates"] == "loaded"


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
    registry = Registry(builtin_sources())
    registry.prefer("atan", "someone-else")
    assert registry.get_spec("atan").description.startswith("Arctangent")
    assert registry.table().decisions[("surrogates", "atan")] == "built-in"
    registry.prefer("atan", None)
    assert registry.get_spec("atan").description.startswith("Arctangent")


def test_concurrent_use_after_refresh_sees_one_table() -> None:
    registry = Registry(builtin_sources())
    barrier, tables = threading.Barrier(8), []

    def use() -> None:
        barrier.wait()
        tables.append(registry.table())
        registry.get_surrogate("atan", "legacy_autograd")(torch.zeros(2))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tables) == 8 and all(t is tables[0] for t in tables)


def test_refresh_replaces_every_cache() -> None:
    registry = Registry(builtin_sources())
    before = registry.get_surrogate("atan", "legacy_autograd")
    old = registry.table()
    registry.refresh()
    new = registry.table()
    assert new is not old and new.generation > old.generation
    assert not new.bound and not new.fast and not new.forms
    assert registry.get_surrogate("atan", "legacy_autograd") == before
    registry.set_default_path("legacy_autograd")
    assert registry.get_default_path() == "legacy_autograd" and not registry.table().fast
    registry.refresh()
    assert registry.get_default_path() == "legacy_autograd"  # the user's choice survives


def _implementations(*pairs: tuple[str, str]) -> types.ModuleType:
    def fn(x: torch.Tensor, **params: float) -> torch.Tensor:
        return torch.full_like(x, 7.0)

    @hookimpl
    def sc_neurocore_register_implementations() -> list[Implementation]:
        return [Implementation(surrogate, path, fn) for surrogate, path in pairs]

    return plugin_module(
        "impls", sc_neurocore_register_implementations=sc_neurocore_register_implementations
    )


def test_an_implementation_cannot_replace_a_builtin_pair() -> None:
    registry = Registry.from_plugins(
        {"impls": _implementations(("atan", "custom_op"))}, with_builtins=True
    )
    with pytest.warns(
        PluginWarning, match="tried to replace built-in implementation 'atan@custom_op'"
    ):
        fn = registry.get_surrogate("atan", "custom_op")
    assert torch.equal(fn(torch.tensor([-1.0, 1.0])), torch.tensor([0.0, 1.0]))
    assert ("atan", "custom_op") not in registry.table().implementations


def test_an_implementation_for_a_plugin_surrogate_is_used() -> None:
    spec = sc_neurocore.SurrogateSpec(
        name="bump", params=(), grad=lambda x: torch.ones_like(x), description="test bump"
    )

    @hookimpl
    def sc_neurocore_register_surrogates() -> list[sc_neurocore.SurrogateSpec]:
        return [spec]

    registry = Registry.from_plugins(
        {
            "bump": plugin_module(
                "bump", sc_neurocore_register_surrogates=sc_neurocore_register_surrogates
            ),
            "impls": _implementations(("bump", "legacy_autograd")),
        },
        with_builtins=True,
    )
    out = registry.get_surrogate("bump", "legacy_autograd")(torch.zeros(3))
    assert torch.equal(out, torch.full((3,), 7.0))
