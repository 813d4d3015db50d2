"""The object ``get_surrogate`` returns: a surrogate with its path and parameters bound."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from .spec import SurrogateFn


class Surrogate:
    """``f(x)``: the spike with this surrogate's gradient.  Picklable, comparable, hashable."""

    __slots__ = ("name", "path", "_params", "_fn")

    def __init__(self, name: str, path: str, params: dict[str, float], fn: SurrogateFn) -> None:
        self.name = name
        self.path = path
        self._params = dict(params)
        self._fn = fn

    @property
    def params(self) -> dict[str, float]:
        return dict(self._params)

    def __call__(self, x: Tensor) -> Tensor:
        return self._fn(x, **self._params)

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.path, tuple(self._params.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Surrogate) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        params = "".join(f", {key}={value!r}" for key, value in self._params.items())
        return f"Surrogate({self.name!r}, path={self.path!r}{params})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.name, self.path, tuple(self._params.items())))


def _restore(name: str, path: str, params: tuple[tuple[str, float], ...]) -> Surrogate:
    from .registry import get_surrogate

    surrogate: Surrogate = get_surrogate(name, path, **dict(params))  # type: ignore[assignment]
    return surrogate
