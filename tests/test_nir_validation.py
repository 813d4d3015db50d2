"""A NIR graph whose output nothing reaches is refused at import, naming the node, instead
of building a module that fails in ``forward`` with ``KeyError``."""

from __future__ import annotations

import numpy as np
import pytest

from sc_neurocore.interchange.nir import from_nir

nir = pytest.importorskip("nir")


def _graph(edges: list[tuple[str, str]], nested: bool = False):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(np.array([3])),
        "affine": nir.Affine(weight=rng.normal(size=(2, 3)), bias=np.zeros(2)),
        "output": nir.Output(np.array([2])),
    }
    if nested:
        nodes["inner"] = nir.NIRGraph(
            nodes={"in": nir.Input(np.array([2])), "out": nir.Output(np.array([2]))},
            edges=[],
        )
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize(
    ("edges", "unreached"),
    [
        ([("input", "affine")], "'output'"),  # no edge into the output at all
        ([("affine", "output")], "'output'"),  # an edge, but nothing feeds its source
    ],
)
def test_an_output_no_input_reaches_is_refused_naming_it(edges, unreached) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=f"output node {unreached}") as caught:
        from_nir(_graph(edges), dt=1e-3)
    assert "input" in str(caught.value)


def test_an_unreached_output_inside_a_subgraph_is_named_with_its_path() -> None:
    edges = [("input", "affine"), ("affine", "output")]
    with pytest.raises(ValueError, match="'inner.out'"):
        from_nir(_graph(edges, nested=True), dt=1e-3)


def test_a_connected_graph_still_imports_and_runs() -> None:
    import torch

    module = from_nir(_graph([("input", "affine"), ("affine", "output")]), dt=1e-3)
    assert module(torch.ones(4, 1, 3, dtype=torch.get_default_dtype())).shape == (4, 1, 2)
