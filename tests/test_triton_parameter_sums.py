"""The Triton backward sums the gradients of learnable ``beta`` and ``threshold`` over time in
fp64, as the torch kernels do (``ParameterSums``), whatever the input dtype.

Summed in fp32 over a long sequence, each addition rounds to the running total's ulp, which
grows with T; the per-step terms themselves are (nearly all) the same bits in both kernel
families, so fp64 sums agree to a few last bits and fp32 ones, ten times further off, do not.
"""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.kernels.fused_choice import lif_kernels
from sc_neurocore.kernels.torch.lif import ParameterSums, lif_backward, lif_forward
from sc_neurocore.kernels.triton.lif import TritonLIF

from .conftest import interpret_triton

STEPS, NEURONS = 256, 16


def test_parameter_sums_over_a_long_sequence_match_the_fp64_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reset = "subtract"  # its dL/dthreshold has both terms
    interpret_triton(monkeypatch)
    spec = sc_neurocore.get_spec("fast_sigmoid")
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(STEPS, 1, NEURONS, generator=generator) * 0.5 + 0.1
    grad_spikes = torch.rand(x.shape, generator=generator) + 0.5  # one sign: the sums grow
    grad_v = torch.zeros(1, NEURONS)
    beta = torch.linspace(0.6, 0.9, NEURONS)
    threshold = torch.linspace(0.8, 1.2, NEURONS)
    kernels = lif_kernels(spec, x, reset)
    assert isinstance(kernels, TritonLIF)
    spikes, _ = lif_forward(x, None, beta, threshold, reset)
    assert 0 < int(spikes.sum()) < spikes.numel()
    sums = ParameterSums(x[0])
    kernels.backward(grad_spikes, grad_v, x, None, beta, threshold, [1.0], torch.empty_like(x),
                     (sums.beta, sums.threshold))  # fmt: skip
    expected = ParameterSums(x[0])
    lif_backward(spec, {"slope": 1.0}, grad_spikes, grad_v, x, spikes, None, beta, threshold,
                 expected, reset)  # fmt: skip
    # Measured: fp32 running sums are off by 3e-7 (beta) and 5e-7 (threshold) of the total
    # here, fp64 ones by 1e-8 and 2e-8 (a few per-step terms differ in their last bit)
    torch.testing.assert_close(sums.beta, expected.beta, rtol=5e-8, atol=0)
    torch.testing.assert_close(sums.threshold, expected.threshold, rtol=5e-8, atol=0)
