"""Every generated C kernel built for aarch64 (run under qemu) and with clang, against the host.

The kernels are the element-wise ones of every surrogate registered here and in the plugin
test environment (the plugin distributions under plugins/ and the fixtures, installed by pip)
and the generated neuron kernels of every registered neuron and reset, plugin neurons
included, in the subset of :func:`native_targets.neuron_kernels` (every program, surrogate,
parameter layout and dtype met); the conformance driver calls every variant (per-neuron
parameters, parameter sums, broadcast gradients, one and two threads, streamed stores).
Each target is compared with the host build that calls the same exps (the aarch64 and clang
builds take the kernels' own, the x86 gcc build libmvec's exp): forward outputs
bit-identical, gradients bit-identical too unless the kernel calls another C-library
transcendental function, then within the bound docs/paths.md states.  The host's own exps
against libmvec's change no spike, and move the gradients of kernels whose step calls no exp
within that bound.  The last tests
show the check failing: a wrong aarch64 flag, a kernel changed in one comparison, one
flipped bit.  Under CI=true a missing cross compiler, qemu or clang fails.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import sc_neurocore
from sc_neurocore.core.neuron_spec import NeuronSpec

from . import native_targets as targets
from .ci_skips import in_ci
from .plugin_env import PluginEnv, shared_plugin_env

OTHERS = (targets.AARCH64, targets.CLANG)
REGISTRY_CODE = """
import json, sc_neurocore
surrogates = []
for name in sc_neurocore.list_surrogates():
    spec = sc_neurocore.get_spec(name)
    if spec.c_grad:
        surrogates.append([name, list(spec.param_names), list(spec.defaults.values()), spec.c_grad])
neurons = [sc_neurocore.get_neuron_spec(n).__reduce__()[1] for n in sc_neurocore.list_neurons()]
print(json.dumps({"surrogates": surrogates, "neurons": neurons}))
"""


def _require(toolchain: targets.Toolchain) -> None:
    missing = toolchain.missing()
    if not missing:
        return
    reason = f"cross compiler or emulator missing: {missing}"
    if in_ci():
        pytest.fail(f"{reason}; .ci/run installs it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def registered(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[targets.Surrogate], list[NeuronSpec]]:
    """Every surrogate with a C form and every neuron spec, here and in the plugin env."""
    plugin_env: PluginEnv = shared_plugin_env(tmp_path_factory)
    surrogates: dict[str, targets.Surrogate] = {}
    for name in sc_neurocore.list_surrogates():
        spec = sc_neurocore.get_spec(name)
        if spec.c_grad:
            defaults = tuple(spec.defaults.values())
            surrogates[name] = targets.Surrogate(name, spec.param_names, defaults, spec.c_grad)
    neurons = {name: sc_neurocore.get_neuron_spec(name) for name in sc_neurocore.list_neurons()}
    there = plugin_env.python_json(REGISTRY_CODE)
    for name, names, defaults, c_grad in there["surrogates"]:
        surrogates.setdefault(name, targets.Surrogate(name, tuple(names), tuple(defaults), c_grad))
    for name, states, params, update, fire, reset, description in there["neurons"]:
        params = tuple(map(tuple, params))
        spec = NeuronSpec(name, tuple(states), params, update, fire, reset, description)
        neurons.setdefault(name, spec)
    return list(surrogates.values()), list(neurons.values())


@pytest.fixture(scope="module")
def kernels(registered) -> list[targets.Kernel]:
    surrogates, neurons = registered
    programs = targets.neuron_programs(neurons)
    return targets.kernels(surrogates) + targets.neuron_kernels(programs, surrogates)


def _outputs(
    toolchain: targets.Toolchain, found: list[targets.Kernel], folder: Path
) -> tuple[list[dict[str, str]], tuple[bool, bool]]:
    """Every kernel's driver output, and which exps the build took (Toolchain.exps)."""
    libraries, options = targets.build_all(toolchain, found, folder)
    driver = targets.build_driver(toolchain, folder)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outputs = pool.map(
            lambda k, lib: targets.run_driver(toolchain, driver, k, lib), found, libraries
        )
        return list(outputs), toolchain.exps(options)


Run = tuple[list[dict[str, str]], tuple[bool, bool]]


@pytest.fixture(scope="module")
def host_run(kernels, tmp_path_factory) -> Run:
    """The host gcc build as the loader builds it (libmvec's exp on x86-64)."""
    _require(targets.HOST)
    return _outputs(targets.HOST, kernels, tmp_path_factory.mktemp("host"))


@pytest.fixture(scope="module")
def host(host_run) -> list[dict[str, str]]:
    return host_run[0]


@pytest.fixture(scope="module")
def host_own_run(kernels, host_run, tmp_path_factory) -> Run:
    """The host gcc build with the kernels' own exps: only the kernels that call an exp are
    rebuilt (for the others the two builds differ in unused macros), all of them unless the
    host build takes both own exps already (vexp.c: the double exp of a non-positive
    argument is the general one)."""
    host, host_exps = host_run
    if host_exps == (True, True):
        return host_run
    calling = [i for i, k in enumerate(kernels) if k.calls & targets.EXPS]
    folder = tmp_path_factory.mktemp("host-own-exp")
    rebuilt, exps = _outputs(targets.HOST_OWN_EXP, [kernels[i] for i in calling], folder)
    assert exps == (True, True)
    outputs = list(host)
    for index, output in zip(calling, rebuilt):
        outputs[index] = output
    return outputs, exps


@pytest.fixture(scope="module")
def host_own_exp(host_own_run) -> list[dict[str, str]]:
    return host_own_run[0]


def test_every_neuron_program_surrogate_layout_and_dtype_is_built(registered, kernels) -> None:
    """The neuron kernels meet every registered neuron with every reset, every surrogate,
    both parameter layouts and every dtype the loader takes."""
    surrogates, neurons = registered
    built = [k for k in kernels if k.family == "neuron"]
    names = {k.name.split("-")[0] for k in built}
    assert names == {p.program.spec.name for p in targets.neuron_programs(neurons)}
    assert {k.name.split("-")[1] for k in built} == {s.name for s in surrogates}
    assert {k.arguments[0] for k in built} == {"f32", "f64", "bf16", "f16"}
    assert {k.name.split("-")[2][0] for k in built} == {"s", "a"}
    assert {"two_compartment", "refractory_lif"} <= {n.name for n in neurons}
    assert len(kernels) >= 2 * len(sc_neurocore.list_surrogates()) + len(names)


def test_every_spiking_neuron_kernel_spikes_on_the_drivers_inputs(kernels, host) -> None:
    """Conformance of silent neurons would prove little: each spiking program's host run
    spikes in every variant."""
    for kernel, output in zip(kernels, host):
        if kernel.family != "neuron" or kernel.arguments[3] != "1":
            continue
        for label, data in output.items():
            if ":neuron_out:" in label:
                values, _ = targets.decode(data, label.split(":")[2])
                assert 1.0 in values, f"{kernel.name} {label}"


@pytest.mark.parametrize("toolchain", OTHERS, ids=lambda t: t.name)
def test_every_kernel_matches_the_host_build(
    toolchain, kernels, host_run, host_own_run, tmp_path
) -> None:
    _require(toolchain)
    outputs, exps = _outputs(toolchain, kernels, tmp_path)
    references = {host_run[1]: host_run[0], host_own_run[1]: host_own_run[0]}
    assert exps in references, f"{toolchain.name} calls exps {exps}: no host build does"
    reference = references[exps]
    found = []
    for kernel, mine, theirs in zip(kernels, reference, outputs):
        bound = targets.bound_of(kernel)
        found += targets.differences(mine, theirs, f"{kernel.family} {kernel.name}", bound)
    assert not found, "\n".join(found[:20])


def test_the_host_exp_choice_changes_no_spike(kernels, host, host_own_exp) -> None:
    """libmvec's exp against the own exp on the host: spikes identical; the gradients of a
    kernel whose forward step calls no exp (a surrogate's exp in the backward only) within
    the bound.  Where the step calls exp (expif, adex) its last-bit differences are carried
    through every later step (docs/paths.md): only the spikes are compared."""
    found = []
    for kernel, mine, theirs in zip(kernels, host, host_own_exp):
        if mine is theirs:  # not rebuilt: it calls no exp the two builds take differently
            continue
        step_calls_exp = bool(kernel.program_calls & targets.EXPS)
        for label in mine:
            spikes = label.startswith("exact") and ("spike" in label or "neuron_out" in label)
            if spikes or not step_calls_exp:
                found += targets.differences(
                    {label: mine[label]}, {label: theirs[label]}, kernel.name
                )
    assert not found, "\n".join(found[:20])


def _one(kernels: list[targets.Kernel], family: str, name: str = "") -> int:
    return next(i for i, k in enumerate(kernels) if k.family == family and k.name.startswith(name))


#: The reference neuron's float32 kernel with the reference surrogate, scalar parameters.
NEURON = f"{targets.REFERENCE_NEURON}-{targets.REFERENCE_SURROGATE}-s"


@pytest.mark.parametrize(
    ("flag", "family", "name"),
    [
        ("-ffast-math", "elementwise", ""),
        ("-ffast-math", "neuron", NEURON),
        ("-ffp-contract=fast", "neuron", NEURON),
    ],
    ids=["fast-math", "neuron-fast-math", "neuron-fp-contract"],
)
def test_a_wrong_aarch64_flag_fails_the_check(
    flag, family, name, kernels, host_own_exp, tmp_path
) -> None:
    """-ffast-math changes the spike of an edge input (signed zeros, denormals);
    -ffp-contract=fast fuses a neuron's multiply and add into one rounding."""
    _require(targets.AARCH64)
    index = _one(kernels, family, name)
    kernel = kernels[index]
    library, _ = targets.build(targets.AARCH64, kernel, tmp_path, extra_flags=(flag,))
    driver = targets.build_driver(targets.AARCH64, tmp_path)
    outputs = targets.run_driver(targets.AARCH64, driver, kernel, library)
    assert targets.differences(host_own_exp[index], outputs, flag, targets.bound_of(kernel))


@pytest.mark.parametrize(
    ("family", "name", "before", "after", "line"),
    [
        ("neuron", NEURON, "(fire > 0)", "(fire >= 0)", "exact:neuron_out"),
    ],
    ids=["neuron"],
)
def test_a_kernel_changed_in_one_comparison_fails_the_check(
    family, name, before, after, line, kernels, host_own_exp, tmp_path
) -> None:
    """The spike with >= for > (one bit of one instruction's predicate)."""
    _require(targets.AARCH64)
    index = _one(kernels, family, name)
    kernel = kernels[index]
    source_for = kernel.source_for
    changed = dataclasses.replace(
        kernel, source_for=lambda vm: source_for(vm).replace(before, after)
    )
    assert changed.source_for(False) != source_for(False)
    library, _ = targets.build(targets.AARCH64, changed, tmp_path)
    driver = targets.build_driver(targets.AARCH64, tmp_path)
    outputs = targets.run_driver(targets.AARCH64, driver, changed, library)
    found = targets.differences(host_own_exp[index], outputs, family, targets.bound_of(kernel))
    assert any(line in d for d in found), found


@pytest.mark.parametrize("family", ["elementwise", "neuron"])
def test_one_flipped_bit_fails_the_check(family, kernels, host) -> None:
    """An exact output with its lowest bit flipped, a gradient with a bit of its largest
    value flipped (the lowest, 1 ulp, where the bound is 0; else the top exponent bit: 0
    becomes 2, x becomes x * 2^+-128 or infinite): each is reported."""
    kernel, reference = next(
        (kernel, run)
        for kernel, run in zip(kernels, host)
        if kernel.family == family and any(k.startswith("ulp") for k in run)
    )
    bound = targets.bound_of(kernel)
    for label, data in reference.items():
        raw = bytearray(bytes.fromhex(data))
        if label.startswith("exact"):
            raw[0] ^= 1
        else:
            values, _ = targets.decode(data, label.split(":")[2])
            size = len(raw) // values.size
            largest = int(np.nanargmax(np.where(np.isfinite(values), np.abs(values), -1)))
            if bound == 0:
                raw[largest * size] ^= 1
            else:
                raw[(largest + 1) * size - 1] ^= 0x40
        changed = {**reference, label: raw.hex()}
        assert targets.differences(reference, changed, "x", bound), label
