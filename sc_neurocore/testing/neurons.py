"""Fused against stepwise for a neuron spec: the one parity check that sc-neurocore's own
test suite and the conformance kit (``sc-neurocore check``) both run.

:func:`check_fused_equals_stepwise` runs a neuron twice on the same input and initial
states, once as the stepwise baseline (torch ops and autograd) and once through its fused
operator, and compares the spikes (identical), the final states and the gradients of the
input, the initial states and the learnable params (within float tolerance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..core.neuron_spec import RESET_MODES, NeuronSpec
from ..core.registry import get_neuron_spec, get_surrogate, list_neurons, list_surrogates, table
from ..core.settings import normalize_distribution
from ..neurons.neuron import Neuron
from .pairs import checked_names

__all__ = [
    "NEURON_DTYPES",
    "NeuronCase",
    "NeuronRun",
    "assert_close_scaled",
    "check_fused_equals_stepwise",
    "neuron_drive",
    "resets_of",
    "run_with_gradients",
    "select_neuron_cases",
]

#: The dtypes the parity is checked in: spikes must be identical in both.
NEURON_DTYPES: tuple[torch.dtype, ...] = (torch.float64, torch.float32)
#: Relative tolerance of states and gradients per dtype (relative to the largest |value|).
TOLERANCE = {torch.float64: 1e-9, torch.float32: 2e-4}
#: Input scales tried in turn until the stepwise neuron spikes (a neuron in mV needs more).
DRIVE_SCALES = (1.0, 12.0, 100.0)
STEPS, BATCH, WIDTH = 12, 3, 4


@dataclass(frozen=True)
class NeuronCase:
    """One neuron, with one reset, under one surrogate; where the neuron came from."""

    neuron: str
    reset: str
    surrogate: str
    distribution: str

    @property
    def id(self) -> str:
        return f"{self.neuron}-{self.reset}@{self.surrogate}"


@dataclass(frozen=True)
class NeuronRun:
    """What one forward and backward of a layer produced."""

    out: Tensor
    grad_x: Tensor
    grad_states: list[Tensor]
    grad_params: list[Tensor]
    final: dict[str, Tensor]


def resets_of(spec: NeuronSpec) -> tuple[str, ...]:
    """The reset modes a neuron has: all of them for a spiking one, none to replace else."""
    return RESET_MODES if spec.spiking else ("subtract",)


def _spec(neuron: str | NeuronSpec) -> NeuronSpec:
    return neuron if isinstance(neuron, NeuronSpec) else get_neuron_spec(neuron)


def select_neuron_cases(
    neurons: Iterable[str] = (),
    surrogates: Iterable[str] = (),
    distributions: Iterable[str] = (),
) -> list[NeuronCase]:
    """Every registered neuron x reset x surrogate, narrowed by names and by the
    distribution that provides the neuron (empty filters select everything)."""
    current = table()
    wanted = set(checked_names("neuron", neurons, list_neurons()))
    chosen_surrogates = set(checked_names("surrogate", surrogates, list_surrogates()))
    dists = {normalize_distribution(d) for d in distributions}
    cases = []
    for name in list_neurons():
        distribution = current.neurons[name].record.distribution
        if wanted and name not in wanted:
            continue
        if dists and normalize_distribution(distribution) not in dists:
            continue
        for reset in resets_of(get_neuron_spec(name)):
            for surrogate in list_surrogates():
                if not chosen_surrogates or surrogate in chosen_surrogates:
                    cases.append(NeuronCase(name, reset, surrogate, distribution))
    return cases


def _raw_drive(dtype: torch.dtype, seed: int, device: str) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(STEPS, BATCH, WIDTH, generator=generator, dtype=dtype) * 0.8 + 0.35
    return x.to(device)


def neuron_drive(
    neuron: str | NeuronSpec, dtype: torch.dtype, seed: int, device: str = "cpu"
) -> Tensor:
    """A random input ``(12, 3, 4)`` around 0.35, scaled up until the neuron (with its
    default params, starting at rest) spikes: parity of silent neurons proves little."""
    spec = _spec(neuron)
    x = _raw_drive(dtype, seed, device)
    if not spec.spiking:
        return x
    for scale in DRIVE_SCALES:
        with torch.no_grad():
            spikes, _ = Neuron(spec, fused=False).to(device)(x * scale)
        if spikes.any():
            return x * scale
    return x * DRIVE_SCALES[-1]


def run_with_gradients(neuron: Neuron, x: Tensor, state: Mapping[str, Tensor]) -> NeuronRun:
    """Forward, then backward of a loss on the output and on every final state."""
    x = x.clone().requires_grad_()
    leaves = {k: v.clone().requires_grad_() for k, v in state.items()}
    out, final = neuron(x, state=leaves)
    weights = torch.linspace(0.5, 1.5, out.shape[-1], dtype=out.dtype, device=out.device)
    loss = (out * weights).sum() + sum(0.1 * (v * v).sum() for v in final.values())
    loss.backward()
    assert x.grad is not None
    return NeuronRun(
        out.detach(),
        x.grad,
        [leaves[k].grad for k in sorted(leaves)],  # type: ignore[misc]
        [p.grad for p in neuron.parameters()],  # type: ignore[misc]
        {k: v.detach() for k, v in final.items()},
    )


def assert_close_scaled(
    expected: Sequence[Tensor | None],
    got: Sequence[Tensor | None],
    tolerance: float,
    what: str = "",
) -> None:
    """Each pair equal within ``tolerance`` relative to the larger of 1 and the largest
    finite |expected| (gradients through a reset can be large next to small ones)."""
    assert len(expected) == len(got), f"{what}: {len(expected)} tensors vs {len(got)}"
    for index, (left, right) in enumerate(zip(expected, got)):
        assert (left is None) == (right is None), f"{what}[{index}]: one side has no gradient"
        if left is None or right is None:
            continue
        finite = left[left.isfinite()]
        scale = max(finite.abs().max().item() if finite.numel() else 1.0, 1.0)
        label = f"{what}[{index}]"

        def message(detail: str, label: str = label) -> str:
            return f"{label}: {detail}"

        torch.testing.assert_close(
            right, left, rtol=tolerance, atol=tolerance * scale, equal_nan=True, msg=message
        )


def check_fused_equals_stepwise(
    neuron: str | NeuronSpec,
    surrogate: str,
    reset: str = "subtract",
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
) -> None:
    """The fused operator against the stepwise baseline; raises AssertionError saying what
    differed.  The first two params are learned; every state starts at a random value."""
    spec = _spec(neuron)
    where = f"neuron {spec.name!r} reset={reset} surrogate={surrogate} {dtype}"
    fn = get_surrogate(surrogate)
    learn = spec.param_names[:2]
    x = neuron_drive(spec, dtype, len(spec.name) + len(surrogate), device)
    generator = torch.Generator().manual_seed(7)
    state = {
        s: (torch.randn(BATCH, WIDTH, generator=generator, dtype=dtype) * 0.2).to(device)
        for s in spec.states
    }
    stepwise = Neuron(spec, fn, fused=False, learn=learn, reset=reset).to(device, dtype)
    fused = Neuron(spec, fn, fused=True, learn=learn, reset=reset).to(device, dtype)
    assert fused.runs[0] == "fused", f"{where}: fused=True runs {fused.runs}"
    assert stepwise.runs[0] == "stepwise", f"{where}: fused=False runs {stepwise.runs}"
    a, b = run_with_gradients(stepwise, x, state), run_with_gradients(fused, x, state)
    tolerance = TOLERANCE[dtype]
    if spec.spiking:
        differ = (a.out != b.out).nonzero()
        assert not len(differ), (
            f"{where}: fused spikes differ from stepwise at {len(differ)} places, "
            f"first at (t, batch, neuron) = {differ[0].tolist()}"
        )
        assert a.out.any(), f"{where}: the drive made no neuron spike"
    else:
        assert_close_scaled([a.out], [b.out], tolerance, f"{where}: output")
    assert_close_scaled([a.grad_x], [b.grad_x], tolerance, f"{where}: input gradient")
    assert_close_scaled(a.grad_states, b.grad_states, tolerance, f"{where}: initial-state grads")
    assert_close_scaled(a.grad_params, b.grad_params, tolerance, f"{where}: learned-param grads")
    assert_close_scaled(
        list(a.final.values()), list(b.final.values()), tolerance, f"{where}: final states"
    )
