"""Entry points in, validated contributions out: every plugin, built-ins included.

Each entry point of the ``sc_neurocore.plugins`` group is loaded and registered with
a pluggy ``PluginManager`` in isolation: a plugin that fails to import, declares an
incompatible contract version, raises in a hook or returns something malformed is
recorded as failed with a :class:`~sc_neurocore.core.errors.PluginWarning`, and nothing
it returned is used.  Nothing here decides conflicts; the registry does.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginWarning
from .spec import ExecutionPath, Implementation, SurrogateSpec

CORE_DISTRIBUTION = "sc-neurocore"
DISABLE_VARIABLE = "SC_NEUROCORE_DISABLE_PLUGINS"
NO_AUTOLOAD_VARIABLE = "SC_NEUROCORE_DISABLE_PLUGIN_AUTOLOAD"

#: Used only when the sc-neurocore metadata is missing (a bare source tree on sys.path).
BUILTIN_ENTRY_POINTS: dict[str, str] = {
    "surrogates": "sc_neurocore.surrogates",
    "custom_op": "sc_neurocore.paths.custom_op",
    "legacy_autograd": "sc_neurocore.paths.legacy_autograd",
}

#: hook name -> (contribution kind, expected type)
HOOKS: dict[str, tuple[str, type]] = {
    "sc_neurocore_register_surrogates": ("surrogates", SurrogateSpec),
    "sc_neurocore_register_paths": ("paths", ExecutionPath),
    "sc_neurocore_register_implementations": ("implementations", Implementation),
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


def _normalize(distribution: str) -> str:
    return distribution.lower().replace("_", "-").replace(".", "-")


def _env_names(variable: str) -> set[str]:
    """Comma-separated names; a ``distribution:name`` entry has its distribution normalized."""
    names = set()
    for part in os.environ.get(variable, "").split(","):
        part = part.strip()
        if ":" in part:
            distribution, _, name = part.partition(":")
            part = f"{_normalize(distribution.strip())}:{name.strip()}"
        if part:
            names.add(part)
    return names


def _entry_points() -> list[tuple[PluginRecord, Any]]:
    """All entry points of the group, de-duplicated, built-ins first, then by name."""
    import importlib_metadata  # imported here so that `import sc_neurocore` stays cheap

    found: dict[tuple[str, str], tuple[PluginRecord, Any]] = {}
    for ep in importlib_metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        dist_name = (dist.metadata["Name"] if dist is not None else None) or "(unknown)"
        version = dist.version if dist is not None else ""
        builtin = _normalize(dist_name) == CORE_DISTRIBUTION and ep.value.startswith(
            "sc_neurocore."
        )
        key = (_normalize(dist_name), ep.name)
        # A distribution seen twice (editable + wheel, symlinked site-packages): keep one.
        found.setdefault(key, (PluginRecord(ep.name, dist_name, version, ep.value, builtin), ep))
    entries = sorted(
        found.values(),
        key=lambda item: (
            not item[0].builtin,
            item[0].name.lower(),
            _normalize(item[0].distribution),
        ),
    )
    if not any(record.builtin for record, _ in entries):
        from .. import __version__

        fallback = [
            (PluginRecord(name, CORE_DISTRIBUTION, __version__, value, True), None)
            for name, value in BUILTIN_ENTRY_POINTS.items()
        ]
        entries = fallback + entries
    return entries


def _load_object(record: PluginRecord, entry_point: Any) -> Any:
    if entry_point is not None:
        return entry_point.load()
    import importlib

    return importlib.import_module(record.value)


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


def _collect(
    manager: pluggy.PluginManager, plugin: object, record: PluginRecord
) -> dict[str, list[Any]]:
    """Call each of this plugin's hooks and type-check every returned item."""
    name = manager.register(plugin, name=f"{record.distribution}:{record.name}")
    if name is None:
        raise _Skip("blocked")
    unknown = [
        caller.name for caller in manager.get_hookcallers(plugin) or [] if caller.name not in HOOKS
    ]
    if unknown:
        raise TypeError(f"unknown hook(s) {unknown}; known hooks are {sorted(HOOKS)}")
    contributions: dict[str, list[Any]] = {}
    for caller in manager.get_hookcallers(plugin) or []:
        kind, expected = HOOKS[caller.name]
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            returned = impl.function()
            if returned is None:
                returned = ()
            if isinstance(returned, (str, bytes)) or not isinstance(returned, Iterable):
                raise TypeError(
                    f"{caller.name}() must return an iterable, got {type(returned).__name__}"
                )
            items = list(returned)
            for item in items:
                if not isinstance(item, expected):
                    raise TypeError(
                        f"{caller.name}() returned {type(item).__name__} {item!r}; "
                        f"expected {expected.__name__} objects"
                    )
            contributions.setdefault(kind, []).extend(items)
    return contributions


def _label(item: Any) -> str:
    if isinstance(item, Implementation):
        return f"{item.surrogate}@{item.path}"
    return str(item.name)


def discover(warn: bool = True) -> Discovered:
    """Load every plugin of the entry-point group in isolation."""
    disabled = _env_names(DISABLE_VARIABLE)
    no_autoload = os.environ.get(NO_AUTOLOAD_VARIABLE, "").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    records: list[PluginRecord] = []
    contributions: dict[str, list[tuple[Any, PluginRecord]]] = {
        kind: [] for kind, _ in HOOKS.values()
    }
    loaded_objects: dict[int, PluginRecord] = {}
    for record, entry_point in _entry_points():
        records.append(record)
        if not record.builtin and no_autoload:
            record.status, record.error = DISABLED, f"{NO_AUTOLOAD_VARIABLE} is set"
            continue
        # "name" disables that entry point of any distribution, "dist:name" of one only.
        qualified = f"{_normalize(record.distribution)}:{record.name}"
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
            plugin = _load_object(record, entry_point)
            twin = loaded_objects.get(id(plugin))
            if twin is not None:
                raise _Skip(
                    f"same object as entry point {twin.name!r} of {twin.distribution}; loaded once"
                )
            _check_api_version(record, plugin)
            provided = _collect(manager, plugin, record)
        except _Skip as skip:
            record.status, record.error = SKIPPED, str(skip)
            if "loaded once" not in record.error:
                _warn(warn, _describe(record))
            continue
        except (Exception, SystemExit) as error:  # a broken plugin must never break core
            record.status, record.error = FAILED, f"{type(error).__name__}: {error}"
            _warn(warn, _describe(record))
            _unregister(manager, record)
            continue
        loaded_objects[id(plugin)] = record
        record.status = LOADED
        for kind, items in provided.items():
            record.provides[kind] = [_label(item) for item in items]
            contributions[kind].extend((item, record) for item in items)
    return Discovered(records, contributions)


def _unregister(manager: pluggy.PluginManager, record: PluginRecord) -> None:
    try:
        manager.unregister(name=f"{record.distribution}:{record.name}")
    except Exception:  # never registered
        pass


def _describe(record: PluginRecord) -> str:
    outcome = "failed" if record.status == FAILED else f"was {record.status}"
    return (
        f"sc_neurocore plugin {record.name!r} ({record.value}) from distribution "
        f"{record.distribution} {record.version} {outcome}: {record.error}"
    )


def _warn(enabled: bool, message: str) -> None:
    if enabled:
        warnings.warn(message, PluginWarning, stacklevel=4)
