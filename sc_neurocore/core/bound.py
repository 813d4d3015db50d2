"""The callables users hand to cells: a surrogate bound to its path, spec and parameters.

:class:`Surrogate` is what ``get_surrogate`` returns; :class:`CallForm` is the type of the
seed call forms (``atan_surrogate``, ...).  Both carry their spec, so a neuron that wants
to fuse a surrogate asks the callable it was given, never the registry.  This module
imports no registry: the call forms get theirs when they are made.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any, Protocol

from torch import Tensor
from torch.compiler import is_compiling

from . import compat
from .spec import SurrogateFn, SurrogateSpec, signature_of

__all__ = ["CallForm", "Surrogate"]


class Surrogate:
    """``f(x)``: the spike with this surrogate's gradient.  Picklable, comparable, hashable."""

    __slots__ = ("spec", "path", "_params", "_fn")

    def __init__(
        self, spec: SurrogateSpec, path: str, params: dict[str, float], fn: SurrogateFn
    ) -> None:
        self.spec = spec
        self.path = path
        self._params = dict(params)
        self._fn = fn

    @property
    def name(self) -> str:
        """The registry name of the surrogate."""
        return self.spec.name

    @property
    def params(self) -> dict[str, float]:
        """The bound parameter values, in the spec's order."""
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
        # Only a registry makes Surrogates, so its module is loaded whenever one exists.
        restore = sys.modules[f"{__package__}.registry"].restore_surrogate
        return (restore, (self.name, self.path, tuple(self._params.items())))


class Resolver(Protocol):
    """What a call form needs of a registry."""

    snapshot: Any
    traced: dict[tuple[str, str | None], tuple[SurrogateFn, Callable[..., Any]]]

    def get_spec(self, name: str) -> SurrogateSpec: ...

    def table(self) -> Any: ...

    def call_form_entry(
        self, name: str, path: str | None
    ) -> tuple[SurrogateFn, Callable[..., Any]]: ...


class CallForm:
    """A seed call form such as ``atan_surrogate(x, alpha=2.0, *, path=None)``.

    ``path`` is ``None`` for the dispatcher (it follows the default path and takes a
    ``path=`` keyword) and a path name for the pinned forms (``atan_surrogate_legacy``).
    The spec is looked up when first needed, so importing the call forms scans nothing.
    """

    def __init__(self, registry: Resolver, surrogate: str, path: str | None, name: str) -> None:
        self.surrogate = surrogate
        self.path = path
        self.__name__ = self.__qualname__ = name
        self.__module__ = "sc_neurocore.core.callforms"
        self._registry = registry
        self._resolve_for_trace = _trace_resolver(registry)

    @property
    def spec(self) -> SurrogateSpec:
        """The registered spec of this call form's surrogate."""
        return self._registry.get_spec(self.surrogate)

    @property
    def __signature__(self) -> inspect.Signature:  # type: ignore[override]
        signature = signature_of(self.spec)
        if self.path is not None:
            return signature
        keyword = inspect.Parameter("path", inspect.Parameter.KEYWORD_ONLY, default=None)
        return signature.replace(parameters=[*signature.parameters.values(), keyword])

    @property
    def __doc__(self) -> str:  # type: ignore[override]
        spec = self.spec
        where = f"the {self.path} path" if self.path else "the default path (see set_default_path)"
        return (
            f"Spike ``(x > 0)`` in x's dtype with the {spec.name!r} surrogate gradient on "
            f"{where}.\n\ng(x): {spec.description}.  Reference: {spec.reference}."
        )

    def __call__(self, x: Tensor, *args: Any, path: str | None = None, **kwargs: Any) -> Tensor:
        pinned = self.path
        if pinned is not None and path is not None:
            raise TypeError(f"{self.__name__}() runs on {pinned!r} only; it takes no path=")
        key = (self.surrogate, pinned or path)
        entry = self._registry.snapshot.forms.get(key) or self._entry_on_miss(*key)
        fn, bind = entry
        return fn(x, **bind(args, kwargs))

    def _entry_on_miss(self, name: str, path: str | None) -> tuple[SurrogateFn, Callable[..., Any]]:
        """The call-form entry on a cache miss, also when the miss happens inside torch.compile.

        Tracing the registry's first load (a lock, an entry-point scan) would break the graph
        of a model compiled before it ever ran eagerly, so under Dynamo the lookup runs for
        real in the resolver of :func:`_trace_resolver` and the graph reads its result from a
        side table.
        """
        if not is_compiling():
            return self._registry.call_form_entry(name, path)
        self._resolve_for_trace(name, path)
        return self._registry.traced[(name, path)]

    def __repr__(self) -> str:
        return f"<call form {self.__name__} of {self.surrogate!r}>"

    def __reduce__(self) -> str:
        return self.__name__  # pickled by reference to sc_neurocore.core.callforms


def _trace_resolver(registry: Resolver) -> Callable[[str, str | None], bool]:
    """``resolve(name, path)``: fill ``registry.traced[(name, path)]``; Dynamo runs it for real.

    Marked as a trace-time constant, Dynamo calls it instead of tracing it and bakes in its
    result (``True``: a function result cannot be such a constant, hence the side table).
    Dynamo before 2.6 does that only when every argument is a constant, so the registry is
    closed over and the arguments are the two strings of the key.
    """

    # Dynamo before 2.6 stores the baked-in result as a global of the compiled function's
    # module under this function's name: a name no user module has.
    def _sc_neurocore_resolve_call_form(name: str, path: str | None) -> bool:
        table = registry.table()
        cached = (name, path) in table.forms
        entry = registry.call_form_entry(name, path)
        table = registry.table()
        registry.traced[(name, path)] = entry
        if not cached:
            # Dynamo guarded on the key being absent from the hot cache; filling it during
            # the same trace would fail that guard.  The next eager call fills it.
            table.forms.pop((name, path), None)
        return True

    # Marked without importing Dynamo where torch allows.
    return compat.mark_trace_constant(_sc_neurocore_resolve_call_form)
