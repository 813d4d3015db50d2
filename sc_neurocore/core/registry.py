"""The (surrogate, path) table: joins what discovery found, resolves, caches.

Nothing is scanned until first use.  Afterwards a repeated lookup costs one dict
access; ``refresh_plugins()`` rebuilds the table after packages change.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .discovery import Discovered, PluginRecord, _normalize, discover
from .errors import (
    PathUnavailableError,
    PluginWarning,
    UnknownPathError,
    UnknownSurrogateError,
    UnsupportedPairError,
    unknown_name_message,
)
from .spec import ExecutionPath, SurrogateFn, SurrogateSpec

DEFAULT_PATH = "custom_op"
FALLBACK_PATH = "legacy_autograd"
PATH_VARIABLE = "SC_NEUROCORE_SURROGATE_PATH"
PREFER_VARIABLE = "SC_NEUROCORE_PREFER"


@dataclass(frozen=True)
class Provided:
    """An item a plugin contributed, with the plugin it came from."""

    item: Any
    record: PluginRecord


@dataclass
class Table:
    """One consistent snapshot of everything registered."""

    discovered: Discovered
    surrogates: dict[str, Provided] = field(default_factory=dict)
    paths: dict[str, Provided] = field(default_factory=dict)
    implementations: dict[tuple[str, str], Provided] = field(default_factory=dict)
    claims: dict[tuple[str, Any], list[Provided]] = field(default_factory=dict)
    decisions: dict[tuple[str, Any], str] = field(default_factory=dict)
    path_status: dict[str, tuple[bool, str]] = field(default_factory=dict)
    built: dict[tuple[str, str], SurrogateFn | Exception] = field(default_factory=dict)


_lock = threading.RLock()
_table: Table | None = None
_default_path: str | None = None
_preferences: dict[str, str] = {}
#: (surrogate, path or None) -> callable; the hot path of every call form.
_fast: dict[tuple[str, str | None], SurrogateFn] = {}


def parse_preferences(value: str) -> dict[str, str]:
    """``"name=dist,name2=dist2"`` -> ``{name: normalized dist}``; bad entries warn."""
    prefs = {}
    for part in value.split(","):
        if not part.strip():
            continue
        name, _, distribution = part.partition("=")
        if not name.strip() or not distribution.strip():
            warnings.warn(
                f"{PREFER_VARIABLE}: ignoring {part.strip()!r}; expected NAME=DISTRIBUTION",
                PluginWarning,
                stacklevel=2,
            )
            continue
        prefs[name.strip()] = _normalize(distribution.strip())
    return prefs


def _parse_preferences() -> dict[str, str]:
    prefs = parse_preferences(os.environ.get(PREFER_VARIABLE, ""))
    prefs.update(_preferences)
    return prefs


def _key_of(kind: str, item: Any) -> Any:
    if kind == "implementations":
        return (item.surrogate, item.path)
    return item.name


def _label(key: Any) -> str:
    return "@".join(key) if isinstance(key, tuple) else str(key)


def _decide(
    kind: str, key: Any, claims: list[Provided], prefs: dict[str, str]
) -> tuple[Provided, str]:
    """Pick the winner among claims on one name; built-ins always win."""
    noun = kind[:-1]
    builtins = [claim for claim in claims if claim.record.builtin]
    others = [claim for claim in claims if not claim.record.builtin]
    if builtins:
        for claim in others:
            warnings.warn(
                f"plugin {claim.record.name!r} from {claim.record.distribution} tried to replace "
                f"built-in {noun} {_label(key)!r}; its version is ignored",
                PluginWarning,
                stacklevel=5,
            )
        return builtins[0], "built-in" + (" (third-party replacements refused)" if others else "")
    if len(others) == 1:
        return others[0], f"only provider: {others[0].record.distribution}"
    ordered = sorted(others, key=lambda c: (_normalize(c.record.distribution), c.record.name))
    wanted = prefs.get(_label(key))
    chosen = next(
        (
            c
            for c in ordered
            if wanted in (_normalize(c.record.distribution), _normalize(c.record.name))
        ),
        None,
    )
    names = ", ".join(c.record.distribution for c in ordered)
    if chosen is not None:
        return chosen, f"chosen explicitly ({PREFER_VARIABLE} or prefer()) among {names}"
    if wanted is not None:
        warnings.warn(
            f"preference {_label(key)}={wanted} matches none of the providers of {noun} "
            f"{_label(key)!r} ({names}); falling back to the first by name",
            PluginWarning,
            stacklevel=5,
        )
    chosen = ordered[0]
    warnings.warn(
        f"{noun} {_label(key)!r} is provided by several distributions ({names}); using "
        f"{chosen.record.distribution} (first by name). Choose with "
        f"sc_neurocore.prefer({_label(key)!r}, '<distribution>') or "
        f"{PREFER_VARIABLE}={_label(key)}=<distribution>",
        PluginWarning,
        stacklevel=5,
    )
    return chosen, f"first by distribution name among {names} (conflict)"


def _build_table() -> Table:
    table = Table(discover())
    prefs = _parse_preferences()
    targets: dict[str, dict[Any, Provided]] = {
        "surrogates": table.surrogates,
        "paths": table.paths,
        "implementations": table.implementations,
    }
    for kind, target in targets.items():
        grouped: dict[Any, list[Provided]] = {}
        for item, record in table.discovered.contributions.get(kind, []):
            grouped.setdefault(_key_of(kind, item), []).append(Provided(item, record))
        for key, claims in grouped.items():
            winner, reason = _decide(kind, key, claims, prefs)
            target[key] = winner
            table.claims[(kind, key)] = claims
            table.decisions[(kind, key)] = reason
    for name, provided in table.paths.items():
        table.path_status[name] = _path_available(provided.item)
    return table


def _path_available(path: ExecutionPath) -> tuple[bool, str]:
    if path.available is None:
        return True, ""
    try:
        ok, reason = path.available()
        return bool(ok), str(reason)
    except Exception as error:  # a broken availability probe means "not here"
        return False, f"available() raised {type(error).__name__}: {error}"


def table() -> Table:
    """The current snapshot, loading plugins on first use (thread-safe)."""
    current = _table
    if current is not None:
        return current
    return _load()


def _load() -> Table:
    global _table
    with _lock:
        if _table is None:
            _table = _build_table()
        return _table


def refresh_plugins() -> None:
    """Rescan entry points, e.g. after ``pip install`` of a plugin into this process."""
    global _table
    import importlib

    import importlib_metadata

    importlib.invalidate_caches()
    getattr(importlib_metadata, "_cache_clear", lambda: None)()
    with _lock:
        _table = None
        _fast.clear()
        _bound.clear()
        _load()


def prefer(name: str, distribution: str | None) -> None:
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
    with _lock:
        if distribution is None:
            _preferences.pop(name, None)
        else:
            _preferences[name] = _normalize(distribution)
    refresh_plugins()


def list_surrogates() -> tuple[str, ...]:
    return _ordered(table().surrogates)


def list_paths() -> tuple[str, ...]:
    return _ordered(table().paths)


def _ordered(entries: dict[str, Provided]) -> tuple[str, ...]:
    builtin = [name for name, p in entries.items() if p.record.builtin]
    others = sorted(name for name, p in entries.items() if not p.record.builtin)
    return tuple(builtin + others)


def get_spec(name: str) -> SurrogateSpec:
    """The registered spec for a surrogate name."""
    provided = table().surrogates.get(name)
    if provided is None:
        raise UnknownSurrogateError(unknown_name_message("surrogate", name, list_surrogates()))
    spec: SurrogateSpec = provided.item
    return spec


def set_default_path(name: str | None) -> None:
    """Choose the path used when ``path=None``; ``None`` restores the default."""
    global _default_path
    if name is not None:
        _check_path(table(), name)
    with _lock:
        _default_path = name
        _fast.clear()
        _bound.clear()  # get_surrogate(name) objects pin the path they resolved


def get_default_path() -> str:
    if _default_path is not None:
        return _default_path
    from_env = os.environ.get(PATH_VARIABLE, "").strip()
    current = table()
    if from_env:
        if from_env not in current.paths:
            raise UnknownPathError(
                unknown_name_message(f"path (from {PATH_VARIABLE})", from_env, list_paths())
            )
        return from_env
    if current.path_status.get(DEFAULT_PATH, (False, ""))[0]:
        return DEFAULT_PATH
    return FALLBACK_PATH


def _check_path(current: Table, path: str) -> None:
    if path not in current.paths:
        raise UnknownPathError(unknown_name_message("path", path, list_paths()))
    ok, reason = current.path_status[path]
    if not ok:
        raise PathUnavailableError(f"path {path!r} is registered but unavailable here: {reason}")


def resolve(name: str, path: str | None = None) -> SurrogateFn:
    """The implementation ``fn(x, **params)`` of (name, path); cached after the first call."""
    fn = _fast.get((name, path))
    if fn is not None:
        return fn
    current = table()
    if not isinstance(name, str) or name not in current.surrogates:
        raise UnknownSurrogateError(unknown_name_message("surrogate", name, list_surrogates()))
    if path is not None and not isinstance(path, str):
        raise TypeError(f"path must be a string or None, got {type(path).__name__} {path!r}")
    actual = get_default_path() if path is None else path
    _check_path(current, actual)
    result = _build_pair(current, name, actual)
    if isinstance(result, Exception):
        raise result
    _fast[(name, path)] = result
    return result


def _build_pair(current: Table, name: str, path: str) -> SurrogateFn | Exception:
    key = (name, path)
    with _lock:
        if key in current.built:
            return current.built[key]
        override = current.implementations.get(key)
        result: SurrogateFn | Exception
        if override is not None:
            result = override.item.fn
        else:
            path_provider = current.paths[path]
            try:
                result = path_provider.item.build(current.surrogates[name].item)
                if not callable(result):
                    raise TypeError(f"build() returned {type(result).__name__}, not a callable")
            except NotImplementedError as gap:
                result = UnsupportedPairError(
                    f"path {path!r} does not cover surrogate {name!r}: {gap}"
                )
            except Exception as error:
                result = UnsupportedPairError(
                    f"path {path!r} (from {path_provider.record.distribution}) failed to build "
                    f"surrogate {name!r}: {type(error).__name__}: {error}"
                )
                warnings.warn(str(result), PluginWarning, stacklevel=4)
        current.built[key] = result
        return result


def coverage(name: str, path: str) -> tuple[bool, str]:
    """Whether (name, path) resolves here, and why not."""
    try:
        resolve(name, path)
    except LookupError as error:
        return False, str(error)
    return True, ""


_bound: dict[Any, Any] = {}


def get_surrogate(name: str, path: str | None = None, **params: Any) -> Callable[..., Any]:
    """A picklable callable ``f(x)`` for (name, path) with ``params`` bound."""
    key: tuple[Any, ...] | None = (name, path, *params.items()) if params else (name, path)
    try:
        cached = _bound.get(key)
    except TypeError:  # an unhashable parameter value (a tensor is hashable, lists are not)
        cached, key = None, None
    if cached is not None:
        return cached
    from .bound import Surrogate

    spec = get_spec(name)
    actual = get_default_path() if path is None else path
    fn = resolve(name, actual)
    surrogate = Surrogate(name, actual, spec.bind((), params), fn)
    if key is not None and not any(hasattr(v, "data_ptr") for v in params.values()):
        _bound[key] = surrogate
    return surrogate
