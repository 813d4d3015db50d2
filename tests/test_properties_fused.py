"""Property tests of every fused layer against its stepwise cell: generated sequences
(T, batch, ...) with 0-size and degenerate shapes, every dtype, strided and expanded
inputs, cpu and meta, initial states valid, of another dtype (promoted) and on the wrong
device/shape, and constructor values valid and invalid.  Each case raises the documented
error (TypeError / ValueError naming the argument) or equals the cell stepped in a loop in
the compute dtype (float32 for bf16/fp16 inputs, whose results are stored rounded; float64
for a float64 state): forward bit for bit, the input gradient to tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st

import sc_neurocore
from sc_neurocore.neurons.cells import LIFCell, SynapticCell
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
from sc_neurocore.neurons.synaptic import SynapticLIF

from .conftest import registered_pairs
from .properties import Case, assert_gradient, assert_same_bits, mostly, tensor_cases

ERRORS = (TypeError, ValueError)
BAD_STATES = ["meta", "float64", "shape"]


@dataclass(frozen=True)
class Layer:
    """A fused layer, its cell, and how the cell's outputs line up with the layer's."""

    fused: type
    cell: type
    states: tuple[str, ...]  # the forward's state arguments, in order
    spiking: bool = True

    def step_all(self, cell: Any, x: torch.Tensor, states: list[Any]) -> tuple[torch.Tensor, ...]:
        outputs = []
        for step in x.unbind(0):
            result = cell(step, *states)
            if not self.spiking:
                states = [result]
                outputs.append(result)
                continue
            spike, *states = result
            outputs.append(spike)
        return (torch.stack(outputs), *states) if self.spiking else (torch.stack(outputs),)


LAYERS = [
    Layer(LIF, LIFCell, ("v0",)),
    Layer(SynapticLIF, SynapticCell, ("i0", "v0")),
    Layer(LeakyIntegrator, LeakyIntegratorCell, ("v0",), spiking=False),
]
SURROGATES = sorted({surrogate for surrogate, _ in registered_pairs()})
SEQUENCES = st.tuples(
    mostly(st.integers(1, 5), st.just(0)),
    mostly(st.lists(st.integers(0, 3), min_size=1, max_size=3), st.just([])),
).map(lambda drawn: (drawn[0], *drawn[1]))
DECAYS = mostly(st.floats(0.0, 1.0), st.sampled_from([-0.1, 1.5, math.nan, math.inf, "0.5"]))
THRESHOLDS = mostly(st.floats(0.05, 5.0), st.sampled_from([0.0, -1.0, math.nan, math.inf, "1"]))


def _options(layer: Layer, data: st.DataObject) -> dict[str, Any]:
    options: dict[str, Any] = {"beta": data.draw(DECAYS, label="beta")}
    if layer.fused is SynapticLIF:
        options["alpha"] = data.draw(DECAYS, label="alpha")
    if layer.spiking:
        options["threshold"] = data.draw(THRESHOLDS, label="threshold")
        surrogate = data.draw(st.sampled_from(SURROGATES), label="surrogate")
        path = data.draw(st.sampled_from(sc_neurocore.list_paths()), label="path")
        options["surrogate_fn"] = sc_neurocore.get_surrogate(surrogate, path)
    return options


def _state(data: st.DataObject, x: torch.Tensor, name: str) -> Any:
    kind = data.draw(mostly(st.sampled_from(["none", "like"]), st.sampled_from(BAD_STATES)), name)
    step = x.shape[1:] if x.dim() >= 2 else (1,)
    if kind == "none":
        return None
    if kind == "meta":
        return torch.zeros(step, dtype=x.dtype, device="meta")
    if kind == "float64":
        other = torch.float32 if x.dtype == torch.float64 else torch.float64
        return torch.zeros(step, dtype=other, device=x.device)
    if kind == "shape":
        return torch.zeros((*step, 2), dtype=x.dtype, device=x.device)
    return torch.linspace(-0.5, 0.5, math.prod(step), dtype=torch.float64).reshape(step).to(x)


def _build(layer: Layer, options: dict[str, Any]) -> tuple[Any, Any] | None:
    """(fused, cell), or None after checking that a bad value raised in both."""
    try:
        fused = layer.fused(**options)
    except ERRORS:
        with pytest.raises(ERRORS):
            layer.cell(**options)
        return None
    return fused, layer.cell(**options)


@pytest.mark.parametrize("layer", LAYERS, ids=[layer.fused.__name__ for layer in LAYERS])
@settings(max_examples=60)
@given(case=tensor_cases(shapes=SEQUENCES), data=st.data())
def test_fused_layer_equals_its_cell_stepped_or_raises(
    layer: Layer, case: Case, data: st.DataObject
) -> None:
    options = _options(layer, data)
    built = _build(layer, options)
    if built is None:
        event("refused: constructor value")
        return
    fused, cell = built
    leaf, x = case.tensor(requires_grad=True)
    states = [_state(data, x, name) for name in layer.states]
    bad_input = not case.dtype.is_floating_point or x.dim() < 2 or x.shape[0] == 0
    bad_state = any(
        s is not None and (s.device != x.device or not _broadcasts(s.shape, x.shape[1:]))
        for s in states
    )
    if bad_input or bad_state:
        event("refused: input" if bad_input else "refused: state")
        with pytest.raises(ERRORS):
            fused(x, *states)
        return
    event(f"compared: {case.device}")
    outputs = fused(x, *states)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    expected = _reference(layer, options, x.detach(), states)
    what = f"{layer.fused.__name__} on {case}"
    for got, want in zip(outputs, expected):
        assert_same_bits(got.detach(), want, what)
    _check_gradient(layer, cell, leaf, case, outputs, states, what)


def _broadcasts(shape: torch.Size, other: torch.Size) -> bool:
    try:
        torch.broadcast_shapes(shape, other)
    except RuntimeError:
        return False
    return True


def _promoted(x: torch.Tensor, state: Any) -> torch.dtype:
    return x.dtype if state is None else torch.promote_types(x.dtype, state.dtype)


def _stepped(layer: Layer, cell: Any, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, ...]:
    """The one-state layer's outputs: the cell stepped in the compute dtype on upcast values
    (exact), spikes cast to the input's dtype and the state to the promoted one."""
    promoted = _promoted(x, state)
    compute = torch.float64 if promoted == torch.float64 else torch.float32
    states = [None if state is None else state.to(compute)]
    outputs = layer.step_all(cell, x.to(compute), states)
    if not layer.spiking:
        return (outputs[0].to(promoted),)
    return outputs[0].to(x.dtype), outputs[1].to(promoted)


def _reference(
    layer: Layer, options: dict[str, Any], x: torch.Tensor, states: list[Any]
) -> tuple[torch.Tensor, ...]:
    if layer.fused is not SynapticLIF:
        return _stepped(layer, layer.cell(**options), x, states[0])
    # the synaptic current (a leaky integrator, stored in its dtype), then the LIF on it
    leaky = Layer(LeakyIntegrator, LeakyIntegratorCell, ("v0",), spiking=False)
    (current,) = _stepped(leaky, LeakyIntegratorCell(options["alpha"]), x, states[0])
    lif_options = {key: value for key, value in options.items() if key != "alpha"}
    spikes, v = _stepped(LAYERS[0], LIFCell(**lif_options), current, states[1])
    return spikes.to(x.dtype), current[-1], v


def _check_gradient(
    layer: Layer,
    cell: Any,
    leaf: torch.Tensor,
    case: Case,
    outputs: tuple[torch.Tensor, ...],
    states: list[Any],
    what: str,
) -> None:
    if case.device == "meta" or case.dtype in (torch.float16, torch.bfloat16):
        return  # meta has no values; half precision: forward is checked bit for bit above
    weights = [torch.linspace(0.5, 1.5, out.numel()).reshape(out.shape).to(out) for out in outputs]

    def loss(outs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return sum((out * weight).sum() for out, weight in zip(outs, weights))  # type: ignore[return-value]

    (grad,) = torch.autograd.grad(loss(outputs), leaf)
    probe = leaf.detach().clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(loss(layer.step_all(cell, case.layout(probe), states)), probe)
    if not (torch.isfinite(expected).all() and torch.isfinite(grad).all()):
        return  # inf/nan inputs: the reference itself is not a number to compare to
    assert_gradient(grad, expected, f"gradient of {what}")
