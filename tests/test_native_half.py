"""The compiled fused kernels on bfloat16 and float16: computed in float32, stored rounded.

The kernels' own conversions equal torch's bit for bit (every 16-bit pattern loaded, two
million floats of every magnitude stored); the fused LIF and leaky integrator on a half
input equal their cell stepped in float32 on the upcast input, rounded once at the end; the
gradients equal the float32 run's to the rounding of their storage; the kernel listing
says which input dtypes the compiled kernels take.  The kernels are those of the neuron
operators generated from the built-in specs (``lif``, ``li``) that the layers run.
"""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.neuron_spec import RESET_MODES
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.native.neuron import NativeNeuron, native_neuron
from sc_neurocore.kernels.neuron_choice import neuron_kernels
from sc_neurocore.kernels.selector import SELECTOR
from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
from sc_neurocore.neurons.neuron_op import builtin_neuron

HALF = [torch.bfloat16, torch.float16]


def _kernels(dtype: torch.dtype) -> NativeNeuron:
    program = program_of(builtin_neuron("lif"))
    found = native_neuron(program, sc_neurocore.get_spec("atan"), (False, False), dtype)
    assert not isinstance(found, str), f"the compiled kernels must build here (CI has cc): {found}"
    return found


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_the_kernels_convert_exactly_as_torch(dtype: torch.dtype) -> None:
    every = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(dtype)
    stored, loaded = _kernels(dtype).convert(every.float())
    numbers = ~every.isnan()
    assert torch.equal(loaded[numbers], every.float()[numbers])
    assert torch.equal(stored.view(torch.int16)[numbers], every.view(torch.int16)[numbers])
    assert bool(loaded[~numbers].isnan().all())
    generator = torch.Generator().manual_seed(0)
    magnitudes = torch.exp(torch.randn(2_000_000, generator=generator) * 12)
    values = torch.randn(2_000_000, generator=generator).sign() * magnitudes
    edges = [65504.0, 65519.99, 65520.0, 2.0**-24, 2.0**-25, 6.1e-5, float("inf"), -0.0]
    values = torch.cat((values, torch.tensor(edges)))
    stored, _ = _kernels(dtype).convert(values)
    assert torch.equal(stored.view(torch.int16), values.to(dtype).view(torch.int16))


def _stepped_lif(x: torch.Tensor, reset: str) -> tuple[torch.Tensor, torch.Tensor]:
    cell = LIFCell(beta=0.85, threshold=0.9, reset=reset, v_reset=-0.1, learn_beta=True)
    v, spikes = None, []
    for step in x.unbind(0):
        spike, v = cell(step, v)
        spikes.append(spike)
    assert v is not None
    return torch.stack(spikes), v


@pytest.mark.parametrize("reset", RESET_MODES)
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_the_fused_lif_on_half_input_computes_in_float32(dtype: torch.dtype, reset: str) -> None:
    generator = torch.Generator().manual_seed(1)
    x = (torch.randn(24, 3, 70, generator=generator) * 0.7 + 0.3).to(dtype).requires_grad_()
    program = program_of(builtin_neuron("lif", reset))
    assert neuron_kernels(program, sc_neurocore.get_spec("atan"), x).family == "native"
    layer = LIF(beta=0.85, threshold=0.9, reset=reset, v_reset=-0.1, learn_beta=True)
    spikes, v = layer(x)
    reference = x.detach().float().requires_grad_()
    want_spikes, want_v = _stepped_lif(reference, reset)
    assert spikes.dtype == dtype and v.dtype == dtype
    assert torch.equal(spikes.float(), want_spikes) and torch.equal(v, want_v.to(dtype))
    weights = torch.linspace(-1.0, 1.0, spikes.numel()).view(spikes.shape)
    ((spikes.float() * weights).sum() + v.float().pow(2).sum()).backward()
    ((want_spikes * weights).sum() + want_v.to(dtype).float().pow(2).sum()).backward()
    assert x.grad is not None and x.grad.dtype == dtype
    # the gradient is stored in the input dtype: rounded once per element
    torch.testing.assert_close(x.grad.float(), reference.grad, rtol=2**-7, atol=2**-7)


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_the_fused_leaky_integrator_carries_in_float32(dtype: torch.dtype) -> None:
    x = torch.randn(30, 4, 50, generator=torch.Generator().manual_seed(2)).to(dtype)
    assert neuron_kernels(program_of(builtin_neuron("li")), None, x).family == "native"
    y = LeakyIntegrator(0.8)(x)
    cell, state, want = LeakyIntegratorCell(0.8), None, []
    for step in x.float().unbind(0):
        state = cell(step, state)
        want.append(state)
    assert y.dtype == dtype and torch.equal(y, torch.stack(want).to(dtype))


def test_the_kernel_listing_names_the_input_dtypes() -> None:
    spec = sc_neurocore.get_spec("atan")  # one surrogate: every other one builds its own C
    layers = {f"sc_neurocore_neuron::{name}" for name in ("lif", "li", "cuba_lif")}
    rows = [row for row in SELECTOR.listing([spec]) if row.op in layers]
    cpu = [row for row in rows if row.device == "cpu"]
    assert {row.op for row in cpu} == layers
    assert all(row.kernel == "native" for row in cpu)
    assert all(row.dtypes == "float32, float64, bfloat16, float16" for row in cpu)
