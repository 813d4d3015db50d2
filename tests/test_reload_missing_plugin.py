"""A program saved with a plugin's surrogate, reloaded where the plugin is missing: every
way of running it names the missing surrogate with the registry's own message, the
stepped network (one ``sc_neurocore::<name>`` operator per step) as the fused layer."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sc_neurocore

_SAVE = """
import torch, sc_neurocore
from sc_neurocore.neurons.fused import LIF
torch.manual_seed(0)
surrogate = sc_neurocore.get_surrogate("gaussian", "custom_op")
class Stepped(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(5, 4)
    def forward(self, x):
        return torch.stack([surrogate(self.linear(step)) for step in x])
x = torch.randn(3, 2, 5)
for name, module in (("stepped", Stepped()), ("fused", LIF(surrogate_fn=surrogate))):
    program = torch.export.export(module, (x if name == "stepped" else x[..., :4],))
    torch.export.save(program, FOLDER + f"/{name}.pt2")
print("[]")
"""

_LOAD = """
import sys, torch, sc_neurocore
assert "gaussian" not in sc_neurocore.list_surrogates()
try:
    program = torch.export.load(sys.argv[1])
    program.module()(torch.randn(3, 2, int(sys.argv[2])))
except Exception as error:
    chain = []
    while error is not None:
        chain.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    print("\\n".join(chain))
"""


@pytest.mark.parametrize("kind", ["stepped", "fused"])
def test_a_missing_plugin_surrogate_is_named_however_the_program_runs(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from .plugin_env import shared_plugin_env

    assert "gaussian" not in sc_neurocore.list_surrogates()  # this environment lacks it
    folder = tmp_path_factory.getbasetemp() / "missing-plugin-programs"
    if not (folder / f"{kind}.pt2").exists():
        folder.mkdir(exist_ok=True)
        env = shared_plugin_env(tmp_path_factory)
        assert env.python_json(_SAVE.replace("FOLDER", repr(str(folder)))) == []
    width = "5" if kind == "stepped" else "4"
    result = subprocess.run(
        [sys.executable, "-c", _LOAD, str(folder / f"{kind}.pt2"), width],
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = result.stdout + result.stderr
    expected = "UnknownSurrogateError: unknown surrogate 'gaussian'; available: "
    assert expected in said, said[-3000:]
    assert "custom op is not registered" not in said
