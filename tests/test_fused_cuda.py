"""The fused LIF (the generated ``lif`` operator) on its compiled Triton kernels on a real
CUDA GPU (skipped without one)."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.neuron_choice import neuron_kernels
from sc_neurocore.kernels.triton.compile_report import registers_against_report
from sc_neurocore.kernels.triton.neuron import TritonNeuron
from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.neurons.fused import LIF, fused_kernel
from sc_neurocore.neurons.neuron_op import builtin_neuron

from .conftest import no_host_sync

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def lif_kernels(spec: sc_neurocore.SurrogateSpec, x: torch.Tensor) -> object:
    """The kernels the LIF layer's generated operator runs on ``x`` with ``spec``."""
    return neuron_kernels(program_of(builtin_neuron("lif")), spec, x)


def _pair(name: str):
    options = dict(beta=0.85, threshold=0.9, surrogate_fn=sc_neurocore.get_surrogate(name))
    options.update(learn_beta=True, learn_threshold=True)
    fused, cell = LIF(**options).cuda(), LIFCell(**options).cuda()
    cell.load_state_dict(fused.state_dict())
    return fused, cell


def _grads(layer, x: torch.Tensor):
    x = x.detach().clone().requires_grad_(True)
    weights = torch.linspace(-1, 2, x.numel(), device="cuda").view_as(x)
    if isinstance(layer, LIFCell):
        v, spikes = None, []
        for current in x.unbind(0):
            spike, v = layer(current, v)
            spikes.append(spike)
        out = torch.stack(spikes), v
        loss = (out[0] * weights).sum()
        return out, torch.autograd.grad(loss + out[1].sum(), [x, *layer.parameters()])
    with no_host_sync():  # the fused layer's forward and backward never wait for the GPU
        out = layer(x)
        loss = (out[0] * weights).sum()
        return out, torch.autograd.grad(loss + out[1].sum(), [x, *layer.parameters()])


@pytest.mark.parametrize("name", sc_neurocore.list_surrogates())
def test_cuda_runs_triton_and_matches_lifcell_in_float32(name: str) -> None:
    assert fused_kernel(name, "cuda")[0] == "triton"
    x = torch.randn(16, 8, 300, device="cuda") * 0.8 + 0.3
    assert isinstance(lif_kernels(sc_neurocore.get_spec(name), x), TritonNeuron)
    fused, cell = _pair(name)
    (spikes, v), grads = _grads(fused, x)
    (spikes_ref, v_ref), grads_ref = _grads(cell, x)
    assert torch.equal(spikes, spikes_ref) and bool(spikes.any())
    torch.testing.assert_close(v, v_ref)
    for mine, reference in zip(grads, grads_ref):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)


def test_one_compiled_kernel_serves_every_sequence_length() -> None:
    layer = LIF().cuda()
    kernels = lif_kernels(sc_neurocore.get_spec("atan"), torch.zeros(1, 1, device="cuda"))
    assert isinstance(kernels, TritonNeuron)
    for steps in (3, 7, 40):
        x = torch.randn(steps, 4, 64, device="cuda", requires_grad=True)
        with no_host_sync():
            layer(x)[0].sum().backward()
    # Neither the steps nor the backward's segment is a compile-time constant.
    assert _compiled_variants(kernels.module.forward) == 1
    assert _compiled_variants(kernels.module.backward) == 1


def _compiled_variants(kernel) -> int:
    """How many binaries Triton compiled for ``kernel`` (its per-device caches)."""
    caches = getattr(kernel, "device_caches", None)
    if caches is not None:  # triton >= 3.0: device -> (kernel cache, ...)
        return sum(len(entry[0]) for entry in caches.values())
    return sum(len(cache) for cache in kernel.cache.values())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_inputs_on_cuda_compute_in_float32(dtype: torch.dtype) -> None:
    x = torch.randn(12, 4, 128, device="cuda") * 0.8 + 0.3
    spikes, _ = LIF().cuda()(x.to(dtype))
    expected, _ = LIF().cuda()(x.to(dtype).float())
    assert spikes.dtype == dtype and torch.equal(spikes.float(), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64], ids=str)
def test_the_registers_on_this_gpu_are_the_ahead_of_time_reports(dtype: torch.dtype) -> None:
    """What the driver loaded (registers, spills) equals what ``kernels --compile`` reports
    for the same binding and this GPU's target: the CI report describes the real binaries."""
    layer = LIF(learn_beta=True, learn_threshold=True).cuda().to(dtype)
    x = torch.randn(20, 4, 256, device="cuda", dtype=dtype, requires_grad=True)
    with no_host_sync():
        layer(x)[0].sum().backward()
    kernels = lif_kernels(sc_neurocore.get_spec("atan"), x.detach())
    assert isinstance(kernels, TritonNeuron)
    rows = registers_against_report([kernels.module.forward, kernels.module.backward])
    assert len(rows) >= 2 and all(row["agree"] for row in rows), rows
    assert all(row["spills"] == 0 for row in rows), rows
