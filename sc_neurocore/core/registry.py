"""The (surrogate, path) table: one :class:`Registry` object holds every piece of state.

A registry discovers plugins on first use and keeps the result as an immutable
:class:`Table` snapshot that also carries every cache (built pairs, the hot lookup of
the call forms, ``get_surrogate`` objects).  ``refresh()`` and ``set_default_path()``
replace the snapshot under the lock; a lookup that started before writes into the old
snapshot only, so nothing stale survives.  The module-level functions delegate to the
process-wide :data:`default_registry`; tests build registries of their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from .bound import Surrogate
from .conflicts import PREFER_VARIABLE, Provided, decide, key_of, parse_preferences
from .discovery import PluginRecord, PluginSource, builtin_sources, discover
from .errors import (
    PathUnavailableError,
    UnknownNeuronError,
    UnknownPathError,
    UnknownSurrogateError,
    unknown_name_message,
)
from .forksafe import after_fork_in_child
from .neuron_spec import NeuronSpec
from .settings import env_text, normalize_distribution
from .spec import SurrogateFn, SurrogateSpec
from .table import (
    UNLOADED,
    Table,
    binder,
    build_with,
    builtin_pairs,
    ordered,
    path_available,
)

__all__ = [
    "DEFAULT_PATH",
    "FALLBACK_PATH",
    "PATH_VARIABLE",
    "PREFER_VARIABLE",
    "Provided",
    "Registry",
    "Table",
    "default_registry",
]

DEFAULT_PATH = "custom_op"
FALLBACK_PATH = "legacy_autograd"
PATH_VARIABLE = "SC_NEUROCORE_SURROGATE_PATH"
KINDS = tuple(UNLOADED.winners())


class Registry:
    """Plugins, the (surrogate, path) table, preferences, the default path and caches.

    ``Registry()`` discovers the ``sc_neurocore.plugins`` entry points on first use;
    ``Registry(sources=...)`` uses the given :class:`~sc_neurocore.core.discovery.PluginSource`
    objects instead (see :meth:`from_plugins`).  Every method is thread-safe.
    """

    def __init__(
        self, sources: Iterable[PluginSource] | None = None, *, environment: bool = True
    ) -> None:
        self._sources = None if sources is None else tuple(sources)
        self._environment = environment
        self._lock = threading.RLock()
        after_fork_in_child(self, Registry._after_fork, "registry")
        self.snapshot: Table = UNLOADED  # the current Table; replaced, never mutated in place
        self._generation = 0
        self._default_path: str | None = None
        self._preferences: dict[str, str] = {}
        #: call-form entries resolved while Dynamo traced (see core.bound); emptied, never
        #: replaced, on every new snapshot, because a trace keeps the dict it first read
        self.traced: dict[tuple[str, str | None], tuple[SurrogateFn, Callable[..., Any]]] = {}

    @classmethod
    def from_plugins(
        cls,
        plugins: dict[str, object],
        *,
        with_builtins: bool = False,
        builtin: bool = False,
        distribution: str = "test",
    ) -> Registry:
        """A registry of the given plugin objects (modules or objects with hookimpls),
        after the built-in plugins if ``with_builtins``; ``builtin`` marks the given ones
        as built-in."""
        sources = builtin_sources() if with_builtins else []
        sources += [
            PluginSource(PluginRecord(name, distribution, "0", name, builtin), _given(obj))
            for name, obj in plugins.items()
        ]
        return cls(sources)

    def _after_fork(self) -> None:
        # A thread that held the lock at the fork does not exist in the child; the snapshot
        # it may have been building was never swapped in, so the old one is whole.
        self._lock = threading.RLock()

    # --- the snapshot --------------------------------------------------------------------

    def table(self) -> Table:
        """The current snapshot, discovering plugins on first use."""
        current = self.snapshot
        if current.loaded:
            return current
        with self._lock:
            if not self.snapshot.loaded:
                self._swap(self._build_table())
            return self.snapshot

    @property
    def generation(self) -> int:
        """Increases each time the snapshot is replaced."""
        return self.snapshot.generation

    def _swap(self, new: Table) -> None:
        self.traced.clear()
        self._generation += 1
        self.snapshot = replace(new, generation=self._generation)

    def unload(self) -> None:
        """Forget everything; the next use discovers plugins again (a fresh process's state)."""
        with self._lock:
            self._swap(UNLOADED)

    def refresh(self) -> None:
        """Rescan plugins now, e.g. after ``pip install`` of a plugin into this process."""
        import importlib

        import importlib_metadata

        importlib.invalidate_caches()
        getattr(importlib_metadata, "_cache_clear", lambda: None)()
        with self._lock:
            self._swap(self._build_table())

    def _build_table(self) -> Table:
        discovered = discover(self._sources)
        prefs = parse_preferences(env_text(PREFER_VARIABLE)) if self._environment else {}
        prefs.update(self._preferences)
        table = Table(discovered, default_path=self._default_path)
        winners = table.winners()
        for kind in KINDS:
            grouped: dict[Any, list[Provided]] = {}
            for item, record in discovered.contributions.get(kind, []):
                grouped.setdefault(key_of(kind, item), []).append(Provided(item, record))
            builtin_keys = builtin_pairs(table) if kind == "implementations" else frozenset()
            for key, claims in grouped.items():
                winner, reason = decide(kind, key, claims, prefs, builtin_keys)
                if winner is not None:
                    winners[kind][key] = winner
                table.claims[(kind, key)] = claims
                table.decisions[(kind, key)] = reason
        for name, provided in table.paths.items():
            table.path_status[name] = path_available(provided.item)
        return table

    # --- preferences and the default path ------------------------------------------------

    def prefer(self, name: str, distribution: str | None) -> None:
        """Resolve a name claimed by several third-party distributions in favour of one.

        ``name`` is a surrogate or path name (``"surrogate@path"`` for an Implementation);
        ``distribution`` is the winner's distribution (or entry-point) name, ``None`` to
        forget the choice.  Overrides ``SC_NEUROCORE_PREFER``; built-ins always win.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"prefer(): name must be a non-empty string, got {name!r}")
        if distribution is not None and (not isinstance(distribution, str) or not distribution):
            raise TypeError(
                f"prefer(): distribution must be a non-empty string or None, got {distribution!r}"
            )
        with self._lock:
            if distribution is None:
                self._preferences.pop(name, None)
            else:
                self._preferences[name] = normalize_distribution(distribution)
            self.refresh()

    def set_default_path(self, name: str | None) -> None:
        """Choose the path used when ``path=None``; ``None`` restores the default."""
        with self._lock:
            current = self.table()
            if name is not None:
                self._check_path(current, name)
            self._default_path = name
            # get_surrogate(name) objects and call forms pin the path they resolved.
            self._swap(replace(current, default_path=name, fast={}, forms={}, bound={}))

    def get_default_path(self) -> str:
        """The path used for ``path=None``: set_default_path, the environment, or custom_op."""
        current = self.table()
        if current.default_path is not None:
            return current.default_path
        from_env = env_text(PATH_VARIABLE) if self._environment else ""
        if from_env:
            if from_env not in current.paths:
                raise UnknownPathError(
                    unknown_name_message(
                        f"path (from {PATH_VARIABLE})", from_env, self.list_paths()
                    )
                )
            return from_env
        if current.path_status.get(DEFAULT_PATH, (False, ""))[0]:
            return DEFAULT_PATH
        return FALLBACK_PATH

    # --- lookups -------------------------------------------------------------------------

    def list_surrogates(self) -> tuple[str, ...]:
        """Registered surrogate names: built-ins first, then third-party ones by name."""
        return ordered(self.table().surrogates)

    def list_paths(self) -> tuple[str, ...]:
        """Registered path names: built-ins first, then third-party ones by name."""
        return ordered(self.table().paths)

    def list_neurons(self) -> tuple[str, ...]:
        """Registered neuron names: built-ins first, then third-party ones by name."""
        return ordered(self.table().neurons)

    def get_neuron_spec(self, name: str) -> NeuronSpec:
        """The registered spec for a neuron name."""
        provided = self.table().neurons.get(name) if isinstance(name, str) else None
        if provided is None:
            raise UnknownNeuronError(unknown_name_message("neuron", name, self.list_neurons()))
        spec: NeuronSpec = provided.item
        return spec

    def get_spec(self, name: str) -> SurrogateSpec:
        """The registered spec for a surrogate name."""
        provided = self.table().surrogates.get(name) if isinstance(name, str) else None
        if provided is None:
            raise UnknownSurrogateError(
                unknown_name_message("surrogate", name, self.list_surrogates())
            )
        spec: SurrogateSpec = provided.item
        return spec

    def resolve(self, name: str, path: str | None = None) -> SurrogateFn:
        """The implementation ``fn(x, **params)`` of (name, path); cached after the first call."""
        current = self.table()
        fn = current.fast.get((name, path))
        if fn is not None:
            return fn
        if not isinstance(name, str) or name not in current.surrogates:
            raise UnknownSurrogateError(
                unknown_name_message("surrogate", name, self.list_surrogates())
            )
        if path is not None and not isinstance(path, str):
            raise TypeError(f"path must be a string or None, got {type(path).__name__} {path!r}")
        actual = self.get_default_path() if path is None else path
        self._check_path(current, actual)
        result = self._build_pair(current, name, actual)
        if isinstance(result, Exception):
            raise result
        current.fast[(name, path)] = result
        return result

    def coverage(self, name: str, path: str) -> tuple[bool, str]:
        """Whether (name, path) resolves here, and why not."""
        try:
            self.resolve(name, path)
        except LookupError as error:
            return False, str(error)
        return True, ""

    def get_surrogate(self, name: str, path: str | None = None, **params: Any) -> Surrogate:
        """A picklable callable ``f(x)`` for (name, path) with ``params`` bound."""
        current = self.table()
        # The value's type is part of the key: True == 1 and 2 == 2.0 hash alike, and a bool
        # must meet the parameter check, not the object cached for the number.
        key: tuple[Any, ...] | None = (name, path, *((k, type(v), v) for k, v in params.items()))
        try:
            cached = current.bound.get(key)
        except TypeError:  # an unhashable parameter value (a tensor is hashable, lists are not)
            cached, key = None, None
        if cached is not None:
            return cached
        spec = self.get_spec(name)
        actual = self.get_default_path() if path is None else path
        fn = self.resolve(name, actual)
        surrogate = Surrogate(spec, actual, spec.bind((), params), fn)
        if key is not None and not any(hasattr(v, "data_ptr") for v in params.values()):
            current.bound[key] = surrogate
        return surrogate

    def call_form_entry(
        self, name: str, path: str | None
    ) -> tuple[SurrogateFn, Callable[..., Any]]:
        """``(callable, binder)`` for a call form of ``name`` on ``path`` (cached)."""
        current = self.table()
        entry = current.forms.get((name, path))
        if entry is None:
            entry = (self.resolve(name, path), binder(self.get_spec(name)))
            current.forms[(name, path)] = entry
        return entry

    # --- internals -----------------------------------------------------------------------

    def _check_path(self, current: Table, path: str) -> None:
        if path not in current.paths:
            raise UnknownPathError(unknown_name_message("path", path, self.list_paths()))
        ok, reason = current.path_status[path]
        if not ok:
            raise PathUnavailableError(
                f"path {path!r} is registered but unavailable here: {reason}"
            )

    def _build_pair(self, current: Table, name: str, path: str) -> SurrogateFn | Exception:
        key = (name, path)
        with self._lock:
            if key in current.built:
                return current.built[key]
            override = current.implementations.get(key)
            result: SurrogateFn | Exception
            if override is not None:
                result = override.item.fn
            else:
                result = build_with(current.paths[path], current.surrogates[name].item)
            current.built[key] = result
            return result


def _given(plugin: object) -> Callable[[], object]:
    return lambda: plugin


#: The process-wide registry behind ``sc_neurocore.get_surrogate`` and friends.
default_registry = Registry()
"""The process-wide registry behind ``sc_neurocore.get_surrogate`` and the call forms."""


def restore_surrogate(name: str, path: str, params: tuple[tuple[str, float], ...]) -> Surrogate:
    """Unpickle a :class:`~sc_neurocore.core.bound.Surrogate` through the default registry."""
    return default_registry.get_surrogate(name, path, **dict(params))


def table() -> Table:
    """The default registry's current snapshot (discovering plugins on first use)."""
    return default_registry.table()


def refresh_plugins() -> None:
    """Rescan plugins now, e.g. after ``pip install`` of a plugin into this process."""
    default_registry.refresh()


def prefer(name: str, distribution: str | None) -> None:
    """Resolve a name claimed by several third-party distributions in favour of one.

    ``name`` is a surrogate or path name (``"surrogate@path"`` for an Implementation);
    ``distribution`` is the winner's distribution (or entry-point) name, ``None`` to forget
    the choice.  Overrides ``SC_NEUROCORE_PREFER``; built-ins always win.
    """
    default_registry.prefer(name, distribution)


def set_default_path(name: str | None) -> None:
    """Choose the path used when ``path=None``; ``None`` restores the default."""
    default_registry.set_default_path(name)


def get_default_path() -> str:
    """The path used for ``path=None``: set_default_path, ``SC_NEUROCORE_SURROGATE_PATH``, or
    ``custom_op`` (``legacy_autograd`` where custom_op is unavailable)."""
    return default_registry.get_default_path()


def list_surrogates() -> tuple[str, ...]:
    """Registered surrogate names: built-ins first, then third-party ones by name."""
    return default_registry.list_surrogates()


def list_paths() -> tuple[str, ...]:
    """Registered path names: built-ins first, then third-party ones by name."""
    return default_registry.list_paths()


def get_spec(name: str) -> SurrogateSpec:
    """The registered :class:`~sc_neurocore.core.spec.SurrogateSpec` of a surrogate name."""
    return default_registry.get_spec(name)


def resolve(name: str, path: str | None = None) -> SurrogateFn:
    """The implementation ``fn(x, **params)`` of (name, path); cached after the first call."""
    return default_registry.resolve(name, path)


def coverage(name: str, path: str) -> tuple[bool, str]:
    """Whether (name, path) resolves here, and why not."""
    return default_registry.coverage(name, path)


def get_surrogate(name: str, path: str | None = None, **params: Any) -> Surrogate:
    """A picklable, comparable callable ``f(x)`` for (name, path) with ``params`` bound.

    ``path=None`` pins the default path at the time of the call.  Raises
    :class:`~sc_neurocore.core.errors.UnknownSurrogateError`,
    :class:`~sc_neurocore.core.errors.UnknownPathError` (both with suggestions),
    :class:`~sc_neurocore.core.errors.PathUnavailableError` or ``TypeError``/``ValueError``
    for bad parameters.
    """
    return default_registry.get_surrogate(name, path, **params)


def list_neurons() -> tuple[str, ...]:
    """Registered neuron names of the default registry."""
    return default_registry.list_neurons()


def get_neuron_spec(name: str) -> NeuronSpec:
    """The default registry's spec for a neuron name."""
    return default_registry.get_neuron_spec(name)
