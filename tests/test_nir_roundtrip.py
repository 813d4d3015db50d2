"""``to_nir(from_nir(g))`` is ``g``: node names, nesting, edges (in order), node types,
every parameter bit for bit and other tools' metadata, for every graph the NIR tests
import: hand-written graphs of every node type, this project's exports, and the files the
peers' own exporters write."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from .optional import require

nir = require("nir")
from sc_neurocore.nir import from_nir, to_nir  # noqa: E402

from .test_nir import DT, N_IN, N, _affine, _chain, _models, _neuron  # noqa: E402
from .test_nir_nodes import _graph, _sinabs_style_cnn  # noqa: E402


def _nested() -> Any:
    """A recurrent subgraph ``lif1`` (nodes ``lif``, ``w_rec``) inside a chain, with
    other tools' metadata on a node and on the graph."""
    rng = np.random.default_rng(7)
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([N])),
            "lif": _neuron("LIF", rng),
            "w_rec": nir.Linear(weight=rng.normal(0, 0.5, (N, N))),
            "output": nir.Output(np.array([N])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        metadata={"other_tool": {"note": "kept"}},
    )
    outer = {"input": nir.Input(np.array([N_IN])), "fc": _affine(rng), "lif1": inner}
    outer["output"] = nir.Output(np.array([N]))
    outer["fc"].metadata = {"other_tool": {"quantised": np.int64(8)}}
    edges = [("input", "fc"), ("fc", "lif1"), ("lif1", "output")]
    return nir.NIRGraph(nodes=outer, edges=edges, metadata={"producer": "a test"})


def _delay() -> Any:
    return _graph({"delay": nir.Delay(np.array([0.0, 1, 2, 3]) * DT)}, (4,), (4,))


def _corpus() -> dict[str, tuple[Callable[[], Any], float]]:
    corpus: dict[str, tuple[Callable[[], Any], float]] = {}
    for kind in ("LIF", "LI", "IF", "I", "CubaLIF", "CubaLI"):
        corpus[f"chain_{kind}"] = (
            lambda kind=kind: _chain(
                _affine(np.random.default_rng(0)), _neuron(kind, np.random.default_rng(1))
            ),
            DT,
        )
    corpus["nested_recurrent_with_metadata"] = (_nested, DT)
    corpus["delay"] = (_delay, DT)
    for pool in ("SumPool2d", "AvgPool2d"):
        corpus[f"sinabs_style_{pool}"] = (
            lambda pool=pool: _sinabs_style_cnn(np.random.default_rng(2), pool),
            1.0,
        )
    for name, (model, shape) in _models().items():
        corpus[f"exported_{name}"] = (
            lambda model=model, shape=shape: to_nir(model, dt=DT, input_shape=shape),
            DT,
        )
    return corpus


def _peer_corpus() -> dict[str, tuple[Callable[[], Any], float]]:
    for peer in ("nirtorch", "snntorch", "norse", "spikingjelly", "sinabs"):
        require(peer)
    from benchmarks.nir_producers import PRODUCERS

    corpus = {}
    logging.disable(logging.WARNING)
    for producer, cases in PRODUCERS.items():
        torch.manual_seed(0)
        for case in cases():
            corpus[f"{producer} {case.model}"] = (case.export, case.dt)
    return corpus


def _fields(node: Any) -> dict[str, Any]:
    return {
        key: value
        for key, value in node.to_dict().items()
        if key not in ("metadata", "nodes", "edges", "type")
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all(a == b))


def assert_same_graph(got: Any, want: Any, where: str = "graph") -> None:
    assert set(got.nodes) == set(want.nodes), f"{where}: node names"
    assert [tuple(e) for e in got.edges] == [tuple(e) for e in want.edges], f"{where}: edges"
    foreign = {k: v for k, v in want.metadata.items() if k != "sc_neurocore"}
    assert _same({k: got.metadata.get(k) for k in foreign}, foreign), f"{where}: metadata"
    for name, node in want.nodes.items():
        other = got.nodes[name]
        assert type(other) is type(node), f"{where}.{name}: type"
        if type(node).__name__ == "NIRGraph":
            assert_same_graph(other, node, f"{where}.{name}")
            continue
        for key, value in _fields(node).items():
            if key == "input_shape" and value is None:  # a producer left it out; ours says it
                continue
            assert _same(_fields(other)[key], value), f"{where}.{name}.{key} differs"
        theirs = {k: v for k, v in node.metadata.items() if k != "sc_neurocore"}
        assert _same({k: other.metadata.get(k) for k in theirs}, theirs), f"{where}.{name}"
        if "sc_neurocore" in node.metadata:  # this project's: what the module says now
            assert "sc_neurocore" in other.metadata, f"{where}.{name}: metadata"


def assert_round_trip_is_faithful(make: Callable[[], Any], dt: float, tmp_path: Path) -> None:
    from benchmarks.nir_producers import write_as_exported

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repairs = write_as_exported(make(), tmp_path / "given.nir")
        given = nir.read(tmp_path / "given.nir", type_check=False)
        module = from_nir(tmp_path / "given.nir", dt=dt, dtype=torch.float64)
        # a faithful copy of a file with 0-d parameters needs the same uncompressed write
        again = write_as_exported(to_nir(module, dt=dt), tmp_path / "again.nir")
    assert not again or again[-1] == repairs[-1], again
    assert_same_graph(nir.read(tmp_path / "again.nir", type_check=False), given)


@pytest.mark.parametrize("name", list(_corpus()))
def test_a_round_trip_gives_back_the_graph(name: str, tmp_path: Path) -> None:
    make, dt = _corpus()[name]
    assert_round_trip_is_faithful(make, dt, tmp_path)


def test_a_round_trip_gives_back_every_peer_file_that_imports(tmp_path: Path) -> None:
    done = []
    for name, (make, dt) in _peer_corpus().items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = make()
                from_nir(graph, dt=dt)
        except Exception:  # not importable (the producers table says why): nothing to keep
            continue
        (tmp_path / name).mkdir()
        assert_round_trip_is_faithful(make, dt, tmp_path / name)
        done.append(name)
    assert any("Sinabs" in name for name in done) and len(done) >= 6, done


def test_the_nested_graph_keeps_its_names_not_flattened_ones() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = to_nir(from_nir(_nested(), dt=DT, dtype=torch.float64), dt=DT)
    assert set(again.nodes["lif1"].nodes) == {"input", "lif", "w_rec", "output"}
    assert "lif1__lif" not in again.nodes and ("lif", "w_rec") in again.nodes["lif1"].edges
