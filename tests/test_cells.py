"""Neuron cells: equations against hand computation, gradients on every built-in path,
state omission, learnable values, argument checks and repr."""

from __future__ import annotations

import functools
import math

import pytest
import torch

import sc_neurocore

# The seed's public names, imported as a user would (the facade lists them too).
from sc_neurocore.training import (
    SURROGATE_PATHS,
    AdExCell,
    ALIFCell,
    AlphaCell,
    ExpIFCell,
    IFCell,
    LapicqueCell,
    LIFCell,
    RecurrentLIFCell,
    SecondOrderLIFCell,
    SynapticCell,
    atan_surrogate,
    atan_surrogate_custom_op,
    atan_surrogate_legacy,
)

#: Inputs per step for three neurons; chosen so each cell fires some, not all, steps.
CURRENTS = [[0.6, 1.3, -0.2], [0.7, 0.2, 0.9], [0.1, 1.1, 0.8], [0.9, 0.0, 0.5]]


def heaviside(x: float) -> float:
    return 1.0 if x > 0 else 0.0


# Scalar references: the equations written out for one neuron, independent of the cells.
def lif_ref(currents, beta=0.5, thr=1.0):
    v, out = 0.0, []
    for i in currents:
        v = beta * v + i
        s = heaviside(v - thr)
        v = v - s * thr
        out.append((s, v))
    return out


def if_ref(currents, thr=1.0):
    return lif_ref(currents, beta=1.0, thr=thr)


def synaptic_ref(currents, alpha=0.5, beta=0.25, thr=1.0):
    syn, v, out = 0.0, 0.0, []
    for i in currents:
        syn = alpha * syn + i
        v = beta * v + syn
        s = heaviside(v - thr)
        v = v - s * thr
        out.append((s, syn, v))
    return out


def alif_ref(currents, beta=0.5, thr=1.0, rho=0.5, beta_adapt=0.4):
    v, a, out = 0.0, 0.0, []
    for i in currents:
        theta = thr + beta_adapt * a
        v = beta * v + i
        s = heaviside(v - theta)
        v = v - s * theta
        a = rho * a + s
        out.append((s, v, a))
    return out


def expif_ref(currents, beta=0.5, thr=1.0, delta_t=0.5, v_rh=0.8):
    v, out = 0.0, []
    for i in currents:
        v = beta * v + delta_t * math.exp(min((v - v_rh) / delta_t, 5.0)) + i
        s = heaviside(v - thr)
        v = v - s * thr
        out.append((s, v))
    return out


def adex_ref(currents, beta=0.5, thr=1.0, delta_t=0.5, v_rh=0.8, a=0.2, b=0.3, rho=0.5, rest=0.1):
    v, w, out = 0.0, 0.0, []
    for i in currents:
        v_prev = v
        v = beta * v + delta_t * math.exp(min((v - v_rh) / delta_t, 5.0)) - w + i
        s = heaviside(v - thr)
        v = v - s * thr
        w = rho * w + a * (v_prev - rest) + b * s
        out.append((s, v, w))
    return out


def lapicque_ref(currents, tau=4.0, r=2.0, dt=1.0, thr=1.0, rest=0.25):
    v, out = rest, []
    for i in currents:
        v = (1 - dt / tau) * (v - rest) + rest + (r * dt / tau) * i
        s = heaviside(v - thr)
        v = v - s * (thr - rest)
        out.append((s, v))
    return out


def alpha_ref(currents, a_exc=0.5, a_inh=0.25, beta=0.5, thr=1.0):
    i_exc, i_inh, v, out = 0.0, 0.0, 0.0, []
    for i in currents:
        i_exc = a_exc * i_exc + i
        i_inh = a_inh * i_inh + 0.5 * i  # the test feeds half the current as inhibition
        v = beta * v + i_exc - i_inh
        s = heaviside(v - thr)
        v = v - s * thr
        out.append((s, i_exc, i_inh, v))
    return out


#: name -> (cell factory, scalar reference); the references use the same settings.
CELLS = {
    "LIFCell": (lambda: LIFCell(beta=0.5), lif_ref),
    "IFCell": (lambda: IFCell(), if_ref),
    "SynapticCell": (lambda: SynapticCell(alpha=0.5, beta=0.25), synaptic_ref),
    "SecondOrderLIFCell": (lambda: SecondOrderLIFCell(alpha=0.5, beta=0.25), synaptic_ref),
    "ALIFCell": (lambda: ALIFCell(beta=0.5, rho=0.5, beta_adapt=0.4), alif_ref),
    "ExpIFCell": (lambda: ExpIFCell(beta=0.5), expif_ref),
    "AdExCell": (lambda: AdExCell(beta=0.5, a=0.2, b=0.3, rho=0.5, v_rest=0.1), adex_ref),
    "LapicqueCell": (lambda: LapicqueCell(tau=4.0, r=2.0, v_rest=0.25), lapicque_ref),
    "AlphaCell": (lambda: AlphaCell(alpha_exc=0.5, alpha_inh=0.25, beta=0.5), alpha_ref),
    "RecurrentLIFCell": (lambda: _zero_recurrent(RecurrentLIFCell(3, beta=0.5)), lif_ref),
}


def _zero_recurrent(cell: RecurrentLIFCell) -> RecurrentLIFCell:
    with torch.no_grad():
        cell.recurrent.weight.zero_()
    return cell


def step(cell: torch.nn.Module, current: torch.Tensor, state: tuple) -> tuple:
    if isinstance(cell, AlphaCell):
        return cell(current, 0.5 * current, *state)
    return cell(current, *state)


def run(cell: torch.nn.Module, currents: torch.Tensor) -> list[tuple]:
    state: tuple = ()
    outputs = []
    for current in currents:
        out = step(cell, current, state)
        state = out if isinstance(cell, RecurrentLIFCell) else out[1:]
        outputs.append(out)
    return outputs


@pytest.mark.parametrize("name", sorted(CELLS))
def test_equations_match_hand_computation(name: str) -> None:
    factory, reference = CELLS[name]
    cell = factory().double()
    got = run(cell, torch.tensor(CURRENTS, dtype=torch.float64))
    per_neuron = [reference([row[n] for row in CURRENTS]) for n in range(3)]
    fired = 0
    for t, outputs in enumerate(got):
        want = torch.tensor([per_neuron[n][t] for n in range(3)], dtype=torch.float64).T
        torch.testing.assert_close(torch.stack(outputs), want, rtol=1e-12, atol=1e-12)
        fired += int(outputs[0].sum())
    assert 0 < fired < len(CURRENTS) * 3, "the inputs should make the cell fire sometimes"


def test_lif_by_hand() -> None:
    """Two steps of LIF with beta=0.5, threshold=1 written out in full."""
    cell = LIFCell(beta=0.5, threshold=1.0)
    spike, v = cell(torch.tensor([0.6, 1.2]))
    assert spike.tolist() == [0.0, 1.0]
    torch.testing.assert_close(v, torch.tensor([0.6, 1.2 - 1.0]))
    spike, v = cell(torch.tensor([0.6, 0.3]), v)
    assert spike.tolist() == [0.0, 0.0]
    torch.testing.assert_close(v, torch.tensor([0.5 * 0.6 + 0.6, 0.5 * 0.2 + 0.3]))


def test_recurrent_weights_feed_previous_spikes() -> None:
    cell = RecurrentLIFCell(2, beta=0.5)
    with torch.no_grad():
        cell.recurrent.weight.copy_(torch.tensor([[0.0, 0.7], [0.0, 0.0]]))
    spike, v = cell(torch.tensor([0.2, 1.5]))
    assert spike.tolist() == [0.0, 1.0]
    spike, v = cell(torch.tensor([0.2, 0.0]), spike, v)
    # neuron 0: 0.5*0.2 + 0.2 + 0.7*1 = 1.0 -> no spike (strictly above threshold needed)
    torch.testing.assert_close(v, torch.tensor([0.5 * 0.2 + 0.2 + 0.7, 0.5 * 0.5 + 0.0]))


def _surrogate_forms() -> list[str]:
    return list(sc_neurocore.list_surrogates())


@pytest.mark.parametrize("surrogate", _surrogate_forms())
@pytest.mark.parametrize("name", sorted(CELLS))
def test_gradients_flow_and_match_across_paths(name: str, surrogate: str) -> None:
    grads = {}
    for path in SURROGATE_PATHS:
        torch.manual_seed(0)
        cell = CELLS[name][0]().double()
        cell.surrogate_fn = sc_neurocore.get_surrogate(surrogate, path)
        currents = torch.tensor(CURRENTS, dtype=torch.float64, requires_grad=True)
        outputs = run(cell, currents)
        loss = sum(out[0].sum() * (t + 1) + out[-1].sum() for t, out in enumerate(outputs))
        loss.backward()
        params = [p.grad for p in cell.parameters()]
        grads[path] = (currents.grad, *params)
        assert torch.isfinite(currents.grad).all()
        assert currents.grad.abs().sum() > 0
    reference = grads[SURROGATE_PATHS[0]]
    for path in SURROGATE_PATHS[1:]:
        for mine, want in zip(grads[path], reference):
            # custom_op runs its own (compiled) kernels: equal up to float64 rounding
            torch.testing.assert_close(mine, want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("path_form", [atan_surrogate_custom_op, atan_surrogate_legacy])
def test_spike_gradient_is_the_surrogate_derivative(path_form) -> None:
    cell = LIFCell(beta=0.9, threshold=1.0, surrogate_fn=path_form)
    current = torch.tensor([0.3, 0.95, 1.4], requires_grad=True)
    spike, _ = cell(current)
    spike.sum().backward()
    alpha = 2.0
    x = current.detach() - 1.0
    want = alpha / (2 * (1 + (math.pi * alpha * x / 2) ** 2))
    torch.testing.assert_close(current.grad, want)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_omitted_state_starts_at_rest(name: str, dtype: torch.dtype) -> None:
    cell = CELLS[name][0]().to(dtype)
    current = torch.tensor(CURRENTS[0], dtype=dtype)
    omitted = step(cell, current, ())
    state_count = len(omitted) - (0 if isinstance(cell, RecurrentLIFCell) else 1)
    rest = 0.25 if isinstance(cell, LapicqueCell) else 0.0
    explicit_state = tuple(torch.full_like(current, rest) for _ in range(state_count))
    explicit = step(cell, current, explicit_state)
    for mine, want in zip(omitted, explicit):
        assert mine.dtype == dtype and mine.device == current.device and mine.shape == (3,)
        torch.testing.assert_close(mine, want)


def test_state_on_a_batch_keeps_shape() -> None:
    spike, i, v = SynapticCell()(torch.rand(4, 2, 5))
    assert spike.shape == i.shape == v.shape == (4, 2, 5)


BAD_ARGUMENTS = [
    (LIFCell, {"beta": 1.5}, ValueError, "beta"),
    (LIFCell, {"beta": -0.1}, ValueError, "beta"),
    (LIFCell, {"beta": 1.0, "learn_beta": True}, ValueError, "beta"),
    (LIFCell, {"threshold": 0.0}, ValueError, "threshold"),
    (LIFCell, {"threshold": -1.0}, ValueError, "threshold"),
    (LIFCell, {"threshold": float("nan")}, ValueError, "threshold"),
    (LIFCell, {"beta": "0.9"}, TypeError, "beta"),
    (LIFCell, {"surrogate_fn": "atan"}, TypeError, "surrogate_fn"),
    (LIFCell, {"beta": torch.tensor([0.5, 1.2])}, ValueError, "beta"),
    (IFCell, {"threshold": 0}, ValueError, "threshold"),
    (SynapticCell, {"alpha": 2.0}, ValueError, "alpha"),
    (ALIFCell, {"rho": 1.1}, ValueError, "rho"),
    (ALIFCell, {"beta_adapt": -1.0}, ValueError, "beta_adapt"),
    (ExpIFCell, {"delta_t": 0.0}, ValueError, "delta_t"),
    (AdExCell, {"b": -0.1}, ValueError, "b"),
    (LapicqueCell, {"tau": 0.0}, ValueError, "tau"),
    (LapicqueCell, {"tau": -5.0}, ValueError, "tau"),
    (LapicqueCell, {"dt": 30.0}, ValueError, "dt"),
    (LapicqueCell, {"v_rest": 2.0}, ValueError, "v_rest"),
    (AlphaCell, {"alpha_inh": -0.5}, ValueError, "alpha_inh"),
    (RecurrentLIFCell, {"n_neurons": 0}, ValueError, "n_neurons"),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "argument"), BAD_ARGUMENTS)
def test_bad_arguments_name_the_argument(cls, kwargs, error, argument) -> None:
    if cls is RecurrentLIFCell:
        kwargs = {"n_neurons": 3, **kwargs}
    with pytest.raises(error, match=rf"\b{argument}\b"):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [LIFCell, SynapticCell, ALIFCell, ExpIFCell, AdExCell, AlphaCell])
def test_learned_values_stay_in_range_after_aggressive_steps(cls) -> None:
    """Silence the cell, then make it fire as much as it can: the raw values move by
    several units (a plain beta or threshold would leave its range), the values do not."""
    cell = cls(learn_beta=True, learn_threshold=True)
    currents = torch.rand(6, 8, 4, generator=torch.Generator().manual_seed(0)) * 2
    for sign in (1.0, -1.0):
        optimizer = torch.optim.Adam(cell.parameters(), lr=0.5)
        for _ in range(20):
            state: tuple = ()
            total = torch.zeros(())
            for current in currents:
                out = step(cell, current, state)
                state = out[1:]
                total = total + out[0].sum()
            optimizer.zero_grad()
            (sign * total).backward()
            optimizer.step()
            beta, threshold = float(cell.beta.detach()), float(cell.threshold.detach())
            assert 0 < beta < 1 and threshold > 0
        if sign > 0:
            assert beta < 0.5 and threshold > 5, "silencing should lower beta, raise threshold"
            silenced = threshold
        else:
            # relative to where silencing left it: the trajectory is chaotic in the rounding
            # of the surrogate kernels (compiled vs torch), the direction is not
            assert beta > 0.85 and threshold < silenced / 10, (
                "firing should raise beta, lower threshold"
            )
    assert {name for name, _ in cell.named_parameters()} == {"beta_logit", "threshold_log"}


def test_learned_values_start_at_the_given_ones_and_fixed_ones_are_plain() -> None:
    learned = LIFCell(beta=0.7, threshold=1.5, learn_beta=True, learn_threshold=True)
    torch.testing.assert_close(learned.beta, torch.tensor(0.7))
    torch.testing.assert_close(learned.threshold, torch.tensor(1.5))
    fixed = LIFCell(beta=0.7, threshold=1.5)
    assert (fixed.beta, fixed.threshold) == (0.7, 1.5)
    assert list(fixed.parameters()) == [] and fixed.state_dict() == {}


def test_per_neuron_values_as_tensors() -> None:
    cell = LIFCell(beta=torch.tensor([0.5, 0.25]), threshold=torch.tensor([1.0, 0.5]))
    spike, v = cell(torch.tensor([0.8, 0.8]))
    assert spike.tolist() == [0.0, 1.0]
    torch.testing.assert_close(v, torch.tensor([0.8, 0.3]))
    spike, v = cell(torch.tensor([0.0, 0.0]), v)
    torch.testing.assert_close(v, torch.tensor([0.4, 0.075]))


def test_default_surrogate_follows_the_default_path() -> None:
    assert LIFCell().surrogate_fn is atan_surrogate


@pytest.mark.parametrize("path", SURROGATE_PATHS)
def test_repr_names_surrogate_path_and_params(path: str) -> None:
    bound = repr(LIFCell(surrogate_fn=sc_neurocore.get_surrogate("fast_sigmoid", path, slope=3)))
    assert f"fast_sigmoid(path={path}, slope=3.0)" in bound
    pinned = atan_surrogate_custom_op if path == "custom_op" else atan_surrogate_legacy
    assert f"atan(path={path}, alpha=2.0)" in repr(LIFCell(surrogate_fn=pinned))
    partial = functools.partial(atan_surrogate, alpha=4.0, path=path)
    assert f"atan(path={path}, alpha=4.0)" in repr(SynapticCell(surrogate_fn=partial))
    assert "atan(path=default, alpha=2.0)" in repr(IFCell())


def test_repr_of_a_users_function_and_learned_values() -> None:
    def my_spike(x: torch.Tensor) -> torch.Tensor:
        return atan_surrogate(x)

    text = repr(LIFCell(beta=0.8, surrogate_fn=my_spike, learn_beta=True))
    assert "my_spike" in text and "beta=0.8" in text and "beta_logit" in text
