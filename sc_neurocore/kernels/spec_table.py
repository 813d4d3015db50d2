"""Which spec an operator's ``str surrogate`` argument means: the layer's, not a registry's.

A fused layer is given a surrogate (from the default registry, a private
:class:`~sc_neurocore.core.registry.Registry` or a plugin); when it is built it files the
spec here with :func:`spec_key` and passes the key to the operator, which reads the spec back
with :func:`spec_for`: one dict lookup per call, no registry on the call's path.

A key is ``name@token``: the surrogate's name (what an exported program shows) and a token of
the spec's content (its parameters, formula, C expression and where its gradient is
defined), so two different specs of one name never share a key.  A key this process has
not filed (a program saved by ``torch.export`` and loaded in a fresh process) is resolved
by name through the resolver that :func:`set_resolver` installs (``import sc_neurocore``
installs the default registry's), then, and only then; a token that does not match the
resolved spec is an error naming the surrogate, never a silent change of the math.  A
plain name (no ``@``) resolves the same way.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..core.errors import UnknownSurrogateError
from ..core.forksafe import reset_module_lock
from ..core.spec import SurrogateSpec

__all__ = [
    "neuron_programs",
    "set_neuron_source",
    "set_resolver",
    "spec_for",
    "spec_key",
    "spec_token",
]

_lock = threading.Lock()
reset_module_lock(__name__, "custom_op definitions")
#: key -> spec, filed by the layers (and by resolution of keys they did not file)
_table: dict[str, SurrogateSpec] = {}
#: spec -> its key, so a layer built twice from one spec files it once
_keys: dict[int, tuple[SurrogateSpec, str]] = {}
_resolver: Callable[[str], SurrogateSpec] | None = None
#: The registered neurons' step programs, for the kernel listing (kernels know no registry).
_neuron_source: Callable[[], Sequence[Any]] = tuple


def spec_token(spec: SurrogateSpec) -> str:
    """A short digest of what defines ``spec``'s math, the same in every process."""
    grad = spec.grad
    where = f"{getattr(grad, '__module__', '?')}.{getattr(grad, '__qualname__', '?')}"
    content = repr((spec.name, spec.params, spec.formula, spec.c_grad, where))
    return hashlib.sha256(content.encode()).hexdigest()[:12]


def spec_key(spec: SurrogateSpec) -> str:
    """File ``spec`` and return the key an operator's ``str surrogate`` argument carries."""
    held = _keys.get(id(spec))
    if held is not None and held[0] is spec:
        return held[1]
    with _lock:
        base = key = f"{spec.name}@{spec_token(spec)}"
        count = 1
        # An equal spec shares the key; a different one with the same content digest (two
        # closures of one function) gets a key of its own, valid in this process only.
        while key in _table and _table[key] != spec:
            count += 1
            key = f"{base}~{count}"
        _table.setdefault(key, spec)
        _keys[id(spec)] = (spec, key)
        return key


def set_resolver(resolver: Callable[[str], SurrogateSpec] | None) -> None:
    """Install how a key nobody filed here is resolved by name (the registry's ``get_spec``)."""
    global _resolver
    _resolver = resolver


def spec_for(key: str) -> SurrogateSpec:
    """The spec ``key`` names: the one filed under it, else the resolver's by name."""
    found = _table.get(key)
    if found is not None:
        return found
    name, _, token = key.partition("@")
    if _resolver is None:
        raise UnknownSurrogateError(
            f"surrogate {name!r}: not filed by any layer of this process and no registry "
            "is installed to resolve it (import sc_neurocore first)"
        )
    spec = _resolver(name)
    if token and (token.partition("~")[2] or spec_token(spec) != token.partition("~")[0]):
        raise UnknownSurrogateError(
            f"surrogate {name!r} (spec {token}) was defined where the program was made and "
            f"is not the one registered here (spec {spec_token(spec)}): register that "
            "surrogate (its plugin or private registry) before loading"
        )
    with _lock:
        _table.setdefault(key, spec)
    return spec


def set_neuron_source(source: Callable[[], Sequence[Any]]) -> None:
    """Install how the kernel listing gets the registered neurons' step programs
    (``import sc_neurocore`` installs the default registry's)."""
    global _neuron_source
    _neuron_source = source


def neuron_programs() -> Sequence[Any]:
    """The registered neurons' step programs (none until a source is installed)."""
    return _neuron_source()
