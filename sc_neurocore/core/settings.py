"""Reading settings from the environment and checking plain integer arguments: one place.

Every ``SC_NEUROCORE_*`` switch is parsed here, so ``0/false/no/off`` means "off" for all
of them, and every "positive int" argument fails with the same wording.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "ENV_KERNEL",
    "KERNEL_FAMILIES",
    "env_flag",
    "env_names",
    "env_text",
    "normalize_distribution",
    "positive_int",
    "requested_kernel",
    "set_kernel",
    "use_kernel",
]

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


#: The kernel switch: which family runs the operators' kernels (see kernels/choice.py).
ENV_KERNEL = "SC_NEUROCORE_KERNEL"
KERNEL_FAMILIES = ("torch", "native", "triton")
_UNSET = "unset"
_kernel_override: str | None = _UNSET


def _check_family(family: object, what: str) -> str | None:
    if family is None or family in KERNEL_FAMILIES:
        return family  # type: ignore[return-value]
    raise ValueError(f"{what} must be one of {KERNEL_FAMILIES} or None (unset), got {family!r}")


def requested_kernel() -> str | None:
    """The family forced by :func:`set_kernel` or ``SC_NEUROCORE_KERNEL``; ``None``: fastest."""
    if _kernel_override != _UNSET:
        return _kernel_override
    raw = os.environ.get(ENV_KERNEL)  # read per call: cheap, and tests set it at run time
    if not raw:
        return None
    value = raw.strip().lower()
    return _check_family(value, ENV_KERNEL) if value else None


def set_kernel(family: str | None) -> str | None:
    """Force one kernel family (``"torch"``, ``"native"``, ``"triton"``) for this process,
    over ``SC_NEUROCORE_KERNEL``; ``None`` drops the override (the variable, if set, decides
    again; unset, the fastest runs).  Returns the previous choice (``None``: not forced).
    """
    global _kernel_override
    try:
        previous = requested_kernel()
    except ValueError:  # a bad SC_NEUROCORE_KERNEL is what this call replaces
        previous = None
    checked = _check_family(family, "kernel family")
    _kernel_override = _UNSET if checked is None else checked
    return previous


@contextmanager
def use_kernel(family: str | None) -> Iterator[None]:
    """``with use_kernel("native"): ...`` forces a family inside the block only
    (``use_kernel(None)``: no override inside the block)."""
    global _kernel_override
    saved = _kernel_override
    set_kernel(family)
    try:
        yield
    finally:
        _kernel_override = saved
