"""What is registered right now and where it came from: the data behind the listings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .registry import Provided, coverage, get_default_path, list_paths, list_surrogates, table


def _as_json(info: Any, *sequences: str) -> dict[str, Any]:
    """A report dataclass as a JSON-ready dict: its tuples of names as lists."""
    data: dict[str, Any] = asdict(info)
    for name in sequences:
        data[name] = list(data[name])
    return data


@dataclass(frozen=True)
class PathInfo:
    name: str
    description: str
    distribution: str
    version: str
    plugin: str
    builtin: bool
    available: bool
    reason: str
    surrogates: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return _as_json(self, "surrogates")


@dataclass(frozen=True)
class SurrogateInfo:
    name: str
    params: dict[str, float]
    description: str
    reference: str | None
    distribution: str
    version: str
    plugin: str
    builtin: bool
    has_primitive: bool
    paths: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return _as_json(self, "paths")


@dataclass(frozen=True)
class Explanation:
    """How (surrogate, path) resolves: every candidate, and which won and why."""

    surrogate: str
    path: str
    resolved: bool
    chosen: str
    reason: str
    candidates: tuple[dict[str, Any], ...]
    #: which kernel serves the pair per device kind and why not a faster one (paths that say)
    kernels: tuple[dict[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return _as_json(self, "candidates", "kernels")


def plugin_report() -> list[dict[str, Any]]:
    """One dict per entry point, in load order (built-ins first).

    Keys: ``name`` (the entry-point name, as ``SC_NEUROCORE_DISABLE_PLUGINS`` takes
    it), ``distribution``, ``version``, ``value``, ``builtin``, ``status``
    (``loaded``/``failed``/``disabled``/``skipped``), ``error``, ``api_version``,
    ``provides`` (kind -> names) and ``overridden``: what the plugin provided but
    lost to another provider, each with the reason.
    """
    current = table()
    winners = current.winners()
    lost: dict[int, list[str]] = {}
    for (kind, key), claims in current.claims.items():
        winner = winners[kind][key]
        label = "@".join(key) if isinstance(key, tuple) else key
        for claim in claims:
            if claim is not winner:
                lost.setdefault(id(claim.record), []).append(
                    f"{kind[:-1]} {label!r}: {winner.record.distribution} wins "
                    f"({current.decisions[(kind, key)]})"
                )
    reports = []
    for record in current.discovered.records:
        data = record.as_dict()
        data["overridden"] = lost.get(id(record), [])
        reports.append(data)
    return reports


def path_report() -> list[PathInfo]:
    """One :class:`PathInfo` per registered path: provider, availability, coverage, gaps."""
    current = table()
    infos = []
    for name in list_paths():
        provided = current.paths[name]
        ok, reason = current.path_status[name]
        covered, missing = [], {}
        for surrogate in list_surrogates():
            works, why = coverage(surrogate, name) if ok else (False, reason)
            if works:
                covered.append(surrogate)
            else:
                missing[surrogate] = why
        infos.append(
            PathInfo(
                name=name,
                description=provided.item.description,
                distribution=provided.record.distribution,
                version=provided.record.version,
                plugin=provided.record.name,
                builtin=provided.record.builtin,
                available=ok,
                reason=reason,
                surrogates=tuple(covered),
                missing=missing,
            )
        )
    return infos


# path_report and surrogate_report walk the same table in the same way, for different rows.
def surrogate_report() -> list[SurrogateInfo]:
    """One :class:`SurrogateInfo` per registered surrogate: parameters, provider, paths."""
    current = table()
    infos = []
    for name in list_surrogates():
        provided = current.surrogates[name]
        spec = provided.item
        paths = tuple(p for p in list_paths() if current.path_status[p][0] and coverage(name, p)[0])
        infos.append(
            SurrogateInfo(
                name=name,
                params=dict(spec.params),
                description=spec.description,
                reference=spec.reference,
                distribution=provided.record.distribution,
                version=provided.record.version,
                plugin=provided.record.name,
                builtin=provided.record.builtin,
                has_primitive=spec.primitive is not None,
                paths=paths,
            )
        )
    return infos


def _candidate(kind: str, provided: Provided, won: bool) -> dict[str, Any]:
    return {
        "kind": kind,
        "plugin": provided.record.name,
        "distribution": provided.record.distribution,
        "version": provided.record.version,
        "builtin": provided.record.builtin,
        "chosen": won,
    }


def explain(surrogate: str, path: str | None = None) -> Explanation:
    """Show how ``(surrogate, path)`` resolves; ``path=None`` explains the default path."""
    current = table()
    actual = get_default_path() if path is None else path
    candidates: list[dict[str, Any]] = []
    override = current.implementations.get((surrogate, actual))
    for claim in current.claims.get(("implementations", (surrogate, actual)), []):
        candidates.append(_candidate("implementation", claim, claim is override))
    path_provider = current.paths.get(actual)
    for claim in current.claims.get(("paths", actual), []):
        generic = claim is path_provider and override is None
        candidates.append(_candidate(f"path {actual!r} build(spec)", claim, generic))
    spec_provider = current.surrogates.get(surrogate)
    for claim in current.claims.get(("surrogates", surrogate), []):
        entry = _candidate("surrogate spec", claim, claim is spec_provider)
        entry["chosen_spec"] = entry.pop("chosen")
        candidates.append(entry)
    resolved, why = coverage(surrogate, actual)
    if override is not None:
        chosen = f"implementation from {override.record.distribution} ({override.record.name})"
        reason = (
            "a hand-written Implementation for this exact pair takes precedence over build(); "
            + (current.decisions[("implementations", (surrogate, actual))])
        )
    elif path_provider is not None and spec_provider is not None:
        chosen = f"path {actual!r} from {path_provider.record.distribution} builds it from the spec"
        reason = (
            "no Implementation registered for the pair; "
            f"path: {current.decisions[('paths', actual)]}; "
            f"spec: {current.decisions[('surrogates', surrogate)]}"
        )
    else:
        chosen = ""
        reason = why
    if not resolved:
        reason = why if not reason else f"{reason}; but it cannot resolve: {why}"
    kernels: tuple[dict[str, str], ...] = ()
    describe = getattr(path_provider.item, "kernels", None) if path_provider else None
    if resolved and override is None and describe is not None and spec_provider is not None:
        kernels = tuple(describe(spec_provider.item))
    return Explanation(surrogate, actual, resolved, chosen, reason, tuple(candidates), kernels)
