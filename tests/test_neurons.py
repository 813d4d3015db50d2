"""Every registered neuron x surrogate x reset x dtype: the fused operator against the
stepwise baseline (spikes identical, gradients of input, learnable params and initial
states within float tolerance), and the NeuronSpec contract's checks."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.neuron_spec import NeuronSpec
from sc_neurocore.core.registry import get_neuron_spec, list_neurons, list_surrogates
from sc_neurocore.neurons.neuron import Neuron

RESETS = ("subtract", "zero", "none")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4}


def _drive(name: str, dtype: torch.dtype, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(12, 3, 4, generator=generator, dtype=dtype) * 0.8 + 0.35
    return x * 12 if name == "izhikevich" else x


def _run(neuron: Neuron, x: torch.Tensor, state: dict[str, torch.Tensor]) -> tuple:
    x = x.clone().requires_grad_()
    state = {k: v.clone().requires_grad_() for k, v in state.items()}
    out, final = neuron(x, state=state)
    weights = torch.linspace(0.5, 1.5, out.shape[-1], dtype=out.dtype)
    loss = (out * weights).sum() + sum(0.1 * (v * v).sum() for v in final.values())
    loss.backward()
    learned = [p.grad for p in neuron.parameters()]
    return out.detach(), x.grad, [state[k].grad for k in sorted(state)], learned, final


def _close(a: list, b: list, tolerance: float) -> None:
    for left, right in zip(a, b):
        finite = left[left.isfinite()]
        scale = max(finite.abs().max().item() if finite.numel() else 1.0, 1.0)
        torch.testing.assert_close(
            left, right, rtol=tolerance, atol=tolerance * scale, equal_nan=True
        )


#: Every registered neuron with every reset it has (a readout has none to replace).
NEURON_RESETS = [
    (name, reset)
    for name in list_neurons()
    for reset in (RESETS if get_neuron_spec(name).spiking else ("subtract",))
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("surrogate", list_surrogates())
@pytest.mark.parametrize(("name", "reset"), NEURON_RESETS)
def test_fused_equals_stepwise(name: str, reset: str, surrogate: str, dtype: torch.dtype) -> None:
    spec = get_neuron_spec(name)
    fn = sc_neurocore.get_surrogate(surrogate)
    learn = spec.param_names[:2]
    x = _drive(name, dtype, seed=len(name) + len(surrogate))
    generator = torch.Generator().manual_seed(7)
    state = {s: torch.randn(3, 4, generator=generator, dtype=dtype) * 0.2 for s in spec.states}
    stepwise = Neuron(name, fn, fused=False, learn=learn, reset=reset).to(dtype)
    fused = Neuron(name, fn, fused=True, learn=learn, reset=reset).to(dtype)
    assert fused.runs[0] == "fused" and stepwise.runs[0] == "stepwise"
    a, b = _run(stepwise, x, state), _run(fused, x, state)
    if spec.spiking:
        assert torch.equal(a[0], b[0])
        assert a[0].any(), "the drive should make neurons spike"
    else:
        _close([a[0]], [b[0]], TOLERANCE[dtype])
    tolerance = TOLERANCE[dtype]
    _close([a[1]], [b[1]], tolerance)
    _close(a[2], b[2], tolerance)
    _close(a[3], b[3], tolerance)
    _close(list(a[4].values()), list(b[4].values()), tolerance)


def test_per_neuron_params_and_learned_tensor() -> None:
    beta = torch.linspace(0.5, 0.95, 4, dtype=torch.float64)
    x = _drive("lif", torch.float64, 3)
    outs = []
    for fused in (False, True):
        layer = Neuron("lif", fused=fused, learn=("beta",), beta=beta).double()
        outs.append(_run(layer, x, {"v": torch.zeros(3, 4, dtype=torch.float64)}))
    assert torch.equal(outs[0][0], outs[1][0])
    assert outs[0][3][0].shape == (4,)
    _close(outs[0][3], outs[1][3], 1e-9)


def test_readout_returns_its_first_state() -> None:
    x = _drive("li", torch.float64, 1)
    out, final = Neuron("li", beta=0.5)(x)
    v = torch.zeros_like(x[0])
    for step in x:
        v = 0.5 * v + step
    assert torch.allclose(out[-1], v) and torch.allclose(final["v"], v)


def test_plain_callable_runs_stepwise_and_fused_true_refuses_it() -> None:
    def spike(f: torch.Tensor) -> torch.Tensor:
        return (f > 0).to(f.dtype)

    assert Neuron("lif", spike).runs[0] == "stepwise"
    with pytest.raises(ValueError, match="fused=True needs a registered surrogate"):
        Neuron("lif", spike, fused=True)


ALIF = dict(
    name="my_alif",
    states=("v", "a"),
    params=(("beta", 0.9), ("rho", 0.95), ("b", 1.8), ("threshold", 1.0)),
    update={"v": "beta*v + x", "a": "rho*a"},
    fire="v - (threshold + b*a)",
    reset={"v": "v - s*(threshold + b*a)", "a": "a + (1 - rho)*s"},
)


def test_the_issue_example_runs_fused() -> None:
    spec = NeuronSpec(**ALIF)
    x = _drive("alif", torch.float64, 5)
    a = _run(Neuron(spec, fused=False, learn=("rho", "b")).double(), x, {})
    b = _run(Neuron(spec, fused=True, learn=("rho", "b")).double(), x, {})
    assert torch.equal(a[0], b[0])
    _close(a[3], b[3], 1e-9)


@pytest.mark.parametrize(
    ("change", "symbol"),
    [
        ({"update": {"v": "beta*v + q", "a": "rho*a"}}, "'q'"),
        ({"update": {"v": "beta*v + x"}}, "'a'"),
        ({"update": {"v": "a_new + x", "a": "v_new"}}, "cycle"),
        ({"params": (("v", 1.0),)}, "'v'"),
        ({"fire": "v - gamma"}, "'gamma'"),
        ({"reset": {"w": "0"}}, "'w'"),
        ({"states": ("v", "x")}, "'x'"),
    ],
)
def test_bad_specs_name_the_spec_and_the_symbol(change: dict, symbol: str) -> None:
    with pytest.raises(ValueError, match="my_alif") as error:
        NeuronSpec(**{**ALIF, **change})
    assert symbol in str(error.value)


def test_unknown_names_are_refused_with_suggestions() -> None:
    with pytest.raises(LookupError, match="Did you mean 'alif'"):
        Neuron("alfi")
    with pytest.raises(ValueError, match="unknown param 'bta'"):
        Neuron("lif", bta=0.5)
    with pytest.raises(ValueError, match="state names 'w'"):
        Neuron("lif")(torch.ones(2, 1, 1), state={"w": torch.zeros(1, 1)})
