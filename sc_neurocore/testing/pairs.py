"""Which (surrogate, path) pairs a conformance run covers, and which are gaps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..core.errors import (
    UnknownNeuronError,
    UnknownPathError,
    UnknownSurrogateError,
    unknown_name_message,
)
from ..core.registry import coverage, list_paths, list_surrogates, table
from ..core.settings import normalize_distribution


@dataclass(frozen=True)
class Pair:
    """One cell of the surrogate x path matrix, with where each half came from."""

    surrogate: str
    path: str
    surrogate_distribution: str
    path_distribution: str
    covered: bool
    reason: str

    @property
    def id(self) -> str:
        return f"{self.surrogate}@{self.path}"


#: The registry's lookup error for an unknown name of each kind.
LOOKUP_ERRORS = {
    "surrogate": UnknownSurrogateError,
    "path": UnknownPathError,
    "neuron": UnknownNeuronError,
}


def checked_names(kind: str, wanted: Iterable[str], known: tuple[str, ...]) -> list[str]:
    """``wanted`` (a selection of ``kind`` names), each known, or the registry's error
    for the first unknown one, with a suggestion."""
    names = list(wanted)
    error = LOOKUP_ERRORS[kind]
    for name in names:
        if name not in known:
            raise error(unknown_name_message(kind, name, known))
    return names


def select_pairs(
    surrogates: Iterable[str] = (),
    paths: Iterable[str] = (),
    distributions: Iterable[str] = (),
) -> list[Pair]:
    """Every registered pair, narrowed by names and by providing distribution.

    Empty filters select everything.  A pair matches ``distributions`` when its
    surrogate or its path comes from one of them, so a plugin that adds surrogates
    is checked on every installed path and a plugin that adds a path on every
    surrogate.  Unavailable paths are left out (they cannot run here).
    """
    current = table()
    wanted_surrogates = set(checked_names("surrogate", surrogates, list_surrogates()))
    wanted_paths = set(checked_names("path", paths, list_paths()))
    wanted_dists = {normalize_distribution(d) for d in distributions}
    known_dists = {normalize_distribution(r.distribution) for r in current.discovered.records}
    unknown = wanted_dists - known_dists
    if unknown:
        raise LookupError(
            f"no installed sc_neurocore plugin comes from distribution(s) {sorted(unknown)}; "
            f"plugin distributions here: {', '.join(sorted(known_dists))}"
        )
    selected = []
    for surrogate in list_surrogates():
        if wanted_surrogates and surrogate not in wanted_surrogates:
            continue
        for path in list_paths():
            if wanted_paths and path not in wanted_paths:
                continue
            if not current.path_status[path][0]:
                continue
            s_dist = current.surrogates[surrogate].record.distribution
            p_dist = current.paths[path].record.distribution
            if wanted_dists and not wanted_dists & {
                normalize_distribution(s_dist),
                normalize_distribution(p_dist),
            }:
                continue
            covered, reason = coverage(surrogate, path)
            selected.append(Pair(surrogate, path, s_dist, p_dist, covered, reason))
    return selected
