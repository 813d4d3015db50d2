"""Triton's CPU interpreter must round ``tl.fma`` once for the fused kernels to run there.

The fused neurons integrate with ``tl.fma`` so that they are bit-identical to the cells;
triton < 3.9's interpreter computes it as a multiply and an add.  The probe in
:mod:`sc_neurocore.kernels.triton.launch` tells the two apart, and an inexact interpreter
refuses the fused kernels with its reason instead of returning other bits.
"""

from __future__ import annotations

import re

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.errors import KernelUnavailableError
from sc_neurocore.kernels.fused_choice import leaky_kernels, lif_kernels
from sc_neurocore.kernels.triton import launch
from sc_neurocore.kernels.triton import lif as triton_lif_module
from sc_neurocore.kernels.triton.leaky import triton_leaky_status

from .ci_skips import must_run_in_ci

triton = pytest.importorskip("triton", reason="triton is not installed (the dev extra has it)")


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


def test_the_probe_finds_one_rounding_exactly_where_the_interpreter_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    problem = launch.interpreter_fma_problem()
    if _release(triton.__version__) >= (3, 9):  # its interpreter rounds fma once
        assert problem is None
        assert launch.device_status("cpu") is None
    else:
        assert problem is not None and "rounds tl.fma twice" in problem
        assert triton.__version__ in problem and "triton>=3.9" in problem
        assert must_run_in_ci(problem) is not None  # CI has triton 3.9: there it is a failure


def test_an_interpreter_that_rounds_twice_refuses_the_fused_kernels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reason = "this interpreter rounds tl.fma twice"
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setattr(launch, "interpreter_fma_problem", lambda: reason)
    monkeypatch.setattr(triton_lif_module, "_chosen", {})  # no choice kept from other tests
    x, spec = torch.randn(4, 2, 3, dtype=torch.float64), sc_neurocore.get_spec("atan")
    assert triton_leaky_status("cpu") == reason
    monkeypatch.setenv("SC_NEUROCORE_KERNEL", "triton")
    with pytest.raises(KernelUnavailableError, match=reason):
        lif_kernels(spec, x)
    with pytest.raises(KernelUnavailableError, match=reason):
        leaky_kernels(x)
    monkeypatch.delenv("SC_NEUROCORE_KERNEL")  # unforced: the CPU kernels run instead
    assert not isinstance(lif_kernels(spec, x), triton_lif_module.TritonLIF)
