"""``to_nir``: project modules -> ``nir.NIRGraph`` (see docs/interchange.md).

A module is read as a chain of layers (``SpikingNet``, ``nn.Sequential``, one layer, or a
graph imported by :func:`~sc_neurocore.interchange.nir.from_nir`); each layer becomes one
NIR node, a ``RecurrentLIFCell`` a subgraph with its feedback edge.  What NIR cannot say
is kept in the node's ``metadata["sc_neurocore"]``: always the cell type, its discrete
parameters, ``dt``/``method`` and the surrogate (training only; it does not change the
NIR dynamics); a reset NIR does not have (``"subtract"``, ``"none"``) is carried there
with a :class:`NIRMetadataWarning`, and restored by ``from_nir``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..networks import SpikingNet
from ..neurons.base import SpikingCell
from ..neurons.cells import IFCell, LIFCell, SynapticCell
from ..neurons.fused import LIF, fused_surrogate
from ..neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
from ..neurons.neuron import Neuron
from ..neurons.recurrent import RecurrentLIFCell
from ..neurons.synaptic import SynapticLIF
from .discretisation import check_dt, check_method, leaky_time_constants
from .nir_base import METADATA_KEY, NIRMetadataWarning, import_nir
from .nir_layers import AvgPool2d, SumPool2d
from .nir_modules import ContinuousNeuron, Delay, NIRModule, Scale, Threshold
from .nir_neurons import neuron_node

__all__ = ["METADATA_KEY", "NIRMetadataWarning", "import_nir", "node_of", "to_nir"]


def _array(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()


def _plain(value: Any) -> Any:
    """A metadata value h5py can store: floats, or arrays for per-neuron tensors."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy()
        return float(value) if value.ndim == 0 else value
    return value


def _cell_metadata(cell: SpikingCell, kind: str, dt: float, method: str, **values: Any) -> dict:
    key = fused_surrogate(cell.surrogate_fn)
    meta: dict[str, Any] = {"module": kind, "dt": dt, "method": method, "reset": cell.reset}
    meta.update({name: _plain(value) for name, value in values.items()})
    meta["v_reset"] = _plain(cell.v_reset)
    learned = dict(cell.named_parameters(recurse=False))
    meta["learned"] = ",".join(learned)
    # the raw parameters too, so an import in float64 gets back every bit of them
    meta["parameters"] = {name: _plain(value) for name, value in learned.items()}
    if key is None:
        warnings.warn(
            f"{kind}: the surrogate {cell.surrogate_fn!r} is not a registered surrogate; it "
            "is not exported (from_nir uses its surrogate_fn argument)",
            NIRMetadataWarning,
            stacklevel=4,
        )
    else:
        meta["surrogate"] = key[0]
        spec_params = dict(zip(_spec_names(key[0]), key[1]))
        meta["surrogate_params"] = spec_params
    if cell.reset != "zero":
        warnings.warn(
            f"{kind}(reset={cell.reset!r}): NIR neurons reset to v_reset; the reset mode is "
            f"carried in metadata[{METADATA_KEY!r}] and restored by from_nir, other tools "
            "will reset to v_reset",
            NIRMetadataWarning,
            stacklevel=4,
        )
    return {METADATA_KEY: meta}


def _spec_names(name: str) -> tuple[str, ...]:
    from ..core.registry import get_spec

    return get_spec(name).param_names


def _firing(cell: SpikingCell, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The NIR fields of a firing neuron the project's cells share (no leak voltage)."""
    return {
        "v_leak": np.zeros(shape),
        "v_threshold": _array(cell.threshold, shape),
        "v_reset": _array(cell.v_reset, shape),
    }


def _leaky_node(cell: Any, kind: str, shape: tuple[int, ...], dt: float, method: str) -> Any:
    tau, r = leaky_time_constants(_array(cell.beta, shape), dt, method)
    meta = _cell_metadata(cell, kind, dt, method, beta=cell.beta, threshold=cell.threshold)
    return import_nir().LIF(tau=tau, r=r, **_firing(cell, shape), metadata=meta)


def _integrator_node(cell: Any, shape: tuple[int, ...], dt: float, method: str) -> Any:
    """A leaky integrator readout (no spike): NIR ``LI`` with unit gain."""
    tau, r = leaky_time_constants(_array(cell.beta, shape), dt, method)
    meta = {METADATA_KEY: {"module": type(cell).__name__, "dt": dt, "method": method}}
    return import_nir().LI(tau=tau, r=r, v_leak=np.zeros(shape), metadata=meta)


def _synaptic_node(cell: SynapticCell, shape: tuple[int, ...], dt: float, method: str) -> Any:
    tau_syn, w_in = leaky_time_constants(_array(cell.alpha, shape), dt, method)
    tau_mem, r = leaky_time_constants(_array(cell.beta, shape), dt, method)
    values = dict(alpha=cell.alpha, beta=cell.beta, threshold=cell.threshold)
    return import_nir().CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau_mem,
        r=r,
        w_in=w_in,
        **_firing(cell, shape),
        metadata=_cell_metadata(cell, "SynapticCell", dt, method, **values),
    )


def _if_node(cell: IFCell, shape: tuple[int, ...], dt: float, method: str):
    nir = import_nir()
    return nir.IF(
        r=np.full(shape, 1.0 / dt),
        v_threshold=_array(cell.threshold, shape),
        v_reset=_array(cell.v_reset, shape),
        metadata=_cell_metadata(cell, "IFCell", dt, method, threshold=cell.threshold),
    )


def _recurrent_graph(cell: RecurrentLIFCell, shape: tuple[int, ...], dt: float, method: str):
    nir = import_nir()
    nodes = {
        "input": nir.Input(np.array(shape)),
        "lif": _leaky_node(cell, "LIFCell", shape, dt, method),
        "w_rec": nir.Linear(weight=cell.recurrent.weight.detach().double().numpy()),
        "output": nir.Output(np.array(shape)),
    }
    edges = [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")]
    return nir.NIRGraph(
        nodes=nodes, edges=edges, metadata={METADATA_KEY: {"module": "RecurrentLIFCell"}}
    )


def _weights(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    weight = layer.weight.detach().double().numpy()
    bias = layer.bias
    out = weight.shape[0]
    return weight, np.zeros(out) if bias is None else bias.detach().double().numpy()


def _pool_node(layer: nn.Module) -> Any:
    """A sum or average pool (this project's, or torch's ``AvgPool2d`` in NIR's form)."""
    nir = import_nir()
    if isinstance(layer, SumPool2d):
        return getattr(nir, "AvgPool2d" if isinstance(layer, AvgPool2d) else "SumPool2d")(
            **layer.nir_fields
        )
    assert isinstance(layer, nn.AvgPool2d)
    if layer.ceil_mode or layer.divisor_override is not None or not layer.count_include_pad:
        raise TypeError(
            f"to_nir: {layer!r} has no NIR node (NIR's AvgPool2d floors the output size and "
            "divides by the kernel's area: ceil_mode=False, count_include_pad=True, "
            "divisor_override=None)"
        )
    pair = lambda value: np.broadcast_to(np.asarray(value), (2,)).copy()  # noqa: E731
    stride = layer.kernel_size if layer.stride is None else layer.stride
    return nir.AvgPool2d(pair(layer.kernel_size), pair(stride), pair(layer.padding))


def node_of(layer: nn.Module, shape: tuple[int, ...], dt: float, method: str) -> Any:
    nir = import_nir()
    if isinstance(layer, nn.Linear):
        weight, bias = _weights(layer)
        return nir.Affine(weight, bias) if layer.bias is not None else nir.Linear(weight)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        weight, bias = _weights(layer)
        kind = nir.Conv1d if isinstance(layer, nn.Conv1d) else nir.Conv2d
        spatial = shape[1:] if isinstance(layer, nn.Conv2d) else shape[1]
        padding: Any = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
        if isinstance(layer, nn.Conv1d) and not isinstance(padding, str):
            padding = padding[0]
        stride = layer.stride[0] if isinstance(layer, nn.Conv1d) else tuple(layer.stride)
        dilation = layer.dilation[0] if isinstance(layer, nn.Conv1d) else tuple(layer.dilation)
        node = kind(spatial, weight, stride, padding, dilation, layer.groups, bias)
        # nir 1.0 takes the input channels as weight.shape[1], which is C_in/groups: the
        # true ones, so the graph's type check holds (nir.read recomputes the wrong ones)
        node.input_type = {"input": np.array(shape)}
        return node
    if isinstance(layer, nn.Flatten):
        start = layer.start_dim - 1 if layer.start_dim > 0 else layer.start_dim
        end = layer.end_dim - 1 if layer.end_dim > 0 else layer.end_dim
        return nir.Flatten({"input": np.array(shape)}, start, end)
    if isinstance(layer, RecurrentLIFCell):
        return _recurrent_graph(layer, shape, dt, method)
    if type(layer) in (SynapticCell, SynapticLIF):  # before LIF: SynapticLIF is one
        return _synaptic_node(layer, shape, dt, method)  # type: ignore[arg-type]
    if isinstance(layer, (LIFCell, LIF)) and not isinstance(layer, SynapticLIF):
        return _leaky_node(layer, type(layer).__name__, shape, dt, method)
    if isinstance(layer, (LeakyIntegratorCell, LeakyIntegrator)):
        return _integrator_node(layer, shape, dt, method)
    if isinstance(layer, IFCell):
        return _if_node(layer, shape, dt, method)
    if isinstance(layer, Neuron):
        return neuron_node(layer, shape, dt, method)
    if isinstance(layer, ContinuousNeuron):
        return getattr(nir, layer.node)(**layer.nir_params)
    if isinstance(layer, (SumPool2d, nn.AvgPool2d)):
        return _pool_node(layer)
    if isinstance(layer, Delay):
        return nir.Delay(layer.delay.numpy())
    if isinstance(layer, Scale):
        return nir.Scale(layer.scale.numpy())
    if isinstance(layer, Threshold):
        return nir.Threshold(layer.threshold.numpy())
    raise TypeError(
        f"to_nir: {type(layer).__name__} has no NIR node (supported: Linear, Conv1d, Conv2d, "
        "AvgPool2d, Flatten, LIFCell, LIF, IFCell, SynapticCell, SynapticLIF, RecurrentLIFCell, "
        "LeakyIntegratorCell, LeakyIntegrator, Neuron (any spec), SpikingNet, "
        "nn.Sequential of these, and modules from from_nir)"
    )


def _layers(module: nn.Module) -> list[nn.Module]:
    if isinstance(module, SpikingNet):
        return [part for pair in zip(module.layers, module.neurons) for part in pair]
    if isinstance(module, nn.Sequential):
        return [part for child in module for part in _layers(child)]
    return [module]


def _next_shape(layer: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(layer, nn.Linear):
        return (layer.out_features,)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Flatten, nn.AvgPool2d, SumPool2d)):
        with torch.no_grad():
            probe = torch.zeros(
                (1, *shape), dtype=next(iter(layer.parameters()), torch.zeros(1)).dtype
            )
            return tuple(layer(probe).shape[1:])
    return shape


def _first_shape(layers: list[nn.Module], input_shape: Any) -> tuple[int, ...]:
    if input_shape is not None:
        return tuple(int(size) for size in np.atleast_1d(input_shape))
    first = layers[0]
    if isinstance(first, nn.Linear):
        return (first.in_features,)
    if isinstance(first, RecurrentLIFCell):
        return (first.recurrent.in_features,)
    raise ValueError(
        f"to_nir: cannot tell the input shape of a model starting with {type(first).__name__}; "
        "pass input_shape=(...) (one sample, without time and batch)"
    )


def _export_imported(module: NIRModule, dt: float, method: str) -> Any:
    """The graph ``from_nir`` read, rebuilt from its layout: the same names, nesting,
    edges and metadata; each node from its module (so training shows), other tools'
    metadata kept and this project's replaced by what the module says now."""
    nir = import_nir()
    shapes = module.graph_metadata["shapes"]
    node_metadata = module.graph_metadata.get("node_metadata", {})

    def node(flat: str, kind: str) -> Any:
        shape = np.array(shapes.get(flat, []))
        if kind == "Input":
            made = nir.Input(shape)
        elif kind == "Output":
            made = nir.Output(shape)
        elif kind == "Identity":
            made = nir.Identity({"input": shape})
        else:
            made = node_of(module.node(flat), tuple(shapes.get(flat, ())), dt, method)
        made.metadata = {**node_metadata.get(flat, {}), **made.metadata}
        return made

    def graph(layout: dict[str, Any], prefix: str) -> Any:
        nodes = {
            name: graph(kind, f"{prefix}{name}.")
            if isinstance(kind, dict)
            else node(prefix + name, kind)
            for name, kind in layout["nodes"].items()
        }
        edges = [tuple(edge) for edge in layout["edges"]]
        return nir.NIRGraph(
            nodes=nodes, edges=edges, metadata=dict(layout["metadata"]), type_check=False
        )

    return graph(module.graph_metadata["layout"], "")


def to_nir(module: nn.Module, *, dt: float, method: str = "euler", input_shape: Any = None) -> Any:
    """``module`` as a ``nir.NIRGraph`` for time step ``dt`` (seconds).

    ``method`` (``"euler"`` or ``"exp"``) is the discretisation of
    :mod:`sc_neurocore.interchange.discretisation` that maps the project's per-step
    parameters to NIR's time constants; ``input_shape`` is one sample's shape, needed
    only when the first layer does not tell it (a convolution or a cell).
    """
    nir = import_nir()
    dt, method = check_dt(dt), check_method(method)
    if isinstance(module, NIRModule):
        return _export_imported(module, dt, method)
    layers = _layers(module)
    shape = _first_shape(layers, input_shape)
    nodes: dict[str, Any] = {"input": nir.Input(np.array(shape))}
    edges, previous = [], "input"
    for index, layer in enumerate(layers):
        node = node_of(layer, shape, dt, method)
        name = f"{type(node).__name__.lower()}{index}"
        nodes[name] = node
        edges.append((previous, name))
        previous, shape = name, _next_shape(layer, shape)
    nodes["output"] = nir.Output(np.array(shape))
    edges.append((previous, "output"))
    return nir.NIRGraph(
        nodes=nodes, edges=edges, metadata={METADATA_KEY: {"dt": dt, "method": method}}
    )
