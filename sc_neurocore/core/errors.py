"""Exceptions and warnings raised by the registry and plugin discovery."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class KernelUnavailableError(RuntimeError):
    """The kernel family forced by ``SC_NEUROCORE_KERNEL``/``set_kernel`` cannot run a call."""


class PluginWarning(UserWarning):
    """A plugin was skipped, failed, or lost a name conflict; core keeps working."""


class SurrogateLookupError(LookupError):
    """Base class for everything the registry cannot resolve."""


class UnknownSurrogateError(SurrogateLookupError):
    """No registered surrogate has the requested name."""


class UnknownNeuronError(SurrogateLookupError):
    """No registered neuron has the requested name."""


class UnknownPathError(SurrogateLookupError):
    """No registered execution path has the requested name."""


class PathUnavailableError(SurrogateLookupError):
    """The path is registered but cannot run in this environment."""


class UnsupportedPairError(SurrogateLookupError):
    """The path is available but does not cover this surrogate."""


def unknown_name_message(kind: str, name: object, available: Iterable[str]) -> str:
    """Build the message for an unknown name: what exists and the closest match."""
    names = list(available)
    message = f"unknown {kind} {name!r}; available: {', '.join(names) or '(none)'}"
    if isinstance(name, str):
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        if close:
            message += f". Did you mean {close[0]!r}?"
    return message
