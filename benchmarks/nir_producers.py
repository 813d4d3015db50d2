"""The producers' own NIR files: each peer exports small models of its own with its own
exporter, the file is imported here, and both run the same input (docs/interchange.md,
scripts/nir_interop.py).

A producer is a function yielding :class:`Export` cases: the model's name, the node types
it exercises, the ``dt`` (and ``method``) its graph means, the peer's ``export()`` and a
``run(x)`` that steps the peer's model on time-major input.  What a file needed on the way
(a graph ``nir.write`` cannot store as exported, a file ``nir.read`` rejects) is reported
with the outcome, never hidden.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sc_neurocore.interchange.nir import from_nir
from sc_neurocore.interchange.nir_export import import_nir
from sc_neurocore.interchange.nir_import import NIRSpecWarning

__all__ = ["PRODUCERS", "Export", "ProducerRow", "producer_rows", "producer_table"]

STEPS, BATCH = 30, 2


@dataclass
class Export:
    model: str  # what the peer's model is, in a few words
    export: Callable[[], Any]  # -> nir.NIRGraph, by the peer's own exporter
    run: Callable[[Tensor], Tensor]  # time-major input -> the peer's output per step
    shape: tuple[int, ...]  # one sample
    dt: float = 1e-4
    method: str = "euler"
    scale: float = 1.0  # input spikes times this (some models need stronger drive)
    net: nn.Module | None = None  # the peer's model itself, where a case derives another


@dataclass(frozen=True)
class ProducerRow:
    producer: str
    model: str
    nodes: str
    dt: str
    outcome: str  # "agree", "differ" or "error"
    detail: str
    notes: tuple[str, ...] = field(default=())


def _strong(net: nn.Module, gain: float = 3.0) -> nn.Module:
    """Weights times ``gain``: torch's default initialisation leaves deep layers silent,
    and a comparison of silent outputs shows nothing."""
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                layer.weight.mul_(gain)
    return net


def _stepped(model: nn.Module, reset: Callable[[], None]) -> Callable[[Tensor], Tensor]:
    def run(x: Tensor) -> Tensor:
        reset()
        with torch.no_grad():
            return torch.stack([model(step) for step in x])

    return run


def _snntorch() -> Iterator[Export]:
    import snntorch as snn
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    def leaky(n: Any, output: bool = False, nir_like: bool = True) -> nn.Module:
        shape = n if isinstance(n, tuple) else (n,)  # scalar parameters fail its export
        # NIR's LIF resets to v_reset at once; snnTorch's default subtracts the threshold
        # at the next step (reset_delay)
        options = dict(reset_mechanism="zero", reset_delay=False) if nir_like else {}
        beta, threshold = torch.full(shape, 0.9), torch.ones(shape)
        return snn.Leaky(beta, threshold=threshold, init_hidden=True, output=output, **options)

    def case(model: str, net: nn.Module, shape: tuple[int, ...]) -> Export:
        _strong(net)

        def run(x: Tensor) -> Tensor:
            snntorch.utils.reset(net)
            with torch.no_grad():
                return torch.stack([net(step)[0] for step in x])

        sample = torch.rand(1, *shape)
        return Export(model, lambda: export_to_nir(net, sample, ignore_dims=[0]), run, shape)

    yield case(
        "feed-forward (reset to 0, at once)",
        nn.Sequential(nn.Linear(5, 4), leaky(4), nn.Linear(4, 3), leaky(3, output=True)),
        (5,),
    )
    yield case(
        "feed-forward (snnTorch's default reset)",
        nn.Sequential(nn.Linear(5, 4), leaky(4, output=True, nir_like=False)),
        (5,),
    )
    recurrent = snn.RLeaky(
        0.9,
        linear_features=4,
        init_hidden=True,
        output=True,
        reset_mechanism="zero",
        reset_delay=False,
    )
    yield case(
        "recurrent (RLeaky, Affine feedback)", nn.Sequential(nn.Linear(5, 4), recurrent), (5,)
    )
    convolution = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        leaky((3, 8, 8)),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 4),
        leaky(4, output=True),
    )
    yield case("convolutional", convolution, (1, 8, 8))


def _norse() -> Iterator[Export]:
    import norse.torch as norse

    def case(model: str, net: nn.Module, shape: tuple[int, ...]) -> Export:
        _strong(net, 10.0)  # Norse's LIF integrates a tenth of its input per step

        def run(x: Tensor) -> Tensor:
            state, out = None, []
            with torch.no_grad():
                for step in x:
                    spikes, state = net(step, state)
                    out.append(spikes)
            return torch.stack(out)

        sample = torch.rand(*shape)  # no batch: Norse writes the sample's shape as the input's
        return Export(model, lambda: norse.to_nir(net, sample, dt=1e-3), run, shape, dt=1e-3)

    box = norse.LIFBoxCell
    forward = case("feed-forward", norse.SequentialState(nn.Linear(5, 4), box()), (5,))
    yield forward
    # Its tau is dt/tau_mem_inv = dt * tau_mem: read at dt**2, each step is what Norse ran
    yield Export("feed-forward, read at dt = 1e-6", forward.export, forward.run, (5,), dt=1e-6)
    yield case(
        "current-based",
        norse.SequentialState(nn.Linear(5, 4), norse.LIFCell(), nn.Linear(4, 3), norse.IAFCell()),
        (5,),
    )
    yield case(
        "convolutional",
        norse.SequentialState(nn.Conv2d(1, 3, 3, padding=1), box(), nn.Conv2d(3, 2, 3), box()),
        (1, 8, 8),
    )


def _sinabs() -> Iterator[Export]:
    import sinabs
    import sinabs.activation as activation
    import sinabs.layers as sl
    from sinabs.nir import to_nir

    def iaf(nir_like: bool) -> nn.Module:
        if not nir_like:  # Sinabs' default: several spikes per step, reset by subtraction
            return sl.IAFSqueeze(batch_size=BATCH)
        return sl.IAFSqueeze(
            batch_size=BATCH,
            spike_fn=activation.SingleSpike,
            reset_fn=activation.MembraneReset(),
        )

    def case(
        model: str, net: nn.Module, shape: tuple[int, ...], gain: float = 3.0, **options: Any
    ) -> Export:
        _strong(net, gain)

        def run(x: Tensor) -> Tensor:
            sinabs.reset_states(net)
            folded = x.transpose(0, 1).reshape(-1, *x.shape[2:])  # (batch*T, ...)
            with torch.no_grad():
                out = net(folded)
            return out.reshape(x.shape[1], x.shape[0], *out.shape[1:]).transpose(0, 1)

        sample = torch.rand(BATCH * 2, *shape)
        return Export(model, lambda: to_nir(net, sample), run, shape, dt=1.0, net=net, **options)

    def cnn(pool: nn.Module, nir_like: bool) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            iaf(nir_like),
            pool,
            nn.Conv2d(4, 4, 3, padding=1),
            iaf(nir_like),
            nn.Flatten(),
            nn.Linear(4 * 4 * 4, 5),
            iaf(nir_like),
        )

    yield case("CNN, sum pool (single spike, reset to 0)", cnn(sl.SumPool2d(2), True), (1, 8, 8))
    yield case("CNN, sum pool (Sinabs' defaults)", cnn(sl.SumPool2d(2), False), (1, 8, 8))
    lif = sl.LIFSqueeze(
        tau_mem=5.0,  # in steps; norm_input=True scales the input by (1 - exp(-1/tau))
        batch_size=BATCH,
        spike_fn=activation.SingleSpike,
        reset_fn=activation.MembraneReset(),
    )
    net = nn.Sequential(nn.Linear(5, 4), lif)
    yield case("LIF, norm_input (single spike, reset to 0)", net, (5,), method="exp", gain=6.0)
    yield case("CNN, average pool", cnn(nn.AvgPool2d(2), True), (1, 8, 8))
    averaging = case("", cnn(nn.AvgPool2d(2), True), (1, 8, 8))
    yield Export(
        "CNN, average pool (SumPool2d node swapped: Sinabs has no AvgPool2d export)",
        lambda: _averaging(averaging.net, to_nir, sl.SumPool2d),
        averaging.run,
        averaging.shape,
        dt=1.0,
    )


def _averaging(model: Any, to_nir: Callable[..., Any], sum_pool: type) -> Any:
    """Sinabs' export of ``model`` with each AvgPool2d swapped for Sinabs' SumPool2d
    (which it can export), whose node then becomes NIR's AvgPool2d with the same kernel,
    stride and padding: the file Sinabs would write if it could."""
    nir = import_nir()
    net = copy.deepcopy(model)
    for index, layer in enumerate(net):
        if isinstance(layer, nn.AvgPool2d):
            net[index] = sum_pool(layer.kernel_size, layer.stride)
    graph = to_nir(net, torch.rand(BATCH * 2, 1, 8, 8))
    for name, node in list(graph.nodes.items()):
        if type(node).__name__ == "SumPool2d":
            graph.nodes[name] = nir.AvgPool2d(node.kernel_size, node.stride, node.padding)
    return graph


def _spikingjelly() -> Iterator[Export]:
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    def case(model: str, net: nn.Module, shape: tuple[int, ...]) -> Export:
        run = _stepped(_strong(net, 6.0), lambda: functional.reset_net(net))
        sample = torch.rand(1, *shape)
        return Export(model, lambda: export_to_nir(net, sample, dt=1e-4), run, shape)

    yield case(
        "feed-forward",
        nn.Sequential(
            layer.Linear(5, 4), neuron.LIFNode(tau=2.0), layer.Linear(4, 3), neuron.LIFNode(2.0)
        ),
        (5,),
    )
    yield case(
        "convolutional",
        nn.Sequential(
            layer.Conv2d(1, 3, 3, padding=1),
            neuron.IFNode(),
            layer.AvgPool2d(2),
            layer.Flatten(),
            layer.Linear(3 * 4 * 4, 4),
            neuron.IFNode(),
        ),
        (1, 8, 8),
    )


PRODUCERS: dict[str, Callable[[], Iterator[Export]]] = {
    "snnTorch 1.0": _snntorch,
    "Norse 1.1": _norse,
    "Sinabs 3.1": _sinabs,
    "SpikingJelly 2.0": _spikingjelly,
}


def write_as_exported(graph: Any, path: Path) -> list[str]:
    """``nir.write`` the peer's graph; where it cannot be stored as exported, the least
    repair that lets it be (NIR's own type inference, or no compression for 0-d
    parameters), each named in the returned notes."""
    nir = import_nir()
    notes: list[str] = []
    try:
        nir.write(path, graph)
        return notes
    except Exception as error:
        notes.append(
            f"nir.write fails on the export ({type(error).__name__}: {_first_line(error)})"
        )
    inferred = copy.deepcopy(graph)
    try:
        inferred.infer_types()
        nir.write(path, inferred)
        return [*notes, "written after nir's infer_types() (the export leaves shapes out)"]
    except Exception as error:
        notes.append(f"so does nir's infer_types() ({_first_line(error)[:60]})")
    try:
        nir.write(path, graph, compression=None)
    except Exception as error:
        raise ValueError(f"the export cannot be written: {'; '.join(notes)}") from error
    return [*notes, "written uncompressed (0-d parameters cannot be gzip-compressed)"]


def _compare(producer: str, case: Export, x: Tensor) -> ProducerRow:
    import nir

    def row(outcome: str, detail: str, notes: list[str] | None = None) -> ProducerRow:
        nodes = ""
        if graph is not None:
            kinds = [type(n).__name__ for n in _leaves(graph) if type(n).__name__ not in IO]
            nodes = ", ".join(dict.fromkeys(kinds))
        dt = f"{case.dt:g}" + (f" ({case.method})" if case.method != "euler" else "")
        return ProducerRow(producer, case.model, nodes, dt, outcome, detail, tuple(notes or ()))

    graph = None
    try:
        graph = case.export()
    except Exception as error:
        return row("error", f"the export fails: {type(error).__name__}: {_first_line(error)}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.nir"
        try:
            notes = write_as_exported(graph, path)
        except ValueError as error:
            return row("error", str(error))
        graph = nir.read(path, type_check=False)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ours = from_nir(path, dt=case.dt, method=case.method)
        except Exception as error:
            return row("error", f"{type(error).__name__}: {_first_line(error)}", notes)
    if any(w.category is NIRSpecWarning for w in caught):
        notes.append("the file fails nir.read's type check (imported with a warning)")
    drive = x * case.scale
    with torch.no_grad():
        got = ours(drive).float()
    theirs = case.run(drive).float()
    spikes = f"{int(theirs.sum())} spikes"
    if theirs.shape != got.shape:
        return row("differ", f"shape {tuple(theirs.shape)}, here {tuple(got.shape)}", notes)
    if torch.equal(theirs, got):
        return row("agree", spikes, notes)
    where = int(theirs.ne(got).flatten(1).any(1).nonzero()[0])
    return row("differ", f"{spikes}, here {int(got.sum())}; first at step {where}", notes)


IO = ("Input", "Output")


def _leaves(graph: Any) -> Iterator[Any]:
    for node in graph.nodes.values():
        if type(node).__name__ == "NIRGraph":
            yield from _leaves(node)
        else:
            yield node


def _first_line(error: object) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else "")[:110]


def producer_rows(producers: tuple[str, ...] = tuple(PRODUCERS)) -> list[ProducerRow]:
    """Every producer's every model, exported, imported and run on one random input."""
    rows = []
    for producer in producers:
        torch.manual_seed(0)
        for case in PRODUCERS[producer]():
            generator = torch.Generator().manual_seed(1)
            x = (torch.rand(STEPS, BATCH, *case.shape, generator=generator) < 0.5).float()
            rows.append(_compare(producer, case, x))
    return rows


def producer_table(rows: list[ProducerRow]) -> str:
    lines = [
        "| Producer | Model | NIR nodes | dt | Outcome | Notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        notes = "; ".join(r.notes).replace("|", "/")
        lines.append(
            f"| {r.producer} | {r.model} | {r.nodes} | {r.dt} | {r.outcome}: {r.detail} | {notes} |"
        )
    return "\n".join(lines)
