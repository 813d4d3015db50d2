"""Every registered neuron x surrogate x reset x dtype: the fused operator against the
stepwise baseline (spikes identical, gradients of input, learnable params and initial
states within float tolerance), and the NeuronSpec contract's checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from sc_neurocore.core.errors import KernelUnavailableError
from sc_neurocore.core.neuron_spec import NeuronSpec
from sc_neurocore.core.registry import get_neuron_spec, get_spec, list_neurons, list_surrogates
from sc_neurocore.core.settings import use_kernel
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.neuron_choice import neuron_families, neuron_kernels
from sc_neurocore.neurons.neuron import Neuron
from sc_neurocore.testing.neurons import (
    NEURON_DTYPES,
    assert_close_scaled,
    check_fused_equals_stepwise,
    neuron_drive,
    resets_of,
    run_with_gradients,
)


def _drive(name: str, dtype: torch.dtype, seed: int) -> torch.Tensor:
    return neuron_drive(name, dtype, seed)


def _run(neuron: Neuron, x: torch.Tensor, state: dict[str, torch.Tensor]) -> tuple:
    run = run_with_gradients(neuron, x, state)
    return run.out, run.grad_x, run.grad_states, run.grad_params, run.final


def _close(a: list, b: list, tolerance: float) -> None:
    assert_close_scaled(a, b, tolerance)


#: Every registered neuron with every reset it has (a readout has none to replace).
NEURON_RESETS = [
    (name, reset) for name in list_neurons() for reset in resets_of(get_neuron_spec(name))
]


@pytest.fixture(params=neuron_families("cpu"))
def family(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every kernel family the selector can run on the CPU, forced in turn."""
    with use_kernel(request.param):
        yield request.param


@pytest.mark.parametrize("dtype", NEURON_DTYPES, ids=str)
@pytest.mark.parametrize("surrogate", list_surrogates())
@pytest.mark.parametrize(("name", "reset"), NEURON_RESETS)
def test_fused_equals_stepwise(
    name: str, reset: str, surrogate: str, dtype: torch.dtype, family: str
) -> None:
    """The kit's check (sc_neurocore.testing.neurons), for every registered neuron and every
    CPU kernel family: spikes identical, gradients of input, learned params and initial
    states within tolerance."""
    program = program_of(get_neuron_spec(name).with_reset(reset))
    try:
        ran = neuron_kernels(program, get_spec(surrogate), torch.zeros(1, dtype=dtype))
    except KernelUnavailableError as error:  # no compiler here (a failure under CI=true)
        pytest.skip(str(error))
    assert ran.family == family
    check_fused_equals_stepwise(name, surrogate, reset, dtype)


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


def test_a_layer_pickles_and_refuses_a_param_named_like_a_module_attribute() -> None:
    import pickle

    layer = Neuron("alif", learn=("beta",))
    x = _drive("alif", torch.float32, 2)
    copy = pickle.loads(pickle.dumps(layer))
    assert copy.runs == layer.runs and torch.equal(copy(x)[0], layer(x)[0])
    spec = NeuronSpec("clash", ("v",), (("double", 0.9),), {"v": "double*v + x"}, "v - 1", {})
    assert Neuron(spec)(x)[0].shape == x.shape  # a float param is no attribute: fine
    with pytest.raises(ValueError, match="param 'double' would replace"):
        Neuron(spec, learn=("double",))
