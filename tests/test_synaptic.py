"""Current-based LIF and the leaky-integrator readout: the cells against hand-written
equations, the fused layers against the cells for every registered surrogate (on the
compiled and on the torch kernels), and the operator contract."""

from __future__ import annotations

import math

import pytest
import torch

import sc_neurocore
from sc_neurocore.neurons.cells import SynapticCell
from sc_neurocore.neurons.integrator import LeakyIntegrator, LeakyIntegratorCell, leaky_op
from sc_neurocore.neurons.recurrent import RecurrentSynapticCell
from sc_neurocore.neurons.synaptic import SynapticLIF

from .conftest import on_cpu_kernels

SURROGATES = sc_neurocore.list_surrogates()
STEPS, BATCH, NEURONS = 10, 3, 4


@pytest.fixture(params=["native", "torch"])
def kernels(request: pytest.FixtureRequest):
    yield from on_cpu_kernels(request.param)


def _inputs(seed: int = 0, dtype: torch.dtype = torch.float64):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(STEPS, BATCH, NEURONS, generator=generator, dtype=dtype) * 0.6 + 0.2
    i0, v0 = (torch.randn(BATCH, NEURONS, generator=generator, dtype=dtype) * 0.3 for _ in "iv")
    return x, i0, v0


def test_synaptic_cell_is_nir_cubalif_discretised() -> None:
    """NIR's CubaLIF, tau_syn di/dt = -i + w x and tau_mem dv/dt = (v_leak - v) + r i, stepped
    with the exact exponential decay over dt, is SynapticCell with alpha = exp(-dt/tau_syn),
    beta = exp(-dt/tau_mem), the input gains folded into the weights, v_leak = 0 and the
    membrane integrating the current of the same step."""
    dt, tau_syn, tau_mem = 1e-3, 5e-3, 20e-3
    alpha, beta = math.exp(-dt / tau_syn), math.exp(-dt / tau_mem)
    cell = SynapticCell(alpha, beta, threshold=1.0, surrogate_fn=sc_neurocore.get_surrogate("atan"))
    x, _, _ = _inputs()
    i = v = torch.zeros(BATCH, NEURONS, dtype=torch.float64)
    state = (None, None)
    for x_t in x.unbind(0):
        i = alpha * i + x_t
        v = beta * v + i
        spike_expected = (v > 1.0).to(v.dtype)
        v = v - spike_expected * 1.0
        spike, *state = cell(x_t, *state)
        assert torch.equal(spike, spike_expected)
        torch.testing.assert_close(state[0], i, rtol=0, atol=1e-12)
        torch.testing.assert_close(state[1], v, rtol=0, atol=1e-12)


def test_leaky_integrator_cell_equation() -> None:
    cell = LeakyIntegratorCell(0.75)
    x, _, v0 = _inputs()
    v = v0
    for x_t in x.unbind(0):
        out = cell(x_t, v)
        torch.testing.assert_close(out, 0.75 * v + x_t, rtol=0, atol=1e-12)
        v = out
    assert torch.equal(cell(x[0]), x[0])  # v omitted: starts at zero


def test_recurrent_synaptic_cell_adds_the_recurrent_map_to_the_current() -> None:
    torch.manual_seed(0)
    cell = RecurrentSynapticCell(NEURONS, 0.8, 0.9, surrogate_fn=sc_neurocore.get_surrogate("atan"))
    cell.double()
    x, i0, v0 = _inputs()
    previous = torch.zeros(BATCH, NEURONS, dtype=torch.float64)
    spike, i, v = cell(x[0], previous + 1, i0, v0)
    expected_i = 0.8 * i0 + x[0] + cell.recurrent(previous + 1)
    torch.testing.assert_close(i, expected_i)
    assert torch.equal(spike, (0.9 * v0 + expected_i > 1.0).to(spike.dtype))
    with pytest.raises(ValueError, match="n_neurons"):
        RecurrentSynapticCell(0)


def _stepwise(cell: SynapticCell, x, i0, v0):
    spikes, state = [], (i0, v0)
    for x_t in x.unbind(0):
        spike, *state = cell(x_t, *state)
        spikes.append(spike)
    return torch.stack(spikes), state[0], state[1]


def _grads(module, run, x, i0, v0):
    leaves = [t.detach().clone().requires_grad_() for t in (x, i0, v0)]
    spikes, i_last, v_last = run(*leaves)
    weights = torch.linspace(0.5, 1.5, STEPS, dtype=x.dtype).view(-1, 1, 1)
    (spikes * weights).sum().backward(retain_graph=True)
    (i_last.sum() + 0.5 * v_last.sum()).backward()
    named = {name: p.grad for name, p in module.named_parameters()}
    return spikes, [leaf.grad for leaf in leaves], named


@pytest.mark.parametrize("name", SURROGATES)
def test_fused_synaptic_lif_matches_the_cell(kernels: str, name: str) -> None:
    options = dict(learn_alpha=True, learn_beta=True, learn_threshold=True)
    fn = sc_neurocore.get_surrogate(name)
    fused = SynapticLIF(0.8, 0.9, 1.0, fn, **options).double()
    cell = SynapticCell(0.8, 0.9, 1.0, fn, **options).double()
    x, i0, v0 = _inputs()
    spikes, grads, named = _grads(fused, fused, x, i0, v0)
    expected_spikes, expected_grads, expected_named = _grads(
        cell, lambda *a: _stepwise(cell, *a), x, i0, v0
    )
    assert (
        torch.equal(spikes, expected_spikes) and 0 < float(spikes.detach().sum()) < spikes.numel()
    )
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)
    assert named.keys() == expected_named.keys()
    for key in named:
        torch.testing.assert_close(named[key], expected_named[key], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_leaky_integrator_matches_the_cell(kernels: str, dtype: torch.dtype) -> None:
    x, _, v0 = _inputs(dtype=dtype)
    fused, cell = LeakyIntegrator(0.9, learn_beta=True), LeakyIntegratorCell(0.9, learn_beta=True)
    leaves = [x.clone().requires_grad_(), v0.clone().requires_grad_()]
    out = fused(*leaves)
    (out.square() * torch.arange(STEPS, dtype=dtype).view(-1, 1, 1)).sum().backward()
    expected_leaves = [x.clone().requires_grad_(), v0.clone().requires_grad_()]
    v, outs = expected_leaves[1], []
    for x_t in expected_leaves[0].unbind(0):
        v = cell(x_t, v)
        outs.append(v)
    expected = torch.stack(outs)
    (expected.square() * torch.arange(STEPS, dtype=dtype).view(-1, 1, 1)).sum().backward()
    assert torch.equal(out, expected)
    for got, want in zip(leaves, expected_leaves):
        torch.testing.assert_close(got.grad, want.grad)
    torch.testing.assert_close(fused.beta_logit.grad, cell.beta_logit.grad, rtol=1e-4, atol=1e-5)


def test_leaky_operator_contract() -> None:
    x, _, v0 = _inputs()
    # The generated ``li`` operator: a readout carries no surrogate ("" and no parameters).
    beta = torch.tensor(0.9, dtype=torch.float64)
    torch.library.opcheck(leaky_op, (x.requires_grad_(), v0, beta, "", []))
    per_neuron = torch.full((NEURONS,), 0.7, dtype=torch.float64)
    torch.library.opcheck(leaky_op, (x, None, per_neuron, "", []))


def test_leaky_integrator_under_torch_func_steps_with_the_same_gradient() -> None:
    x, _, v0 = _inputs()
    module = LeakyIntegrator(0.85)

    def loss(inputs):  # type: ignore[no-untyped-def]
        return module(inputs, v0).square().sum()

    torch.testing.assert_close(
        torch.func.grad(loss)(x), torch.autograd.grad(loss(x.requires_grad_()), x)[0]
    )


def test_synaptic_lif_state_dict_interchanges_with_the_cell() -> None:
    fused = SynapticLIF(0.7, 0.8, learn_alpha=True, learn_beta=True)
    cell = SynapticCell(0.6, 0.5, learn_alpha=True, learn_beta=True)
    cell.load_state_dict(fused.state_dict())
    assert math.isclose(float(cell.alpha.detach()), 0.7, rel_tol=1e-6)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: LeakyIntegrator()(torch.zeros(3, 2, dtype=torch.int64)), "floating-point"),
        (lambda: LeakyIntegrator()(torch.zeros(3)), "time-major"),
        (lambda: LeakyIntegrator()(torch.zeros(3, 2), torch.zeros(5)), "y0"),
        (lambda: SynapticLIF()(torch.zeros(3, 2), torch.zeros(4)), "i0"),
        (lambda: LeakyIntegrator(1.5), "beta"),
    ],
)
def test_bad_input_names_the_argument(call, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        call()


@pytest.mark.parametrize("name", SURROGATES)
def test_classifier_filtering_its_inputs_first_equals_the_stepped_cells(name: str) -> None:
    """The fused classifier filters the inputs before the input layer (both are linear, so
    they commute); it must give the stepped cells' readout and gradients to rounding."""
    from sc_neurocore.tasks.classifier import ClassifierConfig, SpikingClassifier

    fn = sc_neurocore.get_surrogate(name)
    config = ClassifierConfig(hidden=12, input_scale=4.0)
    results = []
    for execution in ("fused", sc_neurocore.list_paths()[0]):
        torch.manual_seed(0)
        model = SpikingClassifier(5, 3, fn, config, execution=execution).double()
        x = (torch.rand(30, 4, 5, generator=torch.Generator().manual_seed(1)) < 0.2).double()
        membrane, spikes = model(x)
        (membrane.amax(0).sum() + spikes.sum()).backward()
        results.append((membrane, spikes, model.input.weight.grad, model.output.weight.grad))
    (membrane, spikes, *grads), (want_membrane, want_spikes, *want_grads) = results
    assert torch.equal(spikes, want_spikes)
    assert 0 < float(spikes.detach().sum()) < spikes.numel()
    torch.testing.assert_close(membrane, want_membrane, rtol=1e-12, atol=1e-12)
    for got, want in zip(grads, want_grads):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-10)
