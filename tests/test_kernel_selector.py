"""The kernel listing is what the calls run: one selector decides both.

For every operator kind the selector holds, every device kind (CUDA through a stand-in for
the selector's one CUDA probe) and every forced setting, the listing's row equals the
decision a call gets; on CPU the real operators run (or refuse) as listed; and no call
reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

import sc_neurocore
from sc_neurocore.cli.kernels import kernel_report
from sc_neurocore.core.errors import KernelUnavailableError
from sc_neurocore.core.settings import KERNEL_SWITCH, use_kernel
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels import choice, neuron_choice
from sc_neurocore.kernels.selector import DEVICE_KINDS, SELECTOR, Decision
from sc_neurocore.neurons import Neuron
from sc_neurocore.neurons.fused import LIF, fused_kernel
from sc_neurocore.neurons.integrator import LeakyIntegrator
from sc_neurocore.neurons.neuron_op import builtin_neuron

FORCED = (None, "torch", "native", "triton")


class StandIn:
    """What a chooser reads of a tensor, for a device this machine may not have."""

    def __init__(self, device: str, dtype: torch.dtype = torch.float32) -> None:
        self.dtype, self.device = dtype, torch.device(device)
        self.is_cpu, self.is_cuda = device == "cpu", device == "cuda"


@pytest.fixture(params=DEVICE_KINDS)
def device_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``cpu`` as this session has it; ``cuda`` as on a machine with a GPU and no interpreter
    (Triton's own switch is left alone: only the selector's view changes)."""
    if request.param == "cuda":
        monkeypatch.setattr(SELECTOR, "cuda_available", lambda: True)
        monkeypatch.setattr(KERNEL_SWITCH, "interpret", False)
        SELECTOR.forget()
    return str(request.param)


def _specs() -> list[Any]:
    return [sc_neurocore.get_spec(name) for name in sc_neurocore.list_surrogates()]


def _why(decision: Decision) -> str:
    return decision.reason.split(": ", 1)[1]


@pytest.mark.parametrize("forced", FORCED)
@pytest.mark.parametrize("kind_name", sorted(SELECTOR.kinds))
def test_every_listed_row_is_what_a_call_decides(
    kind_name: str, device_kind: str, forced: str | None
) -> None:
    kind = SELECTOR.kinds[kind_name]
    with use_kernel(forced):
        rows = SELECTOR.rows(kind, _specs(), [device_kind])
        report = [r for r in kernel_report(device_kind) if r["op"] in {row.op for row in rows}]
        assert report == [row.as_dict() for row in rows]  # sc-neurocore kernels
        for subject, row in zip(kind.subjects(_specs()), rows, strict=True):
            chooser = SELECTOR.chooser(kind, subject)
            decision = chooser.decision(StandIn(device_kind))  # type: ignore[arg-type]
            assert (row.kernel, row.reason) == (decision.family, decision.reason), row
            assert row.kernel in ((forced, "error") if forced else ("triton", "native", "torch"))
            if row.kernel == "error":
                with pytest.raises(KernelUnavailableError) as refused:
                    chooser.kernels(StandIn(device_kind))  # type: ignore[arg-type]
                assert str(refused.value).endswith(_why(decision)), refused.value
                assert f"SC_NEUROCORE_KERNEL={forced}" in str(refused.value)


@pytest.mark.parametrize("forced", FORCED)
def test_the_user_facing_answers_are_the_listing(device_kind: str, forced: str | None) -> None:
    spec = sc_neurocore.get_spec("atan")
    with use_kernel(forced):
        rows = {(row.op, row.surrogate): row for row in SELECTOR.listing([spec], [device_kind])}
        lif = rows[("sc_neurocore_neuron::lif", "atan")]  # the LIF layer's operator
        assert fused_kernel("atan", device_kind) == (lif.kernel, lif.reason)
        leaky = rows[("sc_neurocore_neuron::li", "")]  # LeakyIntegrator's
        li = program_of(builtin_neuron("li"))
        assert neuron_choice.neuron_choice(li, None, device_kind) == (leaky.kernel, leaky.reason)
        element = rows[("sc_neurocore::atan", "atan")]
        explained = {r["device"]: r for r in sc_neurocore.explain("atan", "custom_op").kernels}
        assert explained[device_kind] == element.as_dict()
        assert choice.ElementwiseDispatch(spec).choice(device_kind) == (
            element.kernel,
            element.reason,
        )


def _elementwise(x: torch.Tensor) -> torch.Tensor:
    return sc_neurocore.get_surrogate("atan", "custom_op")(x)


def _lif(x: torch.Tensor) -> torch.Tensor:
    return LIF(surrogate_fn=sc_neurocore.get_surrogate("atan"))(x)[0]


def _leaky(x: torch.Tensor) -> torch.Tensor:
    return LeakyIntegrator()(x)


def _neuron(x: torch.Tensor) -> torch.Tensor:
    return Neuron("lif", sc_neurocore.get_surrogate("atan"), fused=True)(x)[0]


#: call -> (the selector's kind, the operator it runs, the call)
CALLS: dict[str, tuple[str, str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "elementwise": ("elementwise", "sc_neurocore::atan", _elementwise),
    "LIF": ("neuron", "sc_neurocore_neuron::lif", _lif),
    "LeakyIntegrator": ("neuron", "sc_neurocore_neuron::li", _leaky),
    "Neuron": ("neuron", "sc_neurocore_neuron::lif", _neuron),
}


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, Decision]]]:
    """Every decision the selector makes while the test runs: (kind name, decision)."""
    made: list[tuple[str, Decision]] = []
    decide = SELECTOR.decide

    def recording(kind: Any, subject: Any, device: str, dtype: torch.dtype) -> Decision:
        found = decide(kind, subject, device, dtype)
        made.append((kind.name, found))
        return found

    monkeypatch.setattr(SELECTOR, "decide", recording)
    SELECTOR.forget()
    yield made


@pytest.mark.parametrize("forced", FORCED)
@pytest.mark.parametrize("call_name", sorted(CALLS))
def test_a_real_call_runs_what_the_listing_says(
    call_name: str, forced: str | None, decisions: list[tuple[str, Decision]]
) -> None:
    kind_name, op, call = CALLS[call_name]
    x = (torch.randn(3, 2, 4, dtype=torch.float32) + 0.5).requires_grad_(True)
    with use_kernel(forced):
        listed = SELECTOR.listing([sc_neurocore.get_spec("atan")], ["cpu"])
        (row,) = [r for r in listed if r.op == op]
        decisions.clear()
        if row.kernel == "error":
            with pytest.raises(KernelUnavailableError) as refused:
                call(x).sum().backward()
            assert row.reason.split(": ", 1)[1] in str(refused.value)
        else:
            call(x).sum().backward()
    ran = {found.family for name, found in decisions if name == kind_name}
    assert ran == {row.kernel}, (row, decisions)


def test_no_call_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    x = (torch.randn(3, 2, 4) + 0.5).requires_grad_(True)
    for _, _, call in CALLS.values():  # warm-up: decisions made, kernels built
        call(x).sum().backward()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the environment was read on a call's path: {args}")

    monkeypatch.setattr(os, "getenv", refuse)
    monkeypatch.setattr(os.environ, "get", refuse)
    monkeypatch.setattr(type(os.environ), "__getitem__", refuse)
    for _, _, call in CALLS.values():
        call(x).sum().backward()
    monkeypatch.undo()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_the_switch_is_read_once_and_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SC_NEUROCORE_KERNEL", "torch")  # not read: the switch was read at import
    assert sc_neurocore.get_surrogate("atan", "custom_op") is not None
    assert choice.requested_kernel() is None
    KERNEL_SWITCH.read_environment()
    assert choice.requested_kernel() == "torch"
    rows = SELECTOR.listing([sc_neurocore.get_spec("atan")], ["cpu"])
    assert {row.kernel for row in rows} == {"torch"}
