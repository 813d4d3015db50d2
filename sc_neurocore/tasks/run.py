"""One training run of a task, described by a :class:`RunSpec`, reported as a JSON-able dict.

Both ``sc-neurocore train --task`` and every run of ``sc-neurocore sweep`` go through
:func:`run`, so a sweep's line and a single run's ``--json`` carry the same fields.
Controls: ``true_gradient`` (the step function's own gradient, zero almost everywhere:
no error reaches the hidden layer) and ``constant`` (g = 1, the straight-through
surrogate).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from .baseline import nearest_neighbour_accuracy
from .catalog import Preset, load_task, preset, preset_name
from .classifier import ClassifierConfig, SpikingClassifier
from .loops import EpochProgress, OnEpoch
from .spikes import TaskData
from .trainer import TrainConfig, fit

__all__ = ["CONTROLS", "Resolved", "RunSpec", "resolve", "resolve_surrogate", "run"]

#: Control runs of a sweep, and the registered surrogate each one trains with.
CONTROLS = {"true_gradient": "straight_through", "constant": "straight_through"}
#: The execution that needs no path: the fused multi-step operators.
FUSED = "fused"


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides a run's result (``None``: the preset's value)."""

    task: str = "randman"
    preset: str | None = None
    surrogate: str | None = None  # a registered name or a control; None: the preset's
    params: dict[str, float] = field(default_factory=dict)
    steepness: float | None = None  # common steepness, mapped through the spec's Scale
    path: str = FUSED
    seed: int = 0  # weights and shuffling; the data's own seed is a data field
    epochs: int | None = None
    time_budget: float | None = None
    data: dict[str, Any] = field(default_factory=dict)  # overrides of the preset's fields
    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Resolved:
    """A :class:`RunSpec` with its preset's values filled in: what :func:`run` trains, and
    what a sweep's key (:mod:`.sweep_key`) names, computed once here for both."""

    preset_name: str
    preset: Preset
    data: dict[str, Any]
    model: ClassifierConfig
    training: TrainConfig


def resolve(spec: RunSpec) -> Resolved:
    """The preset (checked), the data fields, architecture and training of ``spec``."""
    name = preset_name(spec.task, spec.preset)
    chosen = preset(spec.task, name)
    training = replace(chosen.training, seed=spec.seed, **spec.training)
    if spec.epochs is not None:
        training = replace(training, epochs=spec.epochs)
    if spec.time_budget is not None:
        training = replace(training, time_budget=spec.time_budget)
    data = {**chosen.data, **spec.data}
    return Resolved(name, chosen, data, replace(chosen.model, **spec.model), training)


def resolve_surrogate(spec: RunSpec) -> tuple[str, dict[str, float], float | None]:
    """``(registered name, parameters, common steepness or None)`` of a run."""
    from ..core.registry import get_spec

    chosen = preset(spec.task, spec.preset)
    name = spec.surrogate or chosen.surrogate[0]
    if name in CONTROLS:
        if spec.steepness is not None or spec.params:
            raise ValueError(f"control {name!r} takes no parameters or steepness")
        return CONTROLS[name], {}, None
    surrogate = get_spec(name)
    params = dict(chosen.surrogate[1]) if name == chosen.surrogate[0] and not spec.params else {}
    params.update(spec.params)
    if spec.steepness is not None:
        if surrogate.scale is None:
            raise ValueError(f"surrogate {name!r} declares no scale, so it has no steepness")
        params[surrogate.scale.param] = surrogate.scale.value(spec.steepness)
    values = surrogate.bind((), params)
    steepness = (
        None
        if surrogate.scale is None
        else surrogate.scale.steepness(values[surrogate.scale.param])
    )
    return name, values, steepness


def _baseline(data: TaskData) -> float:
    train, test = data.train, data.test
    return nearest_neighbour_accuracy(
        train.first_spike_times(), train.labels, test.first_spike_times(), test.labels
    )


def run(
    spec: RunSpec,
    *,
    progress: EpochProgress | None = None,
    on_epoch: OnEpoch | None = None,
    data: TaskData | None = None,
) -> dict[str, Any]:
    """Generate or read the task, train, and report (see the module docstring)."""
    from ..core.registry import get_surrogate

    began = time.perf_counter()
    resolved = resolve(spec)
    chosen, training, architecture = resolved.preset, resolved.training, resolved.model
    name, params, steepness = resolve_surrogate(spec)
    path = None if spec.path == FUSED else spec.path
    surrogate_fn = get_surrogate(name, path, **params)
    if data is None:
        data = load_task(spec.task, resolved.data)
    baseline = _baseline(data)
    torch.manual_seed(spec.seed)
    model = SpikingClassifier(
        data.units,
        data.classes,
        surrogate_fn,
        architecture,
        execution=spec.path,
        true_gradient=spec.surrogate == "true_gradient",
    )
    result = fit(model, data, training, target=chosen.target, progress=progress, on_epoch=on_epoch)
    return {
        "task": spec.task,
        "preset": resolved.preset_name,
        "surrogate": spec.surrogate if spec.surrogate in CONTROLS else name,
        "params": params,
        "scale": steepness,
        "path": spec.path,
        "seed": spec.seed,
        "test_accuracy": result.test_accuracy,
        "best_val_accuracy": result.best_val_accuracy,
        "best_epoch": result.best_epoch,
        "baseline_1nn": baseline,
        "chance": 1.0 / data.classes,
        "target": chosen.target,
        "seconds_to_target": result.seconds_to_target,
        "train_seconds": result.train_seconds,
        "wall_seconds": time.perf_counter() - began,
        "threads": torch.get_num_threads(),
        "history": [asdict(record) for record in result.history],
        "config": {
            "data": data.description,
            "model": architecture.as_dict(),
            "training": training.as_dict(),
            "samples": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        },
    }
