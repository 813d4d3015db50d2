"""Entry points in, validated contributions out: every plugin, built-ins included.

Each entry point of the ``sc_neurocore.plugins`` group is loaded and registered with
a pluggy ``PluginManager`` in isolation: a plugin that fails to import, declares an
incompatible contract version, raises in a hook or returns something malformed is
recorded as failed with a :class:`~sc_neurocore.core.errors.PluginWarning`, and nothing
it returned is used.  Nothing here decides conflicts; the registry does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginWarning
from .neuron_spec import NeuronSpec
from .settings import env_flag, env_names, normalize_distribution
from .spec import ExecutionPath, Implementation, SurrogateSpec

CORE_DISTRIBUTION = "sc-neurocore"
DISABLE_VARIABLE = "SC_NEUROCORE_DISABLE_PLUGINS"
NO_AUTOLOAD_VARIABLE = "SC_NEUROCORE_DISABLE_PLUGIN_AUTOLOAD"

#: Used only when the sc-neurocore metadata is missing (a bare source tree on sys.path).
BUILTIN_ENTRY_POINTS: dict[str, str] = {
    "surrogates": "sc_neurocore.surrogates",
    "neurons": "sc_neurocore.neuron_models",
    "custom_op": "sc_neurocore.paths.custom_op",
    "legacy_autograd": "sc_neurocore.paths.legacy_autograd",
}

#: hook name -> (contribution kind, expected type)
HOOKS: dict[str, tuple[str, type]] = {
    "sc_neurocore_register_surrogates": ("surrogates", SurrogateSpec),
    "sc_neurocore_register_paths": ("paths", ExecutionPath),
    "sc_neurocore_register_implementations": ("implementations", Implementation),
    "sc_neurocore_register_neurons": ("neurons", NeuronSpec),
}

LOADED, FAILED, DISABLED, SKIPPED = "loaded", "failed", "disabled", "skipped"


@dataclass
class PluginRecord:
    """One entry point, what became of it, and what it contributed."""

    name: str
    distribution: str
    version: str
    value: str
    builtin: bool
    status: str = SKIPPED
    error: str = ""
    api_version: int | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "value": self.value,
            "builtin": self.builtin,
            "status": self.status,
            "error": self.error,
            "api_version": self.api_version,
            "provides": {kind: list(names) for kind, names in self.provides.items()},
        }


@dataclass
class Discovered:
    """Everything discovery produced, in load order (built-ins first)."""

    records: list[PluginRecord]
    contributions: dict[str, list[tuple[Any, PluginRecord]]]


@dataclass(frozen=True)
class PluginSource:
    """One plugin to load: its record and how to get the plugin object."""

    record: PluginRecord
    load: Callable[[], object]


def _metadata_of(ep: Any) -> tuple[str, str]:
    """``(distribution, version)`` of an entry point; raises if the metadata is unreadable."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "(unknown)", ""
    name = dist.metadata["Name"]
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"its distribution metadata has no Name (got {name!r})")
    return name, str(dist.version or "")


def entry_point_sources() -> list[PluginSource]:
    """All entry points of the group, de-duplicated, built-ins first, then by name.

    An entry point whose distribution metadata cannot be read becomes a source that
    fails when loaded, so it is isolated and reported like any other broken plugin.
    """
    import importlib_metadata  # imported here so that `import sc_neurocore` stays cheap

    found: dict[tuple[str, str], PluginSource] = {}
    for index, ep in enumerate(importlib_metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)):
        try:
            dist_name, version = _metadata_of(ep)
        except Exception as error:  # malformed metadata must not break discovery
            record = PluginRecord(
                str(getattr(ep, "name", f"entry-point-{index}")),
                "(unreadable metadata)",
                "",
                str(getattr(ep, "value", "")),
                False,
            )
            found[("", f"{record.name}#{index}")] = PluginSource(record, _failing(error))
            continue
        builtin = normalize_distribution(dist_name) == CORE_DISTRIBUTION and ep.value.startswith(
            "sc_neurocore."
        )
        key = (normalize_distribution(dist_name), ep.name)
        # A distribution seen twice (editable + wheel, symlinked site-packages): keep one.
        record = PluginRecord(ep.name, dist_name, version, ep.value, builtin)
        found.setdefault(key, PluginSource(record, ep.load))
    sources = sorted(
        found.values(),
        key=lambda source: (
            not source.record.builtin,
            source.record.name.lower(),
            normalize_distribution(source.record.distribution),
        ),
    )
    if not any(source.record.builtin for source in sources):
        sources = builtin_sources() + sources
    return sources


def builtin_sources() -> list[PluginSource]:
    """The built-in plugins by module name: for a bare source tree without metadata."""
    import importlib

    from .version import __version__

    return [
        PluginSource(
            PluginRecord(name, CORE_DISTRIBUTION, __version__, value, True),
            lambda value=value: importlib.import_module(value),  # type: ignore[misc]
        )
        for name, value in BUILTIN_ENTRY_POINTS.items()
    ]


def _failing(error: Exception) -> Callable[[], object]:
    def load() -> object:
        raise error

    return load


def _check_api_version(record: PluginRecord, plugin: object) -> None:
    declared = getattr(plugin, hookspecs.PLUGIN_API_ATTRIBUTE, None)
    if declared is None:
        return
    record.api_version = declared if isinstance(declared, int) else None
    if declared not in hookspecs.SUPPORTED_PLUGIN_API_VERSIONS:
        supported = ", ".join(str(v) for v in hookspecs.SUPPORTED_PLUGIN_API_VERSIONS)
        raise _Skip(
            f"written for plugin API {declared!r}; this sc-neurocore supports API version(s) "
            f"{supported}; install a release of the plugin that targets one of those"
        )


class _Skip(Exception):
    """The plugin is well-formed but must not be loaded here."""


def _register(manager: pluggy.PluginManager, plugin: object, record: PluginRecord) -> None:
    """Register one plugin with pluggy, which validates its hook implementations."""
    manager.register(plugin, name=plugin_name(record))
    unknown = [
        caller.name for caller in manager.get_hookcallers(plugin) or [] if caller.name not in HOOKS
    ]
    if unknown:
        raise TypeError(f"unknown hook(s) {unknown}; known hooks are {sorted(HOOKS)}")


def plugin_name(record: PluginRecord) -> str:
    """The name a plugin is registered under with pluggy: ``distribution:entry-point``."""
    return f"{record.distribution}:{record.name}"


def _call_one(manager: pluggy.PluginManager, hook: str, plugin: object) -> list[Any]:
    """Call ``hook`` of ``plugin`` alone, through pluggy (its own wrappers apply), and
    type-check every returned item."""
    others = [other for other in manager.get_plugins() if other is not plugin]
    caller = manager.subset_hook_caller(hook, remove_plugins=others)
    kind, expected = HOOKS[hook]
    items: list[Any] = []
    for returned in caller():
        if returned is None:
            continue
        if isinstance(returned, (str, bytes)) or not isinstance(returned, Iterable):
            raise TypeError(f"{hook}() must return an iterable, got {type(returned).__name__}")
        for item in returned:
            if not isinstance(item, expected):
                raise TypeError(
                    f"{hook}() returned {type(item).__name__} {item!r}; "
                    f"expected {expected.__name__} objects"
                )
            items.append(item)
    return items


def _label(item: Any) -> str:
    if isinstance(item, Implementation):
        return f"{item.surrogate}@{item.path}"
    return str(item.name)


def _load(
    manager: pluggy.PluginManager, sources: Iterable[PluginSource], warn: bool
) -> tuple[list[PluginRecord], dict[int, object]]:
    """Import and register every enabled plugin, each in isolation."""
    disabled = env_names(DISABLE_VARIABLE)
    no_autoload = env_flag(NO_AUTOLOAD_VARIABLE, False)
    records: list[PluginRecord] = []
    plugins: dict[int, object] = {}  # id(record) -> plugin object
    seen: dict[int, PluginRecord] = {}  # id(plugin) -> record
    for source in sources:
        record = source.record
        records.append(record)
        if not record.builtin and no_autoload:
            record.status, record.error = DISABLED, f"{NO_AUTOLOAD_VARIABLE} is set"
            continue
        # "name" disables that entry point of any distribution, "dist:name" of one only.
        qualified = f"{normalize_distribution(record.distribution)}:{record.name}"
        if record.name in disabled or qualified in disabled:
            if record.builtin:
                _warn(
                    warn,
                    f"{DISABLE_VARIABLE} names built-in plugin {record.name!r}, "
                    "which cannot be disabled",
                )
            else:
                record.status, record.error = DISABLED, f"listed in {DISABLE_VARIABLE}"
                continue
        try:
            plugin = source.load()
            twin = seen.get(id(plugin))
            if twin is not None:
                record.status = SKIPPED
                record.error = (
                    f"same object as entry point {twin.name!r} of {twin.distribution}; loaded once"
                )
                continue
            _check_api_version(record, plugin)
            hash(plugin)  # pluggy keeps plugins in sets: a module, class or plain instance
            _register(manager, plugin, record)
        except _Skip as skip:
            record.status, record.error = SKIPPED, str(skip)
            _warn(warn, _describe(record))
            continue
        except (Exception, SystemExit) as error:  # a broken plugin must never break core
            _fail(manager, record, error, warn)
            continue
        seen[id(plugin)] = record
        plugins[id(record)] = plugin
    return records, plugins


def _fail(
    manager: pluggy.PluginManager, record: PluginRecord, error: BaseException, warn: bool
) -> None:
    record.status, record.error = FAILED, f"{type(error).__name__}: {error}"
    _warn(warn, _describe(record))
    if manager.has_plugin(plugin_name(record)):
        manager.unregister(name=plugin_name(record))


def discover(sources: Iterable[PluginSource] | None = None, warn: bool = True) -> Discovered:
    """Load every plugin (default: the entry-point group) and collect what each contributes.

    Hooks are called one plugin at a time, in the order pluggy would call them
    (``tryfirst``/``trylast`` apply), through a hook caller holding that plugin alone: a
    plugin that raises, or returns something malformed, is failed as a whole and nothing
    it returned from any hook is used.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    records, plugins = _load(manager, entry_point_sources() if sources is None else sources, warn)
    by_plugin = {id(plugins[id(record)]): record for record in records if id(record) in plugins}
    pending: dict[int, dict[str, list[Any]]] = {id(record): {} for record in records}
    for hook in HOOKS:
        # pluggy calls implementations from the end of this list: that is the call order.
        for impl in reversed(getattr(manager.hook, hook).get_hookimpls()):
            record = by_plugin[id(impl.plugin)]
            if record.status == FAILED:
                continue
            try:
                pending[id(record)][HOOKS[hook][0]] = _call_one(manager, hook, impl.plugin)
            except (Exception, SystemExit) as error:
                _fail(manager, record, error, warn)
    contributions: dict[str, list[tuple[Any, PluginRecord]]] = {
        kind: [] for kind, _ in HOOKS.values()
    }
    for record in records:
        if id(record) not in plugins or record.status == FAILED:
            continue
        record.status = LOADED
        for kind, items in pending[id(record)].items():
            record.provides[kind] = [_label(item) for item in items]
            contributions[kind].extend((item, record) for item in items)
    return Discovered(records, contributions)


def _describe(record: PluginRecord) -> str:
    outcome = "failed" if record.status == FAILED else f"was {record.status}"
    return (
        f"sc_neurocore plugin {record.name!r} ({record.value}) from distribution "
        f"{record.distribution} {record.version} {outcome}: {record.error}"
    )


def _warn(enabled: bool, message: str) -> None:
    if enabled:
        warnings.warn(message, PluginWarning, stacklevel=4)
