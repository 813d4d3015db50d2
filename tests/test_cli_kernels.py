"""``sc-neurocore kernels`` and the kernel rows of ``explain``: every operator, every device."""

from __future__ import annotations

import dataclasses
import json

import pytest

import sc_neurocore
from sc_neurocore.cli import main
from sc_neurocore.kernels import selector as report
from sc_neurocore.kernels.choice import KERNEL_FAMILIES, use_kernel
from sc_neurocore.paths import custom_op

KEYS = {"op", "surrogate", "device", "kernel", "reason"}


def _json_rows(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    assert main(["kernels", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_every_surrogate_operator_is_listed_per_device(capsys) -> None:
    rows = _json_rows(capsys)
    assert all(set(row) >= KEYS for row in rows)
    for surrogate in sc_neurocore.list_surrogates():
        mine = {
            row["device"]: row
            for row in rows
            if row["surrogate"] == surrogate and row["op"] == f"sc_neurocore::{surrogate}"
        }
        assert set(mine) == set(report.DEVICE_KINDS), surrogate
        for row in mine.values():
            assert row["kernel"] in KERNEL_FAMILIES, row
            # the torch kernels are never the fast choice: a torch row must say why
            assert row["kernel"] != "torch" or row["reason"], row
    fused = [row for row in rows if row["op"] == "sc_neurocore_neuron::lif"]  # the LIF layer's
    assert {row["surrogate"] for row in fused} == set(sc_neurocore.list_surrogates())


def test_device_filter_and_table(capsys) -> None:
    rows = _json_rows(capsys, "--device", "cuda")
    assert rows and {row["device"] for row in rows} == {"cuda"}
    assert main(["kernels"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["OP", "SURROGATE", "DEVICE", "KERNEL"]
    assert "sc_neurocore::atan" in table


def test_forced_family_is_visible(capsys) -> None:
    with use_kernel("torch"):
        rows = _json_rows(capsys)
    mine = [row for row in rows if row["op"].startswith("sc_neurocore::")]
    assert mine and all(row["kernel"] == "torch" for row in mine)
    assert all("SC_NEUROCORE_KERNEL=torch" in row["reason"] for row in mine)


def test_a_grad_only_spec_says_it_runs_the_torch_kernels() -> None:
    plain = dataclasses.replace(
        sc_neurocore.get_spec("atan"), name="atan_plain", formula=None, c_grad=None
    )
    rows = {row.device: row for row in custom_op.kernel_rows([plain])}
    assert rows["cpu"].kernel == "torch" and "neither a formula nor a c_grad" in rows["cpu"].reason
    assert rows["cuda"].kernel == "torch" and rows["cuda"].reason


def test_explain_shows_the_kernels(capsys) -> None:
    explanation = sc_neurocore.explain("sigmoid", "custom_op")
    devices = {row["device"]: row for row in explanation.kernels}
    assert set(devices) == set(report.DEVICE_KINDS)
    assert sc_neurocore.explain("sigmoid", "legacy_autograd").kernels == ()
    assert main(["explain", "sigmoid"]) == 0
    assert "kernel on cpu:" in capsys.readouterr().out


def test_a_broken_provider_shows_as_an_error_row() -> None:
    def broken(specs):
        raise RuntimeError("boom")

    kind = dataclasses.replace(report.SELECTOR.kinds["neuron"], name="broken", subjects=broken)
    report.SELECTOR.register(kind)
    try:
        rows = report.SELECTOR.listing([sc_neurocore.get_spec("atan")])
    finally:
        del report.SELECTOR.kinds["broken"]
    assert any(row.kernel == "error" and "boom" in row.reason for row in rows)
    assert any(row.op == "sc_neurocore::atan" for row in rows)
