"""``from_nir``: ``nir.NIRGraph`` (or a file) -> a torch module (see docs/interchange.md).

Subgraphs are flattened (``sub.node`` names), each node becomes a module, and
:class:`~.nir_modules.NIRModule` steps them.  A neuron node that carries this project's
``metadata["sc_neurocore"]`` is rebuilt as the exported cell (same class, parameters,
reset, surrogate) when its NIR parameters at this ``dt`` agree with that metadata; any
other neuron runs the NIR equations as discretised in :mod:`.discretisation`.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from ..neurons.base import SurrogateCallable
from ..neurons.cells import IFCell, LIFCell, SynapticCell
from .discretisation import check_dt, check_method, leaky_step, plain_step
from .nir_export import METADATA_KEY, NIRMetadataWarning, import_nir, node_of
from .nir_modules import ContinuousNeuron, NIRModule, Scale, Threshold

__all__ = ["from_nir"]

#: Exported cell type -> the stepwise cell an import rebuilds (fused layers step as their cell).
CELLS = {
    "LIFCell": LIFCell,
    "LIF": LIFCell,
    "IFCell": IFCell,
    "SynapticCell": SynapticCell,
    "SynapticLIF": SynapticCell,
}


def _plain(value: Any) -> Any:
    """A metadata value read back by nir.read (numpy scalars) as a Python value."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return torch.as_tensor(value, dtype=torch.float64)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item()
    return value


def _surrogate(meta: dict[str, Any], default: SurrogateCallable | None) -> SurrogateCallable | None:
    name = meta.get("surrogate")
    if not name or default is not None:
        return default
    from ..core.registry import get_surrogate, list_surrogates

    if name not in list_surrogates():
        warnings.warn(
            f"from_nir: surrogate {name!r} from the metadata is not registered here; using "
            "the default",
            NIRMetadataWarning,
            stacklevel=4,
        )
        return None
    return get_surrogate(name, **meta.get("surrogate_params", {}))  # type: ignore[return-value]


def _restored(
    node: Any, meta: dict[str, Any], dt: float, method: str, surrogate: Any, dtype: torch.dtype
) -> nn.Module | None:
    """The exported cell, if the node at this dt is what the metadata describes."""
    cell_type = CELLS.get(meta.get("module", ""))
    if cell_type is None:
        return None
    learned = set(filter(None, str(meta.get("learned", "")).split(",")))
    options: dict[str, Any] = dict(
        surrogate_fn=surrogate, reset=meta["reset"], v_reset=meta["v_reset"]
    )
    options["learn_threshold"] = "threshold_log" in learned
    for name in ("alpha", "beta"):
        if name in meta:
            options[name] = meta[name]
            options[f"learn_{name}"] = f"{name}_logit" in learned
    cell = cell_type(threshold=meta["threshold"], **options).to(dtype)
    with torch.no_grad():
        for name, value in meta.get("parameters", {}).items():
            getattr(cell, name).copy_(torch.as_tensor(value))
    shape = tuple(np.asarray(node.input_type["input"]).tolist())
    again = node_of(cell, shape, dt, method)
    for field in ("tau", "tau_mem", "tau_syn", "r", "w_in", "v_threshold", "v_reset", "v_leak"):
        if hasattr(node, field) and not np.allclose(
            getattr(again, field), getattr(node, field), rtol=1e-6, atol=1e-12
        ):
            return None
    return cell


def _neuron(
    node: Any, kind: str, dt: float, method: str, surrogate: Any, dtype: torch.dtype
) -> nn.Module:
    meta = _plain(node.metadata.get(METADATA_KEY, {}))
    surrogate = _surrogate(meta, surrogate)
    if meta.get("module") in CELLS:  # exported by this project from a cell it can rebuild
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NIRMetadataWarning)
            cell = _restored(node, meta, dt, method, surrogate, dtype)
        if cell is not None:
            return cell
        warnings.warn(
            f"from_nir: the {kind} node's parameters at dt={dt} ({method}) differ from its "
            "sc_neurocore metadata; the node's parameters are used",
            NIRMetadataWarning,
            stacklevel=3,
        )
    params = {
        name: np.asarray(value)
        for name, value in node.to_dict().items()
        if name not in ("type", "metadata")
    }
    fires = kind in ("LIF", "IF", "CubaLIF")
    if kind in ("LIF", "LI", "CubaLIF", "CubaLI"):
        tau = params["tau"] if "tau" in params else params["tau_mem"]
        step = leaky_step(tau, params["r"], params["v_leak"], dt, method)
    else:
        step = plain_step(params["r"], dt)
    synapse = None
    if kind.startswith("Cuba"):
        synapse = leaky_step(params["tau_syn"], params["w_in"], 0.0, dt, method)
    return ContinuousNeuron(
        kind,
        params,
        step,
        synapse,
        params.get("v_threshold") if fires else None,
        params.get("v_reset") if fires else None,
        surrogate,
        reset=meta.get("reset", "zero") if meta else "zero",
    )


def _module(node: Any, dt: float, method: str, surrogate: Any, dtype: torch.dtype) -> nn.Module:
    nir = import_nir()
    kind = type(node).__name__
    if kind in ("Input", "Output", "Identity"):
        return nn.Identity()
    if kind in ("LIF", "LI", "IF", "I", "CubaLIF", "CubaLI"):
        return _neuron(node, kind, dt, method, surrogate, dtype)
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = torch.as_tensor(np.asarray(node.weight), dtype=dtype)
        layer = nn.Linear(
            weight.shape[1], weight.shape[0], bias=isinstance(node, nir.Affine), dtype=dtype
        )
        with torch.no_grad():
            layer.weight.copy_(weight)
            if layer.bias is not None:
                layer.bias.copy_(torch.as_tensor(np.asarray(node.bias)))
        return layer
    if kind == "Scale":
        return Scale(np.asarray(node.scale))
    if kind == "Threshold":
        return Threshold(np.asarray(node.threshold), surrogate)
    if kind == "Flatten":
        return nn.Flatten(
            node.start_dim + 1 if node.start_dim >= 0 else node.start_dim,
            node.end_dim + 1 if node.end_dim >= 0 else node.end_dim,
        )
    if kind in ("Conv1d", "Conv2d"):
        weight = torch.as_tensor(np.asarray(node.weight), dtype=dtype)
        conv = nn.Conv1d if kind == "Conv1d" else nn.Conv2d
        kernel_size: Any = tuple(weight.shape[2:])
        convolution = conv(
            weight.shape[1] * node.groups,
            weight.shape[0],
            kernel_size,
            stride=node.stride,
            padding=node.padding,
            dilation=node.dilation,
            groups=node.groups,
            dtype=dtype,
        )
        with torch.no_grad():
            convolution.weight.copy_(weight)
            convolution.bias.copy_(torch.as_tensor(np.asarray(node.bias)))  # type: ignore[union-attr]
        return convolution
    raise NotImplementedError(
        f"from_nir: NIR node type {kind} is not supported (supported: Input, Output, Affine, "
        "Linear, Scale, Flatten, Conv1d, Conv2d, Threshold, I, IF, LI, LIF, CubaLI, CubaLIF, "
        "NIRGraph)"
    )


def _flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with every subgraph inlined under ``<name>.`` names."""
    nodes: dict[str, Any] = {}
    entries: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        if type(node).__name__ == "NIRGraph":
            inner, inner_edges = _flatten(node, f"{prefix}{name}.")
            nodes.update(inner)
            edges += inner_edges
            entries[name] = [
                f"{prefix}{name}.{n}" for n, s in node.nodes.items() if type(s).__name__ == "Input"
            ]
            exits[name] = [
                f"{prefix}{name}.{n}" for n, s in node.nodes.items() if type(s).__name__ == "Output"
            ]
        else:
            nodes[prefix + name] = node
    for source, target in graph.edges:
        for a in exits.get(source, [prefix + source]):
            for b in entries.get(target, [prefix + target]):
                edges.append((a, b))
    return nodes, edges


def _order(names: list[str], edges: list[tuple[str, str]], starts: list[str]) -> list[str]:
    """Depth-first reverse post-order from the inputs: a topological order where the graph
    is acyclic; an edge to an earlier node is a feedback edge."""
    following: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        following[source].append(target)
    seen: set[str] = set()
    post: list[str] = []
    for start in [*starts, *names]:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(following[start]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                post.append(node)
                stack.pop()
            elif child not in seen:
                seen.add(child)
                stack.append((child, iter(following[child])))
    return post[::-1]


def from_nir(
    graph_or_path: Any,
    *,
    dt: float,
    method: str = "euler",
    surrogate_fn: SurrogateCallable | None = None,
    dtype: torch.dtype | None = None,
) -> NIRModule:
    """A module running the NIR graph (or the file ``nir.read`` opens) with time step ``dt``.

    ``forward(x)`` takes time-major input ``(T, batch, ...)`` and returns the output node's
    sequence ``(T, batch, ...)`` (spikes, or the membrane of an LI/CubaLI output); state
    starts at zero.  ``surrogate_fn`` replaces the surrogate of every neuron (default: the
    one in the metadata, else ``atan``).  ``dtype`` is the weights' dtype (default:
    torch's default dtype; NIR files hold float64, so pass torch.float64 to keep every bit).
    """
    nir = import_nir()
    dt, method = check_dt(dt), check_method(method)
    graph = (
        nir.read(os.fspath(graph_or_path))
        if isinstance(graph_or_path, (str, os.PathLike))
        else graph_or_path
    )
    nodes, edges = _flatten(graph)
    inputs = [name for name in graph.nodes if type(graph.nodes[name]).__name__ == "Input"]
    outputs = [name for name in graph.nodes if type(graph.nodes[name]).__name__ == "Output"]
    order = _order(list(nodes), edges, inputs)
    dtype = dtype or torch.get_default_dtype()
    modules = {name: _module(node, dt, method, surrogate_fn, dtype) for name, node in nodes.items()}
    shapes = {
        name: np.asarray(node.input_type["input"]).tolist()
        for name, node in nodes.items()
        if "input" in node.input_type and node.input_type["input"] is not None
    }
    return NIRModule(modules, edges, order, inputs, outputs, {"shapes": shapes})
