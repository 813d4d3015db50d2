"""Reading settings from the environment and checking plain integer arguments: one place.

Every ``SC_NEUROCORE_*`` switch is parsed here, so ``0/false/no/off`` means "off" for all
of them, and every "positive int" argument fails with the same wording.
"""

from __future__ import annotations

import os

__all__ = ["env_flag", "env_names", "env_text", "normalize_distribution", "positive_int"]

_FALSE = ("0", "false", "no", "off")
_TRUE = ("1", "true", "yes", "on")


def env_flag(variable: str, default: bool) -> bool:
    """A boolean switch: unset or empty gives ``default``; ``0/false/no/off`` and
    ``1/true/yes/on`` (any case) give False and True; anything else gives ``default``."""
    value = os.environ.get(variable, "").strip().lower()
    if value in _FALSE:
        return False
    if value in _TRUE:
        return True
    return default


def env_text(variable: str) -> str:
    """The variable's value without surrounding white space ('' when unset)."""
    return os.environ.get(variable, "").strip()


def normalize_distribution(distribution: str) -> str:
    """A distribution name as packaging compares them: lower case, ``-`` for ``_`` and ``.``."""
    return distribution.lower().replace("_", "-").replace(".", "-")


def env_names(variable: str) -> set[str]:
    """Comma-separated names; a ``distribution:name`` entry has its distribution normalized."""
    names = set()
    for part in env_text(variable).split(","):
        part = part.strip()
        if ":" in part:
            distribution, _, name = part.partition(":")
            part = f"{normalize_distribution(distribution.strip())}:{name.strip()}"
        if part:
            names.add(part)
    return names


def positive_int(name: str, value: object) -> int:
    """``value`` if it is an ``int`` >= 1 (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value
