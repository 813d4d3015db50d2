"""Which triton the kernels accept: the extra's lower bound, and an interpreter that rounds
``tl.fma`` once for the fused kernels.

The fused neurons integrate with ``tl.fma`` so that they are bit-identical to the cells;
triton < 3.9's interpreter computes it as a multiply and an add.  The probe in
:mod:`sc_neurocore.kernels.triton.launch` tells the two apart, and an inexact interpreter
refuses the fused kernels with its reason instead of returning other bits.  A triton older
than the ``triton`` extra allows counts as missing, with its version in the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.errors import KernelUnavailableError
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.choice import triton_reason
from sc_neurocore.kernels.neuron_choice import neuron_kernels
from sc_neurocore.kernels.triton import launch
from sc_neurocore.kernels.triton.neuron import TritonNeuron
from sc_neurocore.neurons.neuron_op import builtin_neuron

from .ci_skips import must_run_in_ci
from .conftest import set_environment

triton = pytest.importorskip("triton", reason="triton is not installed (the dev extra has it)")


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def usable_triton() -> None:
    """Skip (a failure under CI=true) where the installed triton is older than the extra allows."""
    missing = launch.triton_missing()
    if missing:
        pytest.skip(missing)


def test_the_probe_finds_one_rounding_exactly_where_the_interpreter_has_it(
    monkeypatch: pytest.MonkeyPatch, usable_triton: None
) -> None:
    set_environment(monkeypatch, TRITON_INTERPRET="1")
    problem = launch.interpreter_fma_problem()
    if launch.release(triton.__version__) >= (3, 9):  # its interpreter rounds fma once
        assert problem is None
        assert launch.device_status("cpu") is None
    else:
        assert problem is not None and "rounds tl.fma twice" in problem
        assert triton.__version__ in problem and "triton>=3.9" in problem
        assert must_run_in_ci(problem) is not None  # CI has triton 3.9: there it is a failure


def test_an_interpreter_that_rounds_twice_refuses_the_fused_kernels(
    monkeypatch: pytest.MonkeyPatch, usable_triton: None
) -> None:
    reason = "this interpreter rounds tl.fma twice"
    set_environment(monkeypatch, TRITON_INTERPRET="1")
    monkeypatch.setattr(launch, "interpreter_fma_problem", lambda: reason)
    x, spec = torch.randn(4, 2, 3, dtype=torch.float64), sc_neurocore.get_spec("atan")
    lif, li = program_of(builtin_neuron("lif")), program_of(builtin_neuron("li"))
    set_environment(monkeypatch, SC_NEUROCORE_KERNEL="triton")
    with pytest.raises(KernelUnavailableError, match=reason):
        neuron_kernels(lif, spec, x)
    with pytest.raises(KernelUnavailableError, match=reason):
        neuron_kernels(li, None, x)
    set_environment(monkeypatch, SC_NEUROCORE_KERNEL=None)  # unforced: the CPU kernels run instead
    assert not isinstance(neuron_kernels(lif, spec, x), TritonNeuron)


def test_versions_are_read_by_their_leading_numbers() -> None:
    assert launch.release("3.8.0") == (3, 8, 0)
    assert launch.release("3.10.0rc1") == (3, 10, 0)
    assert launch.release("3.4.0+git1a2b3c") == (3, 4, 0)
    assert launch.release("3.9") > launch.release("3.8.1") > launch.release("3.8")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_the_oldest_triton_is_the_lower_bound_of_the_triton_extra() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]
    found = {r for name in ("triton", "dev") for r in extras[name] if r.startswith("triton")}
    oldest = ".".join(map(str, launch.OLDEST_TRITON))
    assert found == {f"triton>={oldest}; platform_system == 'Linux'"}


def test_a_triton_older_than_the_extra_allows_counts_as_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_environment(monkeypatch, TRITON_INTERPRET="1")
    monkeypatch.setattr(triton, "__version__", "3.1.0")  # what torch 2.5 pins
    reason = launch.triton_missing()
    assert reason is not None and reason.startswith("triton 3.1.0 is older than")
    oldest = ".".join(map(str, launch.OLDEST_TRITON))
    assert f"triton>={oldest}" in reason
    assert launch.device_status("cpu") == reason
    assert triton_reason(sc_neurocore.get_spec("atan"), "cpu") == reason
    assert must_run_in_ci(reason) is not None  # CI installs a triton the extra allows
