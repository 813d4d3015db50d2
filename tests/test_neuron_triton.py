"""The Triton kernels generated from every registered neuron's step program, run by Triton's
CPU interpreter against the stepwise baseline.

``SC_NEUROCORE_KERNEL=triton`` with ``TRITON_INTERPRET=1`` sends the fused operator's CPU
tensors through the generated ``@triton.jit`` kernels (a spy checks they ran); the stepwise
layer runs under the torch kernels.  Spikes must be identical, gradients of the input, the
learned parameters and the initial states within float tolerance.  The interpreter is slow:
every neuron x reset in float64 with one surrogate, every neuron in float32 with another,
and the LIF with every surrogate.
"""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.errors import KernelUnavailableError
from sc_neurocore.core.registry import get_neuron_spec, list_neurons, list_surrogates
from sc_neurocore.core.settings import use_kernel
from sc_neurocore.core.spec import SurrogateSpec
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.neuron_choice import FAMILIES, neuron_kernels
from sc_neurocore.kernels.triton.neuron import TritonNeuron
from sc_neurocore.neurons.neuron import Neuron

from .conftest import interpret_triton, set_environment

TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4}
RESETS = ("subtract", "zero", "none")
NEURON_RESETS = [
    (name, reset)
    for name in list_neurons()
    for reset in (RESETS if get_neuron_spec(name).spiking else ("subtract",))
]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The interpreter on, Triton forced, and the generated kernels' launches counted."""
    interpret_triton(monkeypatch)
    counted = {"forward": 0, "backward": 0}
    for kind in counted:
        original = getattr(TritonNeuron, kind)

        def spy(self, *args, _kind=kind, _original=original, **kwargs):
            counted[_kind] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(TritonNeuron, kind, spy)
    return counted


def _drive(name: str, dtype: torch.dtype, seed: int, steps: int = 10) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(steps, 3, 4, generator=generator, dtype=torch.float64) * 0.8 + 0.35
    return (x * 12 if name == "izhikevich" else x).to(dtype)


def _run(neuron: Neuron, x: torch.Tensor, state: dict[str, torch.Tensor], loss: str) -> tuple:
    x = x.clone().requires_grad_()
    state = {k: v.clone().requires_grad_() for k, v in state.items()}
    out, final = neuron(x, state=state)
    if loss == "sum":  # the output's gradient arrives expanded from one value
        total = out.sum() + sum(v.sum() for v in final.values())
    else:
        weights = torch.linspace(0.5, 1.5, out.shape[-1], dtype=out.dtype)
        total = (out * weights).sum() + sum(0.1 * (v * v).sum() for v in final.values())
    total.backward()
    learned = [p.grad for p in neuron.parameters()]
    return out.detach(), x.grad, [state[k].grad for k in sorted(state)], learned, final


def _close(a: list, b: list, tolerance: float) -> None:
    for left, right in zip(a, b, strict=True):
        finite = left[left.isfinite()]
        scale = max(finite.abs().max().item() if finite.numel() else 1.0, 1.0)
        torch.testing.assert_close(
            left, right, rtol=tolerance, atol=tolerance * scale, equal_nan=True
        )


def assert_triton_matches_stepwise(
    calls: dict[str, int],
    name: str,
    reset: str,
    surrogate: str,
    dtype: torch.dtype,
    loss: str = "weighted",
    steps: int = 10,
    **params: object,
) -> None:
    """The interpreted Triton kernels ran and agree with the stepwise layer (asserts)."""
    spec = get_neuron_spec(name)
    fn = sc_neurocore.get_surrogate(surrogate)
    learn = spec.param_names[:2]
    x = _drive(name, dtype, seed=len(name) + len(surrogate), steps=steps)
    generator = torch.Generator().manual_seed(7)
    state = {s: (torch.randn(3, 4, generator=generator) * 0.2).to(dtype) for s in spec.states}
    options = dict(fused=False, learn=learn, reset=reset, **params)
    stepwise = Neuron(name, fn, **options).to(dtype)  # type: ignore[arg-type]
    fused = Neuron(name, fn, **{**options, "fused": True}).to(dtype)  # type: ignore[arg-type]
    with use_kernel("torch"):
        want = _run(stepwise, x, state, loss)
    got = _run(fused, x, state, loss)
    assert calls == {"forward": 1, "backward": 1}, "the generated Triton kernels did not run"
    if spec.spiking:
        assert torch.equal(want[0], got[0]), "spikes differ"
        assert want[0].any(), "the drive should make neurons spike"
    else:
        _close([want[0]], [got[0]], TOLERANCE[dtype])
    for index in range(1, 4):
        _close(list(want[index]), list(got[index]), TOLERANCE[dtype])
    _close(list(want[4].values()), list(got[4].values()), TOLERANCE[dtype])


@pytest.mark.parametrize(("name", "reset"), NEURON_RESETS)
def test_every_neuron_and_reset_matches_stepwise_in_float64(calls, name: str, reset: str):
    assert_triton_matches_stepwise(calls, name, reset, "fast_sigmoid", torch.float64)


@pytest.mark.parametrize("name", list_neurons())
def test_every_neuron_matches_stepwise_in_float32(calls, name: str):
    assert_triton_matches_stepwise(calls, name, "subtract", "atan", torch.float32)


@pytest.mark.parametrize("surrogate", list_surrogates())
def test_the_lif_runs_every_surrogate(calls, surrogate: str):
    if sc_neurocore.get_spec(surrogate).parsed_formula() is None:
        with pytest.raises(KernelUnavailableError, match="has no formula"):
            assert_triton_matches_stepwise(calls, "lif", "subtract", surrogate, torch.float32)
        return
    assert_triton_matches_stepwise(calls, "lif", "zero", surrogate, torch.float32, loss="sum")


@pytest.mark.parametrize("steps", [1, 2, 17])
def test_sequences_of_any_length_recompute_their_segments(calls, steps: int):
    """One step, a segment of one, and 17 steps (segments of 5, 5, 5, 2)."""
    assert_triton_matches_stepwise(calls, "alif", "subtract", "sigmoid", torch.float64, steps=steps)


def test_per_neuron_learned_parameters(calls):
    beta = torch.linspace(0.5, 0.95, 4, dtype=torch.float64)
    threshold = torch.linspace(0.8, 1.1, 4, dtype=torch.float64)
    assert_triton_matches_stepwise(
        calls, "alif", "subtract", "triangular", torch.float64, beta=beta, threshold=threshold
    )


def test_half_inputs_run_the_float32_kernels(calls):
    layer = Neuron("cuba_lif", fused=True, learn=("alpha",))
    x = _drive("cuba_lif", torch.float32, 3)
    want, _ = layer(x)
    got, _ = layer(x.to(torch.bfloat16))
    assert got.dtype == torch.bfloat16 and calls["forward"] == 2
    # bf16 rounds the input: at most a few spikes flip
    assert (got.float() != want).float().mean() < 0.1


def test_forcing_triton_where_it_cannot_run_names_the_reason(monkeypatch: pytest.MonkeyPatch):
    set_environment(monkeypatch, TRITON_INTERPRET=None)
    program = program_of(get_neuron_spec("lif"))
    spec = sc_neurocore.get_spec("atan")
    with use_kernel("triton"), pytest.raises(KernelUnavailableError, match="'lif'.*CUDA"):
        neuron_kernels(program, spec, torch.zeros(2, 3))
    no_formula = SurrogateSpec("opaque", (), lambda x: torch.ones_like(x), "no formula")
    set_environment(monkeypatch, TRITON_INTERPRET="1")
    with use_kernel("triton"), pytest.raises(KernelUnavailableError, match="no formula"):
        neuron_kernels(program, no_formula, torch.zeros(2, 3))
    with use_kernel(None):  # unforced, CPU tensors run the other families
        assert "triton" not in FAMILIES["cpu"] and FAMILIES["cuda"][0] == "triton"
        assert not isinstance(neuron_kernels(program, spec, torch.zeros(2, 3)), TritonNeuron)
