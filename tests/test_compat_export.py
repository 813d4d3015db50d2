"""torch.export.export: the custom_op path stays an operator in the exported graph.

Exporting keeps ``sc_neurocore::<name>`` opaque (it is not decomposed away, also not by
``run_decompositions()``), the exported program runs and matches eager.  The
``legacy_autograd`` path exports too, but its autograd.Function is inlined: the graph
holds the plain comparison and cast, no surrogate operator (pinned below).
"""

from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import sc_neurocore
from sc_neurocore.core.registry import resolve
from sc_neurocore.networks import SpikingNet

from .compat_matrix import feature
from .compat_support import runnable_paths

SURROGATES = sc_neurocore.list_surrogates()
PATHS = runnable_paths()


class Layer(torch.nn.Module):
    """Linear -> surrogate spike: the smallest model that uses a surrogate."""

    def __init__(self, surrogate) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(5, 4)
        self.surrogate = surrogate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.surrogate(self.linear(x) - 0.1)


def _targets(program: torch.export.ExportedProgram) -> set[str]:
    return {str(node.target) for node in program.graph.nodes if node.op == "call_function"}


def _operator_of(surrogate: str, path: str) -> str | None:
    op = getattr(resolve(surrogate, path), "op", None)
    return None if op is None else str(op)


def _exportable_pairs() -> list[tuple[str, str]]:
    """Pairs whose path exposes an operator (the custom_op path, or a plugin path like it)."""
    return [
        (surrogate, path)
        for surrogate in SURROGATES
        for path in PATHS
        if sc_neurocore.core.registry.coverage(surrogate, path)[0] and _operator_of(surrogate, path)
    ]


@feature("export")
@pytest.mark.parametrize("pair", _exportable_pairs(), ids="@".join)
def test_export_keeps_the_operator(pair: tuple[str, str]) -> None:
    surrogate, path = pair
    torch.manual_seed(0)
    model = Layer(sc_neurocore.get_surrogate(surrogate, path)).eval()
    x = torch.randn(3, 5)
    program = torch.export.export(model, (x,))
    operator = _operator_of(surrogate, path)
    assert operator in _targets(program)
    assert torch.equal(program.module()(x), model(x))
    decomposed = program.run_decompositions()
    assert operator in _targets(decomposed)  # not decomposed away
    other = torch.randn(3, 5)
    assert torch.equal(decomposed.module()(other), model(other))


@feature("export")
@pytest.mark.parametrize("path", PATHS)
def test_export_spiking_net_with_dynamic_batch(path: str) -> None:
    torch.manual_seed(0)
    surrogate = sc_neurocore.get_surrogate("atan", path)
    net = SpikingNet(6, 8, 3, surrogate_fn=surrogate).eval()
    x = (torch.rand(3, 4, 6) < 0.5).float()
    program = torch.export.export(net, (x,), dynamic_shapes={"x": {1: Dim("batch", min=2)}})
    operator = _operator_of("atan", path)
    if operator is not None:
        assert operator in _targets(program)
    else:
        # Pinned: an autograd.Function is inlined into plain aten ops when exported.
        assert not any("sc_neurocore" in target for target in _targets(program))
    for batch in (4, 7):
        inputs = (torch.rand(3, batch, 6) < 0.5).float()
        for got, expected in zip(program.module()(inputs), net(inputs)):
            torch.testing.assert_close(got, expected)
