"""Operators that define themselves when looked up, so a saved program reloads anywhere.

The project's operators (``sc_neurocore::<surrogate>`` and ``sc_neurocore_fused::lif``)
are defined lazily: a surrogate's operator when the registry first builds it, the fused
ones when :mod:`sc_neurocore.neurons.fused_op` is imported.  A fresh process that runs
``torch.export.load`` has done neither, and the deserializer resolves each node's target
by attribute lookup on ``torch.ops.<namespace>``.  :func:`install_operator_lookup` (run by
``import sc_neurocore``, which stays cheap: nothing is scanned until a lookup misses)
gives those two namespaces a lookup that, on a miss, asks the registry to build the
surrogate of that name (discovering plugins first) or imports the fused operators, then
looks again.

A program that names a surrogate this process does not hold (saved where a plugin was
installed) fails to load with :class:`~sc_neurocore.core.errors.UnknownSurrogateError`
and the registry's message, as the fused operators do: torch's deserializer asks with
``hasattr``, which would turn a plain ``AttributeError`` into torch's generic "custom op
is not registered".  Every other lookup of an unknown name raises ``AttributeError``.
"""

from __future__ import annotations

import importlib
import sys

import torch

from ..core import compat
from ..core.compat import OpNamespace as _OpNamespace
from ..core.spec import SurrogateSpec
from ..kernels.operator import defining, is_defining
from ..kernels.spec_table import set_resolver

__all__ = [
    "FUSED_NAMESPACE",
    "SURROGATE_NAMESPACE",
    "define_operator",
    "defining",
    "install_operator_lookup",
]

#: The namespace of the ``custom_op`` path (``sc_neurocore.paths.custom_op.NAMESPACE``).
SURROGATE_NAMESPACE = "sc_neurocore"
#: The namespace of the fused neuron operators (``sc_neurocore.neurons.fused_op.NAMESPACE``).
FUSED_NAMESPACE = "sc_neurocore_fused"
#: Modules whose import defines the fused operators.
FUSED_MODULES = ("sc_neurocore.neurons.fused_op",)


def define_operator(namespace: str, name: str) -> bool:
    """Define ``namespace::name`` if the project provides it; whether it tried.

    A surrogate's operator is built through the registry's ``custom_op`` path, so plugin
    surrogates are found too; a name the registry does not hold defines nothing.
    """
    if is_defining():  # a lookup while defining: no recursion
        return False
    if namespace == FUSED_NAMESPACE:
        for module in FUSED_MODULES:
            importlib.import_module(module)
        return True
    from ..core.registry import get_surrogate, list_surrogates

    surrogates = list_surrogates()
    if name not in surrogates:  # the surrogate's backward operator, <name>_backward
        name = name.removesuffix("_backward")
        if name not in surrogates:
            return False
    get_surrogate(name, "custom_op")
    return True


#: The module of torch's export deserializer, which resolves a node's target by ``hasattr``.
DESERIALIZER = compat.EXPORT_DESERIALIZER


def _asked_by_deserializer() -> bool:
    frame = sys._getframe(2)  # this <- LookupNamespace.__getattr__ <- its caller
    for _ in range(3):  # hasattr is C: the deserializer's frame is the next Python one
        if frame is None:
            return False
        if frame.f_globals.get("__name__") == DESERIALIZER:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _missing_surrogate(op_name: str) -> Exception:
    from ..core.errors import UnknownSurrogateError, unknown_name_message
    from ..core.registry import list_surrogates

    name = op_name.removesuffix("_backward")
    return UnknownSurrogateError(unknown_name_message("surrogate", name, list_surrogates()))


class LookupNamespace(_OpNamespace):
    """``torch.ops.<namespace>`` that defines a missing operator before giving up."""

    # The namespace names its operators' module after its class's module, and the
    # serializer writes that name as the node target: keep torch's.
    __module__ = _OpNamespace.__module__

    def __getattr__(self, op_name: str):  # type: ignore[no-untyped-def]
        try:
            return super().__getattr__(op_name)
        except AttributeError:
            if op_name.startswith("_") or not define_operator(self.name, op_name):
                if self.name == SURROGATE_NAMESPACE and not op_name.startswith("_"):
                    if not is_defining() and _asked_by_deserializer():
                        raise _missing_surrogate(op_name) from None
                raise
            return super().__getattr__(op_name)


def registered_spec(name: str) -> SurrogateSpec:
    """The default registry's spec of ``name``: how a fused operator's surrogate key that
    no layer of this process filed (a reloaded program's) is resolved."""
    from ..core.registry import get_spec

    return get_spec(name)


def install_operator_lookup() -> None:
    """Give ``torch.ops.sc_neurocore`` and ``torch.ops.sc_neurocore_fused`` the lookup, and
    the fused operators' spec table its resolver (:func:`registered_spec`).

    An existing namespace object keeps its identity (and its cached operators): only its
    class changes.  Idempotent.
    """
    set_resolver(registered_spec)
    for namespace in (SURROGATE_NAMESPACE, FUSED_NAMESPACE):
        current = torch.ops.__dict__.get(namespace)
        if isinstance(current, LookupNamespace):
            continue
        if isinstance(current, _OpNamespace):
            current.__class__ = LookupNamespace
            continue
        setattr(torch.ops, namespace, LookupNamespace(namespace))
        torch.ops._dir.append(namespace)
