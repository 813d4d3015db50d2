"""ONNX for inference: ``torch.onnx.export(..., dynamo=True)`` of the project's modules,
run by onnxruntime, gives the module's spikes (membranes to float rounding).

Exports are slow, so one module covers every registered surrogate's operator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sc_neurocore
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons.base import RESET_MODES
from sc_neurocore.neurons.cells import IFCell, LIFCell, SynapticCell
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.recurrent import RecurrentLIFCell

from .optional import require  # noqa: E402

ort = require("onnxruntime")
require("onnxscript")
SURROGATES = sc_neurocore.list_surrogates()


class EverySurrogate(torch.nn.Module):
    """Each registered surrogate's operator (custom_op path) applied to the input."""

    def __init__(self) -> None:
        super().__init__()
        self.surrogates = [sc_neurocore.get_surrogate(name, "custom_op") for name in SURROGATES]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([surrogate(x - 0.1) for surrogate in self.surrogates])


class SteppedCells(torch.nn.Module):
    """Cells stepped in a Python loop over time (every reset mode), as a user writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(6, 5)
        self.lif = LIFCell(0.85, 0.4, reset="zero", v_reset=-0.1)
        self.synaptic = SynapticCell(0.8, 0.9, 0.5)
        self.integrate = IFCell(0.6, reset="none")
        self.recurrent = RecurrentLIFCell(5, 0.9, 0.5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = i = w = u = s = r = None
        spikes = []
        for step in x.unbind(0):
            a, v = self.lif(self.linear(step), v)
            b, i, w = self.synaptic(a, i, w)
            c, u = self.integrate(b + a, u)
            s, r = self.recurrent(c, s, r)
            spikes.append(torch.cat([a, b, c, s], -1))
        return torch.stack(spikes), v


class FusedLayers(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(
            LIF(0.9, 0.5, reset=reset, v_reset=0.05) for reset in RESET_MODES
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(out for layer in self.layers for out in layer(x))


def _imported() -> torch.nn.Module:
    from sc_neurocore.nir import from_nir, to_nir

    require("nir")
    torch.manual_seed(2)
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 7),
        LIFCell(0.9, 0.5, reset="zero"),
        torch.nn.Linear(7, 3),
        LIFCell(0.8, 0.3, reset="zero"),
    )
    return from_nir(to_nir(net, dt=1e-3), dt=1e-3)


CASES = {
    "every_surrogate": (EverySurrogate, lambda: (torch.randn(4, 5),)),
    "stepped_cells": (SteppedCells, lambda: (torch.rand(8, 3, 6) * 2,)),
    "spiking_net": (lambda: SpikingNet(6, 8, 3), lambda: ((torch.rand(8, 3, 6) < 0.5).float(),)),
    "spiking_net_fused": (
        lambda: SpikingNet(6, 8, 3, fused=True),
        lambda: ((torch.rand(8, 3, 6) < 0.5).float(),),
    ),
    "fused_layers": (FusedLayers, lambda: (torch.randn(8, 3, 6) + 0.3,)),
    "imported_nir": (_imported, lambda: ((torch.rand(8, 3, 6) < 0.5).float(),)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_onnxruntime_gives_the_module_spikes(name: str, tmp_path: Path) -> None:
    make_module, make_inputs = CASES[name]
    torch.manual_seed(0)
    module, inputs = make_module().eval(), make_inputs()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(module, inputs, str(path), dynamo=True, verbose=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {arg.name: value.numpy() for arg, value in zip(session.get_inputs(), inputs)}
    got = session.run(None, feeds)
    with torch.no_grad():
        want = module(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    spikes, *rest = want
    assert np.array_equal(got[0], spikes.numpy()), "spikes differ"
    assert 0 < int(spikes.gt(0).sum()) < spikes.numel(), "the inputs should fire some neurons"
    for mine, reference in zip(got[1:], rest):
        if bool(((reference == 0) | (reference == 1)).all()):
            assert np.array_equal(mine, reference.numpy())
        else:
            np.testing.assert_allclose(mine, reference.numpy(), rtol=1e-5, atol=1e-5)
