"""Neuron specs in NIR: a :class:`~sc_neurocore.neurons.Neuron` layer as one NIR node.

A layer that runs one of the built-in specs NIR has a node for (``lif`` -> ``LIF``, ``if``
-> ``IF``, ``li`` -> ``LI``, ``cuba_lif`` -> ``CubaLIF``, any reset) becomes that node,
its per-step params mapped to time constants by :mod:`.discretisation`.  Any other spec
has no NIR node: it is written as a stand-in (``Threshold`` at its ``threshold`` param,
or 0, for a spiking neuron; ``Identity`` for a readout) with a
:class:`~.nir_base.NIRMetadataWarning`, and other tools run the stand-in.  Either way
the node's ``metadata["sc_neurocore"]`` carries the spec's equations, every param's value
(floats, or float64 arrays per neuron), the learned params and the surrogate, from which
:func:`restore_neuron` rebuilds the layer exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..core.neuron_spec import RESET_MODES, NeuronSpec
from ..neurons.fused import fused_surrogate
from ..neurons.neuron import Neuron
from .discretisation import leaky_time_constants
from .nir_base import METADATA_KEY, NIRMetadataWarning, import_nir, same_neuron_parameters
from .nir_modules import NeuronNode

__all__ = ["NIR_NODES", "MODULE", "neuron_node", "restore_neuron", "spec_of_metadata"]

#: Built-in neuron -> the NIR node of the same model.
NIR_NODES = {"lif": "LIF", "if": "IF", "li": "LI", "cuba_lif": "CubaLIF"}
#: ``metadata["sc_neurocore"]["module"]`` of a Neuron layer's node.
MODULE = "Neuron"


def _array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _plain(value: float | Tensor) -> Any:
    """A param as h5py stores it: a float, or a float64 array (every bit of a float32)."""
    if isinstance(value, Tensor):
        array = value.detach().cpu().double().numpy()
        return float(array) if array.ndim == 0 else array
    return float(value)


def registered_variant(spec: NeuronSpec) -> tuple[str, str] | None:
    """``(registered neuron, reset mode)`` whose layer runs exactly ``spec``, if any."""
    from ..core.registry import get_neuron_spec, list_neurons

    for name in list_neurons():
        base = get_neuron_spec(name)
        for mode in RESET_MODES if base.spiking else RESET_MODES[:1]:
            if base.with_reset(mode) == spec:
                return name, mode
    return None


def spec_metadata(spec: NeuronSpec) -> dict[str, Any]:
    """The equations of ``spec`` as NIR metadata (strings and dicts of strings)."""
    # HDF5 sorts a group's keys: the orders (which a spec's hash reads) travel as strings
    return {
        "name": spec.name,
        "states": ",".join(spec.states),
        "defaults": dict(spec.params),
        "param_order": ",".join(spec.param_names),
        "update": dict(spec.update),
        "update_order": ",".join(spec.update),
        "fire": spec.fire or "",
        "reset": dict(spec.reset),
        "reset_order": ",".join(spec.reset),
        "description": spec.description,
    }


def spec_of_metadata(meta: dict[str, Any]) -> NeuronSpec:
    """The spec :func:`spec_metadata` wrote (checked again, as any spec is)."""

    def ordered(key: str) -> list[str]:
        return [name for name in str(meta.get(f"{key}_order", "")).split(",") if name]

    defaults, update, reset = (meta.get(key, {}) for key in ("defaults", "update", "reset"))
    return NeuronSpec(
        str(meta["name"]),
        tuple(str(meta["states"]).split(",")),
        tuple((name, float(defaults[name])) for name in ordered("param")),
        {state: str(update[state]) for state in ordered("update")},
        str(meta.get("fire", "")) or None,
        {state: str(reset[state]) for state in ordered("reset")},
        str(meta.get("description", "")),
    )


def _metadata(layer: Neuron, variant: tuple[str, str] | None, dt: float, method: str) -> dict:
    meta: dict[str, Any] = {"module": MODULE, "dt": dt, "method": method}
    if variant is not None:
        meta["neuron"], meta["reset"] = variant
    meta["spec"] = spec_metadata(layer.spec)
    meta["params"] = {name: _plain(layer.param(name)) for name in layer.spec.param_names}
    meta["learned"] = ",".join(layer.learn)
    key = fused_surrogate(layer.surrogate_fn)
    if key is None:
        warnings.warn(
            f"Neuron {layer.spec.name!r}: the surrogate {layer.surrogate_fn!r} is not a "
            "registered surrogate; it is not exported (from_nir uses its surrogate_fn)",
            NIRMetadataWarning,
            stacklevel=5,
        )
    else:
        from ..core.registry import get_spec

        meta["surrogate"] = key[0]
        meta["surrogate_params"] = dict(zip(get_spec(key[0]).param_names, key[1]))
    return {METADATA_KEY: meta}


def _firing(layer: Neuron, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    params = layer.spec.param_names
    v_reset = layer.param("v_reset") if "v_reset" in params else 0.0
    return {
        "v_threshold": _array(layer.param("threshold"), shape),
        "v_reset": _array(v_reset, shape),
    }


def _nir_fields(name: str, layer: Neuron, shape: tuple[int, ...], dt: float, method: str) -> dict:
    """The NIR node's parameters for a built-in spec with a node (see the module doc)."""
    zeros = np.zeros(shape)
    if name == "if":
        return {"r": np.full(shape, 1.0 / dt), **_firing(layer, shape)}
    tau, r = leaky_time_constants(_array(layer.param("beta"), shape), dt, method)
    if name == "li":
        return {"tau": tau, "r": r, "v_leak": zeros}
    if name == "lif":
        return {"tau": tau, "r": r, "v_leak": zeros, **_firing(layer, shape)}
    tau_syn, w_in = leaky_time_constants(_array(layer.param("alpha"), shape), dt, method)
    fields = {"tau_syn": tau_syn, "tau_mem": tau, "r": r, "w_in": w_in, "v_leak": zeros}
    return {**fields, **_firing(layer, shape)}


def neuron_node(layer: Neuron, shape: tuple[int, ...], dt: float, method: str) -> Any:
    """``layer`` as a NIR node (see the module docstring)."""
    nir = import_nir()
    variant = registered_variant(layer.spec)
    meta = _metadata(layer, variant, dt, method)
    if variant is not None and variant[0] in NIR_NODES:
        name, reset = variant
        kind = NIR_NODES[name]
        if layer.spec.spiking and reset != "zero":
            warnings.warn(
                f"Neuron {name!r}(reset={reset!r}): NIR neurons reset to v_reset; the reset "
                "is carried in metadata['sc_neurocore'] and restored by from_nir, other "
                "tools will reset to v_reset",
                NIRMetadataWarning,
                stacklevel=4,
            )
        return getattr(nir, kind)(**_nir_fields(name, layer, shape, dt, method), metadata=meta)
    warnings.warn(
        f"Neuron {layer.spec.name!r} has no NIR node: it is written as a stand-in "
        f"({'Threshold' if layer.spec.spiking else 'Identity'}) with its equations in "
        "metadata['sc_neurocore']; from_nir restores it, other tools run the stand-in",
        NIRMetadataWarning,
        stacklevel=4,
    )
    if not layer.spec.spiking:
        return nir.Identity({"input": np.array(shape)}, metadata=meta)
    threshold = layer.param("threshold") if "threshold" in layer.spec.param_names else 0.0
    return nir.Threshold(_array(threshold, shape), metadata=meta)


def _value(value: Any, dtype: torch.dtype) -> float | Tensor:
    if isinstance(value, (np.ndarray, Tensor)) and np.ndim(value) > 0:
        return torch.as_tensor(np.asarray(value), dtype=torch.float64).to(dtype)
    return float(value)


def restore_neuron(
    node: Any, meta: dict[str, Any], dt: float, method: str, surrogate: Any, dtype: torch.dtype
) -> NeuronNode | None:
    """The exported layer (as a :class:`NeuronNode`), if the node at this ``dt`` is what
    its metadata describes; ``None`` otherwise (the caller runs the node's own equations)."""
    spec = spec_of_metadata(meta["spec"])
    learned = tuple(filter(None, str(meta.get("learned", "")).split(",")))
    params: dict[str, Any] = {n: _value(v, dtype) for n, v in meta.get("params", {}).items()}
    layer = NeuronNode(spec, surrogate, learn=learned, **params)
    if type(node).__name__ not in NIR_NODES.values():
        return layer  # a stand-in: the metadata is the whole neuron
    shape = tuple(np.asarray(node.input_type["input"]).tolist())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NIRMetadataWarning)
        again = neuron_node(layer, shape, dt, method)
    return layer if same_neuron_parameters(node, again) else None
