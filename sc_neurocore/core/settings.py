"""Reading settings from the environment and checking plain integer arguments: one place.

Every ``SC_NEUROCORE_*`` switch is parsed here, so ``0/false/no/off`` means "off" for all
of them, and every "positive int" argument fails with the same wording.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "ENV_INTERPRET",
    "ENV_KERNEL",
    "ENV_NATIVE",
    "KERNEL_FAMILIES",
    "KERNEL_SWITCH",
    "KernelSwitch",
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


#: The kernel switch: which family runs the operators' kernels (see kernels/selector.py).
ENV_KERNEL = "SC_NEUROCORE_KERNEL"
#: ``SC_NEUROCORE_NATIVE=0`` keeps the native (compiled C) family off unless forced.
ENV_NATIVE = "SC_NEUROCORE_NATIVE"
#: Triton's own switch: its kernels run in the CPU interpreter (how CI tests them).
ENV_INTERPRET = "TRITON_INTERPRET"
KERNEL_FAMILIES = ("torch", "native", "triton")


def _check_family(family: object, what: str) -> str | None:
    if family is None or family in KERNEL_FAMILIES:
        return family  # type: ignore[return-value]
    raise ValueError(f"{what} must be one of {KERNEL_FAMILIES} or None (unset), got {family!r}")


class KernelSwitch:
    """Which kernel families may run: the forced family, the native switch, the interpreter.

    The environment is read once, when this module is imported (and again only through
    :meth:`read_environment`); calls read this object's attributes, never ``os.environ``.
    ``generation`` grows with every change, so caches of decisions know when to drop them.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._override: str | None = None
        self._environment: str | None = None
        self._bad_environment = ""
        self.native = True
        self.interpret = False
        self.read_environment()

    def read_environment(self) -> None:
        """Read ``SC_NEUROCORE_KERNEL``, ``SC_NEUROCORE_NATIVE`` and ``TRITON_INTERPRET`` again
        (the override of :func:`set_kernel` stays): for code that changes them after import."""
        raw = env_text(ENV_KERNEL).lower()
        try:
            self._environment, self._bad_environment = _check_family(raw or None, ENV_KERNEL), ""
        except ValueError as error:  # raised where the switch is asked, not at import
            self._environment, self._bad_environment = None, str(error)
        self.native = env_flag(ENV_NATIVE, True)
        self.interpret = env_text(ENV_INTERPRET) == "1"
        self.generation += 1

    @property
    def forced(self) -> str | None:
        """The family forced by :func:`set_kernel` or ``SC_NEUROCORE_KERNEL``; ``None``: fastest."""
        if self._override is not None:
            return self._override
        if self._bad_environment:
            raise ValueError(self._bad_environment)
        return self._environment

    def force(self, family: str | None) -> str | None:
        """Set (``None``: drop) the override; returns the previous one (``None``: none)."""
        previous, self._override = self._override, _check_family(family, "kernel family")
        self.generation += 1
        return previous

    def set_native(self, enabled: bool) -> bool:
        """Let the native family run unforced (or not); returns the previous setting."""
        previous, self.native = self.native, bool(enabled)
        self.generation += 1
        return previous

    def state(self) -> tuple[object, ...]:
        """Everything a decision depends on, for saving and :meth:`restore` (tests, blocks)."""
        return (self._override, self._environment, self._bad_environment, self.native,
                self.interpret)  # fmt: skip

    def restore(self, state: tuple[object, ...]) -> None:
        (self._override, self._environment, self._bad_environment, self.native,
         self.interpret) = state  # type: ignore[assignment]  # fmt: skip
        self.generation += 1


#: The one switch of this process (the kernel selector holds it).
KERNEL_SWITCH = KernelSwitch()


def requested_kernel() -> str | None:
    """The family forced by :func:`set_kernel` or ``SC_NEUROCORE_KERNEL``; ``None``: fastest."""
    return KERNEL_SWITCH.forced


def set_kernel(family: str | None) -> str | None:
    """Force one kernel family (``"torch"``, ``"native"``, ``"triton"``) for this process,
    over ``SC_NEUROCORE_KERNEL``; ``None`` drops the override (the variable, if set, decides
    again; unset, the fastest runs).  Returns the previous choice (``None``: not forced).
    """
    try:
        previous = KERNEL_SWITCH.forced
    except ValueError:  # a bad SC_NEUROCORE_KERNEL is what this call replaces
        previous = None
    KERNEL_SWITCH.force(family)
    return previous


@contextmanager
def use_kernel(family: str | None) -> Iterator[None]:
    """``with use_kernel("native"): ...`` forces a family inside the block only
    (``use_kernel(None)``: no override inside the block)."""
    saved = KERNEL_SWITCH.force(family)
    try:
        yield
    finally:
        KERNEL_SWITCH.force(saved)
