"""Values written on the command line (``NAME=NUMBER``, ``FIELD=VALUE``, ranges), parsed
one way for every command; a bad one is a usage error naming the option."""

from __future__ import annotations

from typing import Any

from . import UsageError


def parse_params(items: list[str]) -> dict[str, float]:
    """``--param NAME=NUMBER`` pairs."""
    params: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            params[name.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--param must look like NAME=NUMBER, got {item!r}") from None
    return params


def show_params(params: dict[str, float]) -> str:
    """Parameters as they are written on the command line, ``alpha=2, beta=0.5``."""
    return ", ".join(f"{name}={value:g}" for name, value in params.items())


def parse_fields(items: list[str], option: str = "--data") -> dict[str, Any]:
    """``FIELD=VALUE`` pairs; a value is an int, a float, or else kept as a string."""
    fields: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"{option} must look like FIELD=VALUE, got {item!r}")
        value: Any = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        fields[name.strip()] = value
    return fields


def at_least_one(values: dict[str, int | None]) -> None:
    """Each given count (``--epochs`` ...) is >= 1."""
    for name, value in values.items():
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def positive(values: dict[str, float | None]) -> None:
    """Each given quantity (``--lr``, ``--time-budget`` ...) is > 0."""
    for name, value in values.items():
        if value is not None and not value > 0:
            raise UsageError(f"--{name.replace('_', '-')} must be > 0, got {value}")
