"""Operators that define themselves when looked up, so a saved program reloads anywhere.

The project's operators (``sc_neurocore::<surrogate>`` and ``sc_neurocore_neuron::<neuron>``,
which the fused layers ``LIF``, ``SynapticLIF`` and ``LeakyIntegrator`` run too) are defined
lazily: a surrogate's operator when the registry first builds it, a neuron spec's when a
layer first runs it fused.  A fresh process that runs ``torch.export.load`` has done
neither, and the deserializer resolves each node's target by attribute lookup on
``torch.ops.<namespace>``.  :func:`install_operator_lookup` (run by ``import sc_neurocore``,
which stays cheap: nothing is scanned until a lookup misses) gives those namespaces a lookup
that, on a miss, asks the registry to build the surrogate of that name (discovering plugins
first) or defines the operator of the registered neuron spec (or its reset variant) of that
name, then looks again.

A program that names a surrogate or a neuron this process does not hold (saved where a
plugin was installed) fails to load with
:class:`~sc_neurocore.core.errors.UnknownSurrogateError` or
:class:`~sc_neurocore.core.errors.UnknownNeuronError` and the registry's message, as the
operators do: torch's deserializer asks with ``hasattr``, which would turn a plain
``AttributeError`` into torch's generic "custom op is not registered".  Every other
lookup of an unknown name raises ``AttributeError``.
"""

from __future__ import annotations

import importlib
import keyword
import sys
from typing import Any

import torch

from ..core import compat
from ..core.compat import OpNamespace as _OpNamespace
from ..core.spec import SurrogateSpec
from ..kernels.operator import defining, is_defining
from ..kernels.spec_table import set_neuron_source, set_resolver

__all__ = [
    "NEURON_NAMESPACE",
    "SURROGATE_NAMESPACE",
    "define_operator",
    "defining",
    "install_operator_lookup",
]

#: The namespace of the ``custom_op`` path (``sc_neurocore.paths.custom_op.NAMESPACE``).
SURROGATE_NAMESPACE = "sc_neurocore"
#: The namespace of the operators generated from neuron specs
#: (``sc_neurocore.neurons.neuron_op.NAMESPACE``).
NEURON_NAMESPACE = "sc_neurocore_neuron"
#: The module that defines a neuron spec's operator (``operator_for``, ``operator_name``).
NEURON_MODULE = "sc_neurocore.neurons.neuron_op"


def define_operator(namespace: str, name: str) -> bool:
    """Define ``namespace::name`` if the project provides it; whether it tried.

    A surrogate's operator is built through the registry's ``custom_op`` path, a neuron's
    from the registry's spec, so plugins are found too; a name the registry does not hold
    defines nothing.
    """
    if is_defining():  # a lookup while defining: no recursion
        return False
    if namespace == NEURON_NAMESPACE:
        return _define_neuron(name)
    from ..core.registry import get_surrogate, list_surrogates

    surrogates = list_surrogates()
    if name not in surrogates:  # the surrogate's backward operator, <name>_backward
        name = name.removesuffix("_backward")
        if name not in surrogates:
            return False
    get_surrogate(name, "custom_op")
    return True


def _define_neuron(op_name: str) -> bool:
    """Define the operator called ``op_name`` (or its ``_backward``) from the registered
    spec, or the reset variant a layer makes of one, whose operator has that name."""
    from ..core.neuron_spec import RESET_MODES
    from ..core.registry import get_neuron_spec, list_neurons

    neuron_op = importlib.import_module(NEURON_MODULE)
    wanted = (op_name, op_name.removesuffix("_backward"))
    for name in list_neurons():
        spec = get_neuron_spec(name)
        for mode in RESET_MODES if spec.spiking else RESET_MODES[:1]:
            variant = spec.with_reset(mode)
            if neuron_op.operator_name(variant) in wanted:
                neuron_op.operator_for(variant)
                return True
    return False


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


def _missing(namespace: str, op_name: str) -> Exception:
    """The registry's error for the surrogate or neuron an operator name stands for."""
    from ..core.errors import UnknownNeuronError, UnknownSurrogateError, unknown_name_message
    from ..core.registry import list_neurons, list_surrogates

    name = op_name.removesuffix("_backward")
    if namespace == SURROGATE_NAMESPACE:
        return UnknownSurrogateError(unknown_name_message("surrogate", name, list_surrogates()))
    for mode in ("zero", "none"):  # a layer's reset variant names its neuron first
        name = name.removesuffix(f"_reset_{mode}")
    name = name[:-1] if name.endswith("_") and keyword.iskeyword(name[:-1]) else name
    return UnknownNeuronError(unknown_name_message("neuron", name, list_neurons()))


#: Namespaces whose operators stand for a registry name (a missing one is that name's error).
_NAMED_BY_REGISTRY = (SURROGATE_NAMESPACE, NEURON_NAMESPACE)


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
                if self.name in _NAMED_BY_REGISTRY and not op_name.startswith("_"):
                    if not is_defining() and _asked_by_deserializer():
                        raise _missing(self.name, op_name) from None
                raise
            return super().__getattr__(op_name)


def registered_spec(name: str) -> SurrogateSpec:
    """The default registry's spec of ``name``: how a fused operator's surrogate key that
    no layer of this process filed (a reloaded program's) is resolved."""
    from ..core.registry import get_spec

    return get_spec(name)


def registered_programs() -> list[Any]:
    """The step programs of the default registry's neurons (the kernel listing's rows)."""
    from ..core.registry import get_neuron_spec, list_neurons
    from ..core.step_program import program_of

    return [program_of(get_neuron_spec(name)) for name in list_neurons()]


def install_operator_lookup() -> None:
    """Give ``torch.ops.sc_neurocore`` and ``.sc_neurocore_neuron`` the lookup, and the
    fused operators' spec table its resolver (:func:`registered_spec`).

    An existing namespace object keeps its identity (and its cached operators): only its
    class changes.  Idempotent.
    """
    set_resolver(registered_spec)
    set_neuron_source(registered_programs)
    for namespace in (SURROGATE_NAMESPACE, NEURON_NAMESPACE):
        current = torch.ops.__dict__.get(namespace)
        if isinstance(current, LookupNamespace):
            continue
        if isinstance(current, _OpNamespace):
            current.__class__ = LookupNamespace
            continue
        setattr(torch.ops, namespace, LookupNamespace(namespace))
        torch.ops._dir.append(namespace)
