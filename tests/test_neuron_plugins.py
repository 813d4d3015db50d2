"""Plugin neurons in-process: the conflict and isolation rules of surrogates, the
``sc-neurocore neurons`` listing and the kit's neuron selection (the installed
distribution is proven in ``test_plugins_neurons``)."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

import sc_neurocore
from sc_neurocore import NeuronSpec, PluginWarning, Registry, hookimpl
from sc_neurocore.cli import main
from sc_neurocore.cli.neurons import DEVICE_KINDS, kernel_family
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.neuron_choice import neuron_kernels
from sc_neurocore.kernels.selector import SELECTOR
from sc_neurocore.neurons import Neuron
from sc_neurocore.testing import select_neuron_cases

from .test_discovery import only_record, plugin_module

LEAKY_TWIN = NeuronSpec(
    "leaky_twin",
    ("v",),
    (("beta", 0.5), ("threshold", 1.0)),
    {"v": "beta*v + x"},
    "v - threshold",
    {"v": "v - s*threshold"},
    "a plugin's LIF under its own name",
)
FAKE_LIF = NeuronSpec(
    "lif", ("v",), (("gain", 3.0),), {"v": "gain*x"}, "v - 1", {}, "a plugin's 'lif'"
)


def _neuron_plugin(name: str, *specs: NeuronSpec, surrogates: tuple = ()) -> object:
    @hookimpl
    def sc_neurocore_register_neurons() -> tuple[NeuronSpec, ...]:
        return specs

    hooks: dict[str, object] = {"sc_neurocore_register_neurons": sc_neurocore_register_neurons}
    if surrogates:

        @hookimpl
        def sc_neurocore_register_surrogates() -> tuple:
            return surrogates

        hooks["sc_neurocore_register_surrogates"] = sc_neurocore_register_surrogates
    return plugin_module(name, **hooks)


def test_a_plugin_neuron_is_registered_with_its_provenance() -> None:
    registry = Registry.from_plugins(
        {"twin": _neuron_plugin("twin", LEAKY_TWIN)}, with_builtins=True, distribution="dist-twin"
    )
    assert registry.list_neurons()[-1] == "leaky_twin"  # third-party after the built-ins
    assert registry.get_neuron_spec("leaky_twin") is LEAKY_TWIN
    provided = registry.table().neurons["leaky_twin"]
    assert (provided.record.distribution, provided.record.builtin) == ("dist-twin", False)
    assert only_record(registry, "twin").provides["neurons"] == ["leaky_twin"]


def test_a_plugin_neuron_named_like_a_builtin_loses_with_a_warning() -> None:
    registry = Registry.from_plugins(
        {"hijack": _neuron_plugin("hijack", FAKE_LIF, LEAKY_TWIN)}, with_builtins=True
    )
    with pytest.warns(PluginWarning, match="tried to replace built-in neuron 'lif'"):
        table = registry.table()
    assert registry.get_neuron_spec("lif").param_names == ("beta", "threshold")  # the built-in
    assert table.neurons["lif"].record.builtin
    assert table.decisions[("neurons", "lif")] == "built-in (third-party replacements refused)"
    assert [c.record.name for c in table.claims[("neurons", "lif")]] == ["neurons", "hijack"]
    assert registry.get_neuron_spec("leaky_twin") is LEAKY_TWIN  # its other neuron stands


def test_two_plugins_claiming_one_neuron_name_are_decided_and_choosable() -> None:
    other = NeuronSpec("leaky_twin", ("v",), (), {"v": "v + x"}, "v - 1", {}, "B's twin")
    plugins = {"a": _neuron_plugin("a", LEAKY_TWIN), "b": _neuron_plugin("b", other)}
    registry = Registry.from_plugins(plugins, distribution="dist")
    with pytest.warns(PluginWarning, match="neuron 'leaky_twin' is provided by several"):
        assert registry.get_neuron_spec("leaky_twin") is LEAKY_TWIN  # first by name
    registry.prefer("leaky_twin", "b")
    assert registry.get_neuron_spec("leaky_twin") is other


@pytest.mark.parametrize(
    ("hook_result", "message"),
    [
        (RuntimeError("boom from a neuron hook"), "boom from a neuron hook"),
        ([object()], "expected NeuronSpec objects"),
        ("lif", "must return an iterable, got str"),
    ],
)
def test_a_broken_neuron_hook_fails_that_plugin_only(hook_result: object, message: str) -> None:
    @hookimpl
    def sc_neurocore_register_neurons() -> object:
        if isinstance(hook_result, Exception):
            raise hook_result
        return hook_result

    spec = sc_neurocore.get_spec("atan")
    broken = plugin_module(
        "broken",
        sc_neurocore_register_neurons=sc_neurocore_register_neurons,
        sc_neurocore_register_surrogates=hookimpl(lambda: [spec]),
    )
    healthy = _neuron_plugin("healthy", LEAKY_TWIN)
    registry = Registry.from_plugins({"broken": broken, "healthy": healthy}, with_builtins=True)
    with pytest.warns(PluginWarning, match="'broken'.* failed"):
        found = only_record(registry, "broken")
    assert found.status == "failed" and message in found.error
    assert found.provides == {}  # nothing it returned from any hook is used
    assert registry.list_neurons() == (*sc_neurocore.list_neurons(), "leaky_twin")
    assert only_record(registry, "healthy").status == "loaded"


def test_neurons_listing_json_is_computed_from_the_registry_and_the_dispatch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["neurons", "--json"]) == 0
    infos = {info["name"]: info for info in json.loads(capsys.readouterr().out)}
    assert list(infos) == list(sc_neurocore.list_neurons())
    for name, info in infos.items():
        spec = sc_neurocore.get_neuron_spec(name)
        assert info["distribution"] == "sc-neurocore" and info["builtin"]
        assert info["states"] == list(spec.states) and info["params"] == dict(spec.params)
        assert info["spiking"] == spec.spiking and info["fire"] == spec.fire
        assert info["update"] == dict(spec.update) and info["reset"] == dict(spec.reset)
        assert set(info["kernels"]) == set(DEVICE_KINDS)
    assert not infos["li"]["spiking"] and infos["li"]["resets"] == ["subtract"]
    assert infos["alif"]["params"]["rho"] == 0.99
    # the CPU family is what the dispatch runs on a CPU tensor, nothing computed beside it
    surrogate = sc_neurocore.get_spec("atan")
    for name, info in infos.items():
        probe = torch.zeros(1, 1)
        ran = neuron_kernels(program_of(sc_neurocore.get_neuron_spec(name)), surrogate, probe)
        assert info["kernels"]["cpu"]["kernel"] == ran.family
    # CUDA (a fake probe without a GPU): Triton exactly where the selector says it can run
    why_not_triton = SELECTOR.triton_reason("cuda")
    for info in infos.values():
        cuda = info["kernels"]["cuda"]
        assert (cuda["kernel"] == "triton") == (not why_not_triton), cuda
        assert why_not_triton in cuda["reason"]


def test_neurons_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["neurons"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NEURON",
        "STATES",
        "PARAMS",
        "SPIKES",
        "CPU",
        "CUDA",
        "DISTRIBUTION",
    ]
    alif = next(line for line in lines if line.startswith("alif "))
    assert "v,a" in alif and "rho=0.99" in alif and "sc-neurocore (built-in)" in alif
    li = next(line for line in lines if line.startswith("li "))
    assert "no (readout)" in li
    assert lines[-1].startswith(f"{len(sc_neurocore.list_neurons())} neurons; CPU/CUDA")


def test_a_forced_family_that_cannot_run_is_an_error_row() -> None:
    from sc_neurocore.kernels.native.runtime import set_native_enabled

    spec, surrogate = sc_neurocore.get_neuron_spec("lif"), sc_neurocore.get_spec("atan")
    layer = Neuron(spec, sc_neurocore.get_surrogate("atan"), fused=True)
    previous = set_native_enabled(False)  # forced native while switched off cannot run
    try:
        with sc_neurocore.use_kernel("native"):
            row = kernel_family(spec, surrogate, "cpu")
            with pytest.raises(sc_neurocore.KernelUnavailableError) as refused:
                layer(torch.ones(2, 1, 3))
    finally:
        set_native_enabled(previous)
    assert row["kernel"] == "error" and "SC_NEUROCORE_KERNEL=native" in row["reason"]
    assert row["reason"].split(": ", 1)[1] in str(refused.value)


def test_the_kit_selects_neurons_by_name_surrogate_and_distribution() -> None:
    cases = select_neuron_cases(["alif"], ["atan"])
    assert [c.id for c in cases] == [f"alif-{r}@atan" for r in ("subtract", "zero", "none")]
    assert {c.neuron for c in select_neuron_cases(distributions=["sc-neurocore"])} == set(
        sc_neurocore.list_neurons()
    )
    assert select_neuron_cases(distributions=["someone-else"]) == []
    with pytest.raises(sc_neurocore.UnknownNeuronError, match="Did you mean 'alif'"):
        select_neuron_cases(["alfi"])


def test_check_runs_the_neuron_checks_alone() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "sc_neurocore", "check", "--neuron", "cuba_lif", "-s", "atan"]
        + ["-k", "neuron and float64 and subtract", "-v", "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    passed = [line for line in result.stdout.splitlines() if " PASSED" in line]
    assert any(
        "test_neuron_fused_equals_stepwise[cuba_lif-subtract@atan-float64-cpu]" in line
        for line in passed
    ), result.stdout[-2000:]
    assert not any("test_gradient_matches_spec" in line for line in passed)


def test_the_kit_check_fails_on_a_fused_operator_that_drifts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parity check can fail: a fused forward that leaks one spike is caught."""
    from sc_neurocore.neurons.neuron import Neuron
    from sc_neurocore.testing import check_fused_equals_stepwise

    original = Neuron._fused

    def drifting(self: Neuron, *args: object) -> tuple:
        out, finals = original(self, *args)  # type: ignore[arg-type]
        out = out.clone()
        out.view(-1)[0] = 1 - out.view(-1)[0]
        return out, finals

    monkeypatch.setattr(Neuron, "_fused", drifting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AssertionError, match="fused spikes differ from stepwise at 1 place"):
            check_fused_equals_stepwise("lif", "atan", "subtract", torch.float64)
