"""Exported programs reload in a fresh process, and operator names are stable.

Programs are exported here, saved, and loaded by ONE fresh interpreter that only ran
``import sc_neurocore`` (subprocesses are slow, so every surrogate and the fused layer
share it): the load itself must define the operators, plugin surrogates included.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sc_neurocore
from sc_neurocore.interchange.operators import NEURON_NAMESPACE, SURROGATE_NAMESPACE
from sc_neurocore.neurons.base import RESET_MODES
from sc_neurocore.neurons.fused import LIF, NAMESPACE
from sc_neurocore.neurons.integrator import LeakyIntegrator
from sc_neurocore.neurons.synaptic import SynapticLIF
from sc_neurocore.paths import custom_op

from .test_compat_export import Layer

SURROGATES = sc_neurocore.list_surrogates()

_LOAD_SCRIPT = """
import json, sys, torch
import sc_neurocore
assert "sc_neurocore.paths.custom_op" not in sys.modules, "import must stay lazy"
report = {}
for name in json.loads(sys.argv[1]):
    program = torch.export.load(f"{sys.argv[2]}/{name}.pt2")
    inputs, outputs = torch.load(f"{sys.argv[2]}/{name}.io.pt")
    got = program.module()(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    report[name] = all(torch.equal(a, b) for a, b in zip(got, outputs))
print(json.dumps(report))
"""


def _save(folder: Path, name: str, module: torch.nn.Module, inputs: tuple) -> None:
    program = torch.export.export(module, inputs)
    torch.export.save(program, folder / f"{name}.pt2")
    outputs = module(*inputs)
    torch.save(
        (inputs, outputs if isinstance(outputs, tuple) else (outputs,)), folder / f"{name}.io.pt"
    )


def test_programs_load_in_a_fresh_process(tmp_path: Path) -> None:
    torch.manual_seed(0)
    names = []
    for surrogate in SURROGATES:
        _save(
            tmp_path,
            surrogate,
            Layer(sc_neurocore.get_surrogate(surrogate, "custom_op")),
            (torch.randn(3, 5),),
        )
        names.append(surrogate)
    for reset in RESET_MODES:
        layer = LIF(0.8, 0.5, sc_neurocore.get_surrogate(SURROGATES[-1]), reset=reset, v_reset=-0.1)
        _save(tmp_path, f"fused_{reset}", layer, (torch.randn(6, 2, 4), torch.randn(2, 4)))
        names.append(f"fused_{reset}")
    # SynapticLIF and LeakyIntegrator run the generated cuba_lif and li operators.
    synaptic = SynapticLIF(0.7, 0.8, 0.5, sc_neurocore.get_surrogate(SURROGATES[0]))
    _save(tmp_path, "fused_synaptic", synaptic, (torch.randn(6, 2, 4),))
    _save(tmp_path, "fused_leaky", LeakyIntegrator(0.8), (torch.randn(6, 2, 4),))
    names += ["fused_synaptic", "fused_leaky"]
    command = [sys.executable, "-c", _LOAD_SCRIPT, json.dumps(names), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {name: True for name in names}


@pytest.mark.parametrize("name", SURROGATES)
def test_operator_name_is_the_registry_name(name: str) -> None:
    op = sc_neurocore.get_surrogate(name, "custom_op")._fn.op  # type: ignore[attr-defined]
    assert str(op) == f"{SURROGATE_NAMESPACE}.{name}.default"
    assert getattr(torch.ops.sc_neurocore, name).default is op


def test_namespaces_match_the_defining_modules() -> None:
    assert SURROGATE_NAMESPACE == custom_op.NAMESPACE
    assert NEURON_NAMESPACE == NAMESPACE  # the fused layers run the neuron operators


def test_a_second_spec_of_the_same_name_is_an_error_naming_both() -> None:
    spec = sc_neurocore.get_spec("atan")
    custom_op.build(spec)

    def other_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
        return torch.ones_like(x)

    intruder = dataclasses.replace(spec, grad=other_grad, grad_mul=None)
    with pytest.raises(RuntimeError, match="already defined") as caught:
        custom_op.build(intruder)
    message = str(caught.value)
    assert custom_op.provider_of(spec) in message and "other_grad" in message
    assert custom_op.build(spec) is custom_op.build(spec)  # the first one still serves


def test_unknown_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        torch.ops.sc_neurocore.no_such_surrogate  # noqa: B018
    assert not hasattr(torch.ops.sc_neurocore, "_private")


_PLUGIN_SAVE_SCRIPT = """
import json, sys, torch
import sc_neurocore
torch.manual_seed(0)
names = [n for n in sc_neurocore.list_surrogates() if n not in json.loads(sys.argv[2])]
for name in names:
    surrogate = sc_neurocore.get_surrogate(name, "custom_op")
    class Layer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear, self.surrogate = torch.nn.Linear(5, 4), surrogate
        def forward(self, x):
            return self.surrogate(self.linear(x))
    layer, x = Layer(), torch.randn(3, 5)
    torch.export.save(torch.export.export(layer, (x,)), f"{sys.argv[1]}/{name}.pt2")
    torch.save(((x,), (layer(x),)), f"{sys.argv[1]}/{name}.io.pt")
print(json.dumps(names))
"""


def test_plugin_operators_load_in_a_fresh_process(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from .plugin_env import shared_plugin_env

    env = shared_plugin_env(tmp_path_factory)
    quiet = {
        "SC_NEUROCORE_DISABLE_PLUGINS": "wrong_math,conflict_a,conflict_b,import_error,"
        "hook_raises,malformed,wrong_api"
    }
    saved = env.python_json(
        _PLUGIN_SAVE_SCRIPT.replace("sys.argv[1]", repr(str(tmp_path))).replace(
            "sys.argv[2]", repr(json.dumps(list(SURROGATES)))
        ),
        **quiet,
    )
    assert "gaussian" in saved  # the extra-surrogates plugin is installed there
    code = _LOAD_SCRIPT.replace("sys.argv[1]", repr(json.dumps(saved))).replace(
        "sys.argv[2]", repr(str(tmp_path))
    )
    assert env.python_json(code, **quiet) == {name: True for name in saved}
