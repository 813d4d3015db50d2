"""The names a command line gives (surrogates, neurons, paths, tasks, presets), checked before any
data loads, each with one message: what exists and the closest match."""

from __future__ import annotations

from collections.abc import Iterable

from ..core.errors import unknown_name_message
from . import UsageError

#: The execution that needs no path: the fused multi-step layers (train --task, sweep).
FUSED = "fused"


def check_name(option: str, kind: str, name: str, choices: Iterable[str]) -> str:
    """``name`` if it is one of ``choices``; else a usage error naming the option."""
    names = list(choices)
    if name not in names:
        raise UsageError(f"{option}: {unknown_name_message(kind, name, names)}")
    return name


def check_surrogate(option: str, name: str, *, controls: Iterable[str] = ()) -> str:
    from ..core.registry import list_surrogates

    return check_name(option, "surrogate", name, [*list_surrogates(), *controls])


def check_neuron(option: str, name: str) -> str:
    """A registered neuron that spikes (a task's hidden layer)."""
    from ..core.registry import get_neuron_spec, list_neurons

    check_name(option, "neuron", name, list_neurons())
    if not get_neuron_spec(name).spiking:
        raise UsageError(
            f"{option}: neuron {name!r} does not spike (a readout); hidden layers spike"
        )
    return name


def check_path(option: str, name: str, *, fused: bool) -> str:
    """A registered path, or ``'fused'`` where the command runs the fused layers."""
    from ..core.registry import list_paths

    if name == FUSED and not fused:
        raise UsageError(
            f"{option}: {FUSED!r} is the fused multi-step layers of `train --task` and "
            f"`sweep`, not an execution path; execution paths: {', '.join(list_paths())}"
        )
    return check_name(option, "path", name, [*list_paths(), *([FUSED] if fused else [])])


def check_task(option: str, task: str, preset: str | None) -> None:
    """The task exists and has the preset (``None``: its default)."""
    from ..tasks.catalog import PRESETS

    check_name(option, "task", task, PRESETS)
    if preset is not None:
        check_name("--preset", f"{task} preset", preset, PRESETS[task])
