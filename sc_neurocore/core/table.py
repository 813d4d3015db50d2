"""The registry's snapshot (:class:`Table`) and the pure functions that build and read it."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .bound import Surrogate
from .conflicts import Provided
from .discovery import Discovered
from .errors import PluginWarning, UnsupportedPairError
from .spec import ExecutionPath, SurrogateFn, SurrogateSpec, check_param

__all__ = [
    "UNLOADED",
    "Table",
    "binder",
    "build_with",
    "builtin_pairs",
    "ordered",
    "path_available",
]


@dataclass(frozen=True)
class Table:
    """One consistent snapshot of everything registered, with the caches built on it."""

    discovered: Discovered
    surrogates: dict[str, Provided] = field(default_factory=dict)
    paths: dict[str, Provided] = field(default_factory=dict)
    implementations: dict[tuple[str, str], Provided] = field(default_factory=dict)
    neurons: dict[str, Provided] = field(default_factory=dict)
    claims: dict[tuple[str, Any], list[Provided]] = field(default_factory=dict)
    decisions: dict[tuple[str, Any], str] = field(default_factory=dict)
    path_status: dict[str, tuple[bool, str]] = field(default_factory=dict)
    #: the path used for ``path=None`` while this snapshot is current
    default_path: str | None = None
    #: (surrogate, path) -> built callable, or the error building it gave
    built: dict[tuple[str, str], SurrogateFn | Exception] = field(default_factory=dict)
    #: (surrogate, path or None) -> callable; the hot lookup of ``resolve``
    fast: dict[tuple[str, str | None], SurrogateFn] = field(default_factory=dict)
    #: call-form lookups: (surrogate, path or None) -> (callable, parameter binder)
    forms: dict[tuple[str, str | None], tuple[SurrogateFn, Callable[..., Any]]] = field(
        default_factory=dict
    )
    #: get_surrogate(...) objects by their arguments
    bound: dict[Any, Surrogate] = field(default_factory=dict)
    generation: int = 0
    loaded: bool = True

    def winners(self) -> dict[str, dict[Any, Provided]]:
        """Each contribution kind's table of winners (the registry's KINDS)."""
        return {
            "surrogates": self.surrogates,
            "paths": self.paths,
            "implementations": self.implementations,
            "neurons": self.neurons,
        }


UNLOADED = Table(Discovered([], {}), loaded=False)


def builtin_pairs(table: Table) -> frozenset[tuple[str, str]]:
    """Pairs of a built-in surrogate and a built-in path: no Implementation may replace them."""
    surrogates = [name for name, p in table.surrogates.items() if p.record.builtin]
    paths = [name for name, p in table.paths.items() if p.record.builtin]
    return frozenset((s, p) for s in surrogates for p in paths)


def build_with(path: Provided, spec: SurrogateSpec) -> SurrogateFn | Exception:
    try:
        result = path.item.build(spec)
        if not callable(result):
            raise TypeError(f"build() returned {type(result).__name__}, not a callable")
        return result  # type: ignore[no-any-return]
    except NotImplementedError as gap:
        return UnsupportedPairError(
            f"path {path.item.name!r} does not cover surrogate {spec.name!r}: {gap}"
        )
    except Exception as error:
        failure = UnsupportedPairError(
            f"path {path.item.name!r} (from {path.record.distribution}) failed to build "
            f"surrogate {spec.name!r}: {type(error).__name__}: {error}"
        )
        warnings.warn(str(failure), PluginWarning, stacklevel=5)
        return failure


def binder(spec: SurrogateSpec) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, float]]:
    """Bind call-form arguments to the spec's parameters, with a fast path for positionals."""
    name, names = spec.name, spec.param_names

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, float]:
        if not kwargs and len(args) == len(names):
            return {key: check_param(name, key, value) for key, value in zip(names, args)}
        return spec.bind(args, kwargs)

    return bind


def path_available(path: ExecutionPath) -> tuple[bool, str]:
    if path.available is None:
        return True, ""
    try:
        ok, reason = path.available()
        return bool(ok), str(reason)
    except Exception as error:  # a broken availability probe means "not here"
        return False, f"available() raised {type(error).__name__}: {error}"


def ordered(entries: dict[str, Provided]) -> tuple[str, ...]:
    builtin = [name for name, p in entries.items() if p.record.builtin]
    others = sorted(name for name, p in entries.items() if not p.record.builtin)
    return tuple(builtin + others)
