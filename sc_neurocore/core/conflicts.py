"""Who wins a name that several plugins claim: built-ins always, then the user's choice.

Pure functions over what discovery found; the registry calls them when it builds a table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from .discovery import PluginRecord
from .errors import PluginWarning
from .settings import normalize_distribution

__all__ = ["PREFER_VARIABLE", "Provided", "decide", "key_of", "label", "parse_preferences"]

PREFER_VARIABLE = "SC_NEUROCORE_PREFER"


@dataclass(frozen=True)
class Provided:
    """An item a plugin contributed, with the plugin it came from."""

    item: Any
    record: PluginRecord


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
        prefs[name.strip()] = normalize_distribution(distribution.strip())
    return prefs


def key_of(kind: str, item: Any) -> Any:
    """The name an item claims: ``(surrogate, path)`` for implementations, else its name."""
    if kind == "implementations":
        return (item.surrogate, item.path)
    return item.name


def _names_of(record: PluginRecord) -> tuple[str, str]:
    return normalize_distribution(record.distribution), normalize_distribution(record.name)


def label(key: Any) -> str:
    return "@".join(key) if isinstance(key, tuple) else str(key)


def decide(
    kind: str,
    key: Any,
    claims: list[Provided],
    prefs: dict[str, str],
    builtin_keys: frozenset[Any] = frozenset(),
) -> tuple[Provided | None, str]:
    """Pick the winner among claims on one name; built-ins always win.

    ``builtin_keys`` are keys a built-in owns without claiming them itself: an
    Implementation for a pair of a built-in surrogate and a built-in path would replace
    what the built-in path builds, so it is refused (``None`` wins).
    """
    noun = kind[:-1]
    builtins = [claim for claim in claims if claim.record.builtin]
    others = [claim for claim in claims if not claim.record.builtin]
    if builtins or key in builtin_keys:
        for claim in others:
            warnings.warn(
                f"plugin {claim.record.name!r} from {claim.record.distribution} tried to replace "
                f"built-in {noun} {label(key)!r}; its version is ignored",
                PluginWarning,
                stacklevel=5,
            )
        winner = builtins[0] if builtins else None
        return winner, "built-in" + (" (third-party replacements refused)" if others else "")
    if len(others) == 1:
        return others[0], f"only provider: {others[0].record.distribution}"
    ordered = sorted(
        others, key=lambda c: (normalize_distribution(c.record.distribution), c.record.name)
    )
    wanted = prefs.get(label(key))
    chosen = next(
        (
            c
            for c in ordered
            if wanted
            in (
                normalize_distribution(c.record.distribution),
                normalize_distribution(c.record.name),
            )
        ),
        None,
    )
    names = ", ".join(c.record.distribution for c in ordered)
    if chosen is not None:
        return chosen, f"chosen explicitly ({PREFER_VARIABLE} or prefer()) among {names}"
    if wanted is not None:
        warnings.warn(
            f"preference {label(key)}={wanted} matches none of the providers of {noun} "
            f"{label(key)!r} ({names}); falling back to the first by name",
            PluginWarning,
            stacklevel=5,
        )
    chosen = ordered[0]
    warnings.warn(
        f"{noun} {label(key)!r} is provided by several distributions ({names}); using "
        f"{chosen.record.distribution} (first by name). Choose with "
        f"sc_neurocore.prefer({label(key)!r}, '<distribution>') or "
        f"{PREFER_VARIABLE}={label(key)}=<distribution>",
        PluginWarning,
        stacklevel=5,
    )
    return chosen, f"first by distribution name among {names} (conflict)"
