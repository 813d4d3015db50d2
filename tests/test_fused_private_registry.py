"""A surrogate of a private ``Registry`` fuses exactly as it steps in the cells.

The fused layers take the spec from the surrogate they were given (kernels/spec_table.py),
never from the default registry: a surrogate that only a private registry holds runs in
``LIF``, ``SynapticLIF`` and ``SpikingNet(fused=True)`` with the spikes of the stepwise
cells and their gradients, in eager mode, under ``torch.compile`` and in an exported
program; a key no layer of this process filed resolves through the default registry only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.errors import UnknownSurrogateError
from sc_neurocore.core.hookspecs import hookimpl
from sc_neurocore.core.registry import Registry
from sc_neurocore.core.spec import SurrogateSpec
from sc_neurocore.kernels.spec_table import spec_for, spec_key, spec_token
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons.cells import LIFCell, SynapticCell
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.synaptic import SynapticLIF
from sc_neurocore.paths import legacy_autograd

PRIVATE = SurrogateSpec.from_formula(
    name="private_bump",
    params=(("width", 0.7),),
    formula="1 / (1 + (x / width) ** 2) / width",
    description="a bump only the private registry holds",
)
#: A private spec under a built-in's name with other math: the default registry's "atan"
#: would give other gradients, so equal gradients show the layer's spec was used.
SHADOW = SurrogateSpec.from_formula(
    name="atan",
    params=(("alpha", 2.0),),
    formula="alpha * exp(-abs(alpha * x))",
    description="not the built-in atan",
)


class _Plugin:
    """A plugin object that only the private registry is given."""

    def __init__(self, spec: SurrogateSpec) -> None:
        self.spec = spec

    @hookimpl
    def sc_neurocore_register_surrogates(self) -> tuple[SurrogateSpec, ...]:
        return (self.spec,)


def _registry(spec: SurrogateSpec) -> Registry:
    if spec is SHADOW:  # the built-in atan would win: a registry with the baseline path only
        return Registry.from_plugins({"private": _Plugin(spec), "path": legacy_autograd})
    return Registry.from_plugins({"private": _Plugin(spec)}, with_builtins=True)


def _surrogate(spec: SurrogateSpec) -> object:
    # The built-ins' operators own the names "atan"...: the shadow steps on the baseline path.
    path = "legacy_autograd" if spec is SHADOW else "custom_op"
    return _registry(spec).get_surrogate(spec.name, path, **{spec.param_names[0]: 0.9})


def _inputs(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(12, 3, 7, generator=generator, dtype=torch.float64) + 0.4).requires_grad_()


def _stepped(cell: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    state: tuple = ()
    spikes = []
    for current in x.unbind(0):
        spike, *state = cell(current, *state)
        spikes.append(spike)
    return torch.stack(spikes)


def _grads(output: torch.Tensor, leaves: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    weights = torch.linspace(-1.0, 1.0, output.numel(), dtype=output.dtype).reshape(output.shape)
    return torch.autograd.grad((output * weights).sum(), leaves)


def test_the_private_surrogate_is_not_in_the_default_registry() -> None:
    assert PRIVATE.name not in sc_neurocore.list_surrogates()
    with pytest.raises(UnknownSurrogateError):
        sc_neurocore.get_spec(PRIVATE.name)


@pytest.mark.parametrize("spec", [PRIVATE, SHADOW], ids=lambda spec: spec.description[:9])
@pytest.mark.parametrize(("fused_type", "cell_type"), [(LIF, LIFCell), (SynapticLIF, SynapticCell)])
def test_fused_layers_match_the_cells(spec, fused_type, cell_type) -> None:
    surrogate = _surrogate(spec)
    options = {"beta": 0.85, "threshold": 0.6, "surrogate_fn": surrogate, "learn_beta": True}
    layer, cell = fused_type(**options).double(), cell_type(**options).double()
    assert layer.fused
    x = _inputs()
    spikes = layer(x)[0]
    expected = _stepped(cell, x)
    assert torch.equal(spikes, expected) and 0 < int(spikes.sum()) < spikes.numel()
    got = _grads(spikes, [x, layer.beta_logit])
    want = _grads(expected, [x, cell.beta_logit])
    for mine, reference in zip(got, want):
        torch.testing.assert_close(mine, reference, rtol=1e-10, atol=1e-12)


def test_the_shadow_gradients_differ_from_the_builtin() -> None:
    """Guards the test above: the default registry's atan would not have matched."""
    builtin = sc_neurocore.get_surrogate("atan", alpha=0.9)
    x = _inputs()
    shadowed = _grads(LIF(0.85, 0.6, _surrogate(SHADOW)).double()(x)[0], [x])[0]
    default = _grads(LIF(0.85, 0.6, builtin).double()(x)[0], [x])[0]
    assert not torch.allclose(shadowed, default)


def test_spiking_net_fused_matches_stepwise() -> None:
    options = {"n_layers": 3, "surrogate_fn": _surrogate(PRIVATE), "learn_beta": True}
    torch.manual_seed(0)  # weights under which the output layer fires (not every draw does)
    stepwise = SpikingNet(7, 16, 4, **options).double()
    fused = SpikingNet(7, 16, 4, fused=True, **options).double()
    fused.load_state_dict(stepwise.state_dict())
    x = _inputs() * 2
    counts, membrane = fused(x)
    expected_counts, expected_membrane = stepwise(x)
    assert torch.equal(counts, expected_counts) and bool(counts.any())
    torch.testing.assert_close(membrane, expected_membrane, rtol=1e-10, atol=1e-10)
    got = _grads(membrane + counts, [x, *fused.parameters()])
    want = _grads(expected_membrane + expected_counts, [x, *stepwise.parameters()])
    for mine, reference in zip(got, want):
        torch.testing.assert_close(mine, reference, rtol=1e-9, atol=1e-10)


def test_compile_and_export_run_the_private_spec(tmp_path: Path) -> None:
    layer = LIF(0.85, 0.6, _surrogate(PRIVATE)).double()
    x = _inputs()
    spikes, v = layer(x)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    compiled_spikes, compiled_v = compiled(x)
    assert torch.equal(compiled_spikes, spikes) and torch.equal(compiled_v, v)
    torch.testing.assert_close(_grads(compiled_spikes, [x]), _grads(spikes, [x]))
    program = torch.export.export(layer, (x.detach(),))
    assert PRIVATE.name in str(program.graph)  # the program names the surrogate
    torch.export.save(program, tmp_path / "private.pt2")
    reloaded = torch.export.load(tmp_path / "private.pt2").module()
    assert torch.equal(reloaded(x.detach())[0], spikes)


def test_keys_nobody_filed_resolve_through_the_default_registry_only() -> None:
    key = spec_key(PRIVATE)
    assert key.startswith(f"{PRIVATE.name}@") and spec_for(key) is PRIVATE
    # A fresh process (a reloaded program) holds no layer's key: the name goes to the
    # default registry, which does not know the private surrogate.
    unfiled = f"{PRIVATE.name}@{'0' * 12}"
    with pytest.raises(UnknownSurrogateError, match=PRIVATE.name):
        spec_for(unfiled)
    # The shadow's key names "atan": the default registry has an atan, but not that one.
    with pytest.raises(UnknownSurrogateError, match="atan"):
        spec_for("atan@ffffffffffff")
    builtin = sc_neurocore.get_spec("atan")
    assert spec_for(f"atan@{spec_token(builtin)}") is builtin
    assert spec_for("atan") is builtin  # a plain name, as older programs carry
