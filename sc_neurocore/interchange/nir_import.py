"""``from_nir``: ``nir.NIRGraph`` (or a file) -> a torch module (see docs/interchange.md).

Subgraphs are flattened (``sub.node`` names; the nesting, edges and metadata are kept
in the module's ``graph_metadata["layout"]`` so that ``to_nir`` writes the same graph
back), each node becomes a module, and :class:`~.nir_modules.NIRModule` steps them.
A neuron node that carries this project's ``metadata["sc_neurocore"]`` is rebuilt as the
exported cell (same class, parameters, reset, surrogate) when its NIR parameters at this
``dt`` agree with that metadata; any other neuron runs the NIR equations as discretised
in :mod:`.discretisation`.
"""

from __future__ import annotations

import copy
import os
import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from ..neurons.base import SurrogateCallable
from ..neurons.cells import IFCell, LIFCell, SynapticCell
from .discretisation import (
    check_dt,
    check_method,
    fires_under_unit_input,
    leaky_step,
    plain_step,
)
from .nir_base import same_neuron_parameters
from .nir_export import METADATA_KEY, NIRMetadataWarning, import_nir, node_of
from .nir_layers import LAYERS, layer_of
from .nir_modules import ContinuousNeuron, NIRModule

__all__ = ["NIRSpecWarning", "NIRTimeStepWarning", "from_nir"]

NEURONS = ("LIF", "LI", "IF", "I", "CubaLIF", "CubaLI")
#: A firing node that a unit input cannot make spike within this many steps gets a warning.
UNIT_INPUT_STEPS = 100


class NIRTimeStepWarning(UserWarning):
    """The ``dt`` given to ``from_nir`` does not look like the one the graph was made for."""


class NIRSpecWarning(UserWarning):
    """A file breaks a rule of the NIR spec and was imported as its producer meant it."""


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
    return cell if same_neuron_parameters(node, again) else None


def _steps(kind: str, params: dict[str, np.ndarray], dt: float, method: str) -> tuple[Any, Any]:
    """The membrane's discrete step at ``dt``, and the synapse's (or None)."""
    if kind in ("LIF", "LI", "CubaLIF", "CubaLI"):
        tau = params["tau"] if "tau" in params else params["tau_mem"]
        step = leaky_step(tau, params["r"], params["v_leak"], dt, method)
    else:
        step = plain_step(params["r"], dt)
    synapse = None
    if kind.startswith("Cuba"):
        synapse = leaky_step(params["tau_syn"], params["w_in"], 0.0, dt, method)
    return step, synapse


def _check_time_step(
    name: str, kind: str, params: dict[str, np.ndarray], dt: float, method: str
) -> None:
    """Warn when ``dt`` is why a firing node cannot spike: no neuron crosses its threshold
    within UNIT_INPUT_STEPS steps of a constant input of 1, but some would at ``dt=1``
    (a step-based producer's graph read in seconds)."""

    def fires(at: float) -> bool:
        step, synapse = _steps(kind, params, at, method)
        threshold = params["v_threshold"]
        return bool(fires_under_unit_input(step, synapse, threshold, UNIT_INPUT_STEPS).any())

    if dt >= 1.0 or fires(dt):
        return
    try:
        at_one = fires(1.0)
    except ValueError:  # Euler is unstable at dt=1 for these time constants: not step-based
        return
    if at_one:
        warnings.warn(
            f"from_nir: no neuron of node {name!r} ({kind}) crosses its threshold within "
            f"{UNIT_INPUT_STEPS} steps of dt={dt} under a constant input of 1, but some do at "
            "dt=1: the graph looks step-based (Sinabs: v += I per step); pass dt=1 to run "
            "it as its producer does (docs/interchange.md)",
            NIRTimeStepWarning,
            stacklevel=5,
        )


def _neuron(
    name: str, node: Any, kind: str, dt: float, method: str, surrogate: Any, dtype: torch.dtype
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
    step, synapse = _steps(kind, params, dt, method)
    if fires:
        _check_time_step(name, kind, params, dt, method)
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


def _spec_layer(
    node: Any, kind: str, dt: float, method: str, surrogate: Any, dtype: torch.dtype
) -> nn.Module | None:
    """The Neuron layer this project exported as ``node``, if its metadata says so and the
    node at this ``dt`` agrees with it (else a warning, and the node's own equations)."""
    from .nir_neurons import MODULE, restore_neuron

    meta = _plain(node.metadata.get(METADATA_KEY, {}))
    if meta.get("module") != MODULE:
        return None
    layer = restore_neuron(node, meta, dt, method, _surrogate(meta, surrogate), dtype)
    if layer is None:
        warnings.warn(
            f"from_nir: the {kind} node's parameters at dt={dt} ({method}) differ from its "
            "sc_neurocore metadata; the node's parameters are used",
            NIRMetadataWarning,
            stacklevel=4,
        )
    return layer


def _module(
    name: str, node: Any, dt: float, method: str, surrogate: Any, dtype: torch.dtype
) -> nn.Module:
    kind = type(node).__name__
    restored = _spec_layer(node, kind, dt, method, surrogate, dtype)
    if restored is not None:
        return restored
    if kind in NEURONS:
        return _neuron(name, node, kind, dt, method, surrogate, dtype)
    if kind in LAYERS:
        return layer_of(node, dt, dtype, surrogate)
    raise NotImplementedError(
        f"from_nir: NIR node type {kind} (node {name!r}) is not supported (supported: "
        f"{', '.join((*LAYERS, *NEURONS))}, NIRGraph)"
    )


def _flatten(
    graph: Any, prefix: str = "", layout: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with every subgraph inlined under ``<name>.`` names; ``layout``
    receives the nesting as it was (per graph: its edges, metadata, and each node's type
    name or, for a subgraph, its own layout)."""
    layout = {} if layout is None else layout
    layout.update(edges=[tuple(edge) for edge in graph.edges], metadata=graph.metadata)
    layout["nodes"] = {}
    nodes: dict[str, Any] = {}
    entries: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        if type(node).__name__ == "NIRGraph":
            layout["nodes"][name] = {}
            inner, inner_edges = _flatten(node, f"{prefix}{name}.", layout["nodes"][name])
            nodes.update(inner)
            edges += inner_edges
            entries[name] = [
                f"{prefix}{name}.{n}" for n, s in node.nodes.items() if type(s).__name__ == "Input"
            ]
            exits[name] = [
                f"{prefix}{name}.{n}" for n, s in node.nodes.items() if type(s).__name__ == "Output"
            ]
        else:
            layout["nodes"][name] = type(node).__name__
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


def check_outputs_reached(
    nodes: dict[str, Any], edges: list[tuple[str, str]], inputs: list[str]
) -> None:
    """Raise ``ValueError`` naming every Output node (subgraphs' included, by their dotted
    names) that no chain of edges from an Input reaches: its value would never be set."""
    reached, frontier = set(inputs), list(inputs)
    following: dict[str, list[str]] = {}
    for source, target in edges:
        following.setdefault(source, []).append(target)
    while frontier:
        for target in following.get(frontier.pop(), []):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    unreached = [
        name
        for name, node in nodes.items()
        if type(node).__name__ == "Output" and name not in reached
    ]
    if unreached:
        names = ", ".join(repr(name) for name in unreached)
        into = {name: [s for s, t in edges if t == name] for name in unreached}
        raise ValueError(
            f"from_nir: output node {names} is not reached from the input nodes {inputs} "
            f"(edges into it: {into}); the graph must connect every Output to an Input"
        )


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
    A graph from a step-based producer (Sinabs) runs as its producer meant at ``dt=1``;
    an ``NIRTimeStepWarning`` names a firing node that cannot spike at this ``dt`` but
    could at 1, an ``NIRSpecWarning`` a file that fails ``nir.read``'s type check.
    """
    dt, method = check_dt(dt), check_method(method)
    graph = _read(graph_or_path)
    layout: dict[str, Any] = {}
    nodes, edges = _flatten(graph, layout=layout)
    inputs = [name for name in graph.nodes if type(graph.nodes[name]).__name__ == "Input"]
    outputs = [name for name in graph.nodes if type(graph.nodes[name]).__name__ == "Output"]
    check_outputs_reached(nodes, edges, inputs)
    order = _order(list(nodes), edges, inputs)
    dtype = dtype or torch.get_default_dtype()
    modules = {}
    for name, node in nodes.items():  # a loop, not a comprehension: warnings' stacklevel
        modules[name] = _module(name, node, dt, method, surrogate_fn, dtype)
    metadata = {name: node.metadata for name, node in nodes.items() if node.metadata}
    extra = {"shapes": _shapes(graph, nodes), "layout": layout, "node_metadata": metadata}
    return NIRModule(modules, edges, order, inputs, outputs, extra)


def _read(graph_or_path: Any) -> Any:
    """The graph itself, or ``nir.read`` of the file; a file that fails NIR's type check
    (a producer's shape slip) is read without it, with a warning naming the check."""
    nir = import_nir()
    if not isinstance(graph_or_path, (str, os.PathLike)):
        return graph_or_path
    path = os.fspath(graph_or_path)
    try:
        return nir.read(path)
    except ValueError as error:
        graph = nir.read(path, type_check=False)
        warnings.warn(
            f"from_nir: {path} does not pass NIR's type check ({error}); it is imported "
            "as written, each node with its own parameters",
            NIRSpecWarning,
            stacklevel=3,
        )
        return graph


def _shapes(graph: Any, nodes: dict[str, Any]) -> dict[str, list[int]]:
    """Each node's input shape, as the graph gives it or as NIR's own inference finds it
    (a producer may leave a convolution's or a pooling's types out)."""

    def known(flat: dict[str, Any]) -> dict[str, list[int]]:
        return {
            name: np.asarray(node.input_type["input"]).tolist()
            for name, node in flat.items()
            if (node.input_type or {}).get("input") is not None
        }

    shapes = known(nodes)
    if len(shapes) < len(nodes):
        inferred = copy.deepcopy(graph)
        try:
            inferred.infer_types()
        except Exception:  # NIR's inference is best effort; what it finds is a bonus
            return shapes
        shapes = {**known(_flatten(inferred)[0]), **shapes}
    return shapes
