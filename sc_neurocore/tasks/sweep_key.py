"""The identity of a sweep run: everything that can change its result, as one canonical key.

A run's key is its resolved configuration (the preset's data, model and training settings
with the run's overrides applied, the surrogate with its bound parameters, the path, the
seed) plus the package version, as canonical JSON.  Resume skips a run only when a line
with an equal key exists, and the report groups lines by their *configuration*: the key
without the sweep's own axes (surrogate, parameters, steepness, path, seed), so lines of
different models, budgets or data are never averaged together.

The fused kernels are not part of the key: every kernel family computes the same results
(the parity tests hold them to it), so a run is not repeated because a compiler appeared.
Lines written before keys existed carry no ``key``; their configuration is read from
their recorded ``config`` (which lacks the version) and they are never resumed from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..core.version import __version__
from .run import RunSpec, resolve, resolve_surrogate

__all__ = ["AXES", "configuration_of", "differing_fields", "run_configuration", "run_key"]

#: The fields a sweep varies: lines differing only in these belong to one configuration.
AXES = ("surrogate", "params", "scale", "path", "seed")
#: The fields every result line needs to be reported.
REQUIRED = ("task", "surrogate", "path", "seed", "test_accuracy")


def _scale(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def run_configuration(spec: RunSpec) -> dict[str, Any]:
    """Everything that decides ``spec``'s result, resolved (``None`` fields filled in)."""
    resolved = resolve(spec)
    _, params, steepness = resolve_surrogate(spec)
    training = resolved.training
    training_fields = training.as_dict()
    del training_fields["seed"]  # the seed is an axis of its own
    return {
        "task": spec.task,
        "preset": resolved.preset_name,
        "data": resolved.data,
        "model": resolved.model.as_dict(),
        "training": training_fields,
        "surrogate": spec.surrogate or resolved.preset.surrogate[0],
        "params": params,
        "scale": _scale(steepness),
        "path": spec.path,
        "seed": spec.seed,
        "version": __version__,
    }


def _canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def run_key(spec: RunSpec | Mapping[str, Any]) -> str:
    """The canonical key of a run or of a result line (its stored ``key``).

    A line without a stored key (written before keys existed) gets a key of its own
    kind, which equals no run's: it is reported but never resumed from.
    """
    if isinstance(spec, RunSpec):
        return _canonical(run_configuration(spec))
    stored = spec.get("key")
    if isinstance(stored, Mapping):
        return _canonical(stored)
    legacy = {name: spec.get(name) for name in AXES}
    legacy.update(scale=_scale(spec.get("scale")), keyless=configuration_of(spec))
    return _canonical(legacy)


def configuration_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration a line belongs to: its key without the sweep's axes."""
    stored = row.get("key")
    if isinstance(stored, Mapping):
        return {name: value for name, value in stored.items() if name not in AXES}
    recorded = dict(row.get("config") or {})
    recorded.pop("samples", None)
    training = dict(recorded.get("training") or {})
    training.pop("seed", None)
    return {
        "task": row.get("task"),
        "preset": row.get("preset"),
        "data": recorded.get("data"),
        "model": recorded.get("model"),
        "training": training,
        "version": "unrecorded (a line without a key)",
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, Mapping):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for name, inner in value.items():
        flat.update(_flatten(inner, f"{prefix}.{name}" if prefix else str(name)))
    return flat


def differing_fields(configurations: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``field -> its values`` (dotted names, e.g. ``model.hidden``) where configurations differ."""
    flat = [_flatten(configuration) for configuration in configurations]
    names = sorted({name for fields in flat for name in fields})
    differing = {}
    for name in names:
        values = [fields.get(name) for fields in flat]
        if any(value != values[0] for value in values):
            differing[name] = values
    return differing
