"""What a forked child must not inherit as it was: locks, pools and held file locks.

``os.fork`` copies the memory of every thread but runs only the calling one: a lock that
another thread held at that instant stays held in the child forever, and the first use
deadlocks (a DataLoader worker forked while a thread refreshes the plugins).  Each owner
of such state registers a reset here; one ``os.register_at_fork`` hook runs them all in
the child, oldest first.  Owners are held weakly: a registry built by a test and dropped
is forgotten with it.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Reset", "after_fork_in_child", "registered", "reset_module_lock"]


@dataclass(frozen=True)
class Reset:
    """``reset(owner)`` runs in every child forked while ``owner`` is alive."""

    kind: str  # what is reset, for diagnostics and the fork tests
    owner: weakref.ref[Any]
    reset: Callable[[Any], None]


_resets: list[Reset] = []
_guard = threading.Lock()  # taken only to append or prune; reset itself in the child


def after_fork_in_child(owner: object, reset: Callable[[Any], None], kind: str) -> None:
    """Run ``reset(owner)`` in each child forked from now on, while ``owner`` lives."""
    with _guard:
        _resets[:] = [entry for entry in _resets if entry.owner() is not None]
        _resets.append(Reset(kind, weakref.ref(owner), reset))


def reset_module_lock(module: str, kind: str, attribute: str = "_lock") -> None:
    """Give the module ``module`` a new ``threading.Lock`` as ``attribute`` in each child."""
    after_fork_in_child(
        sys.modules[module], lambda owner: setattr(owner, attribute, threading.Lock()), kind
    )


def registered() -> list[Reset]:
    """The live resets, oldest first."""
    return [entry for entry in _resets if entry.owner() is not None]


def _in_child() -> None:
    global _guard
    _guard = threading.Lock()
    for entry in list(_resets):
        owner = entry.owner()
        if owner is not None:
            entry.reset(owner)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)
