"""This distribution's own checks on top of the conformance kit (which pyproject.toml loads)."""

from __future__ import annotations

import pytest
import sc_neurocore_composite as plugin
import torch

import sc_neurocore


def _spec_without_primitive() -> sc_neurocore.SurrogateSpec:
    return sc_neurocore.SurrogateSpec(
        name="no_primitive", params=(), grad=torch.ones_like, description="g = 1, no p given"
    )


def test_spec_without_primitive_is_a_gap() -> None:
    with pytest.raises(NotImplementedError, match="no primitive"):
        plugin.build(_spec_without_primitive())


def test_path_is_registered_from_this_distribution() -> None:
    info = {p.name: p for p in sc_neurocore.path_report()}["composite"]
    assert info.distribution == "sc-neurocore-composite" and info.available
    with_primitive = [s.name for s in sc_neurocore.surrogate_report() if s.has_primitive]
    assert set(info.surrogates) == set(with_primitive)


@pytest.mark.parametrize("name", ["atan", "triangular"])
def test_exported_graph_holds_only_aten_ops(name: str) -> None:
    spike = sc_neurocore.get_surrogate(name, "composite")

    class Layer(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return spike(x)

    x = torch.linspace(-2.0, 2.0, 8, requires_grad=True)
    program = torch.export.export(Layer(), (x,))
    targets = [str(n.target) for n in program.graph.nodes if n.op == "call_function"]
    assert targets and all(t.startswith("aten.") for t in targets), targets
    assert torch.equal(program.module()(x.detach()), (x > 0).to(x.dtype))


def test_torch_func_grad_gives_the_surrogate_gradient() -> None:
    spike = sc_neurocore.get_surrogate("atan", "composite")
    x = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64)
    grad = torch.func.grad(lambda v: spike(v).sum())(x)
    expected = sc_neurocore.get_spec("atan").grad(x, **spike.params)
    torch.testing.assert_close(grad, expected)
