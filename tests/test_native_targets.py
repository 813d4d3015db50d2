"""Every generated C kernel built for aarch64 (run under qemu) and with clang, against the host.

The kernels are those of every surrogate registered here and in the plugin test environment
(the plugin distributions under plugins/ and the fixtures, installed by pip), every fused
family (LIF, element-wise, leaky integrator) and every dtype the templates are instantiated
for (float32, float64; bfloat16 and float16 for the fused ones); the conformance driver calls
every variant (reset modes, per-neuron parameters, parameter sums, broadcast gradients, one
and two threads).  Forward outputs must be bit-identical to the host build's, gradients
within the bound docs/paths.md states.  The last tests show the check failing: a wrong
aarch64 flag, a kernel changed in one comparison, one flipped bit.  Under CI=true a missing
cross compiler, qemu or clang fails.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import sc_neurocore

from . import native_targets as targets
from .ci_skips import in_ci
from .plugin_env import PluginEnv, shared_plugin_env

OTHERS = (targets.AARCH64, targets.CLANG)
SPECS_CODE = """
import json, sc_neurocore
found = []
for name in sc_neurocore.list_surrogates():
    spec = sc_neurocore.get_spec(name)
    if spec.c_grad:
        found.append([name, list(spec.param_names), list(spec.defaults.values()), spec.c_grad])
print(json.dumps(found))
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
def kernels(tmp_path_factory: pytest.TempPathFactory) -> list[targets.Kernel]:
    plugin_env: PluginEnv = shared_plugin_env(tmp_path_factory)
    specs = {}
    for name in sc_neurocore.list_surrogates():
        spec = sc_neurocore.get_spec(name)
        if spec.c_grad:
            specs[name] = (name, spec.param_names, tuple(spec.defaults.values()), spec.c_grad)
    for name, names, defaults, c_grad in plugin_env.python_json(SPECS_CODE):
        specs.setdefault(name, (name, tuple(names), tuple(defaults), c_grad))
    return targets.kernels(specs.values())


def _outputs(
    toolchain: targets.Toolchain, found: list[targets.Kernel], folder: Path
) -> list[dict[str, str]]:
    libraries, _ = targets.build_all(toolchain, found, folder)
    driver = targets.build_driver(toolchain, folder)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(
            pool.map(lambda k, lib: targets.run_driver(toolchain, driver, k, lib), found, libraries)
        )


@pytest.fixture(scope="module")
def host(kernels, tmp_path_factory) -> list[dict[str, str]]:
    _require(targets.HOST)
    return _outputs(targets.HOST, kernels, tmp_path_factory.mktemp("host"))


@pytest.mark.parametrize("toolchain", OTHERS, ids=lambda t: t.name)
def test_every_kernel_matches_the_host_build(toolchain, kernels, host, tmp_path) -> None:
    _require(toolchain)
    outputs = _outputs(toolchain, kernels, tmp_path)
    found = []
    for kernel, mine, theirs in zip(kernels, host, outputs):
        found += targets.differences(mine, theirs, f"{kernel.family} {kernel.name}")
    assert not found, "\n".join(found[:20])
    assert len(kernels) >= 2 * len(sc_neurocore.list_surrogates()) + 1


def _one(kernels: list[targets.Kernel], family: str) -> int:
    return next(i for i, k in enumerate(kernels) if k.family == family)


@pytest.mark.parametrize(
    ("flag", "family"),
    [("-ffast-math", "elementwise"), ("-ffp-contract=fast", "leaky")],
    ids=["fast-math", "fp-contract"],
)
def test_a_wrong_aarch64_flag_fails_the_check(flag, family, kernels, host, tmp_path) -> None:
    """-ffast-math changes the spike of an edge input (signed zeros, denormals);
    -ffp-contract=fast fuses the leaky integrator's float64 sums into fma."""
    _require(targets.AARCH64)
    index = _one(kernels, family)
    kernel = kernels[index]
    library, _ = targets.build(targets.AARCH64, kernel, tmp_path, extra_flags=(flag,))
    driver = targets.build_driver(targets.AARCH64, tmp_path)
    outputs = targets.run_driver(targets.AARCH64, driver, kernel, library)
    assert targets.differences(host[index], outputs, flag)


def test_a_kernel_changed_in_one_comparison_fails_the_check(kernels, host, tmp_path) -> None:
    """The LIF forward with >= for > (one bit of one instruction's predicate)."""
    _require(targets.AARCH64)
    index = _one(kernels, "lif")
    kernel = kernels[index]
    source_for = kernel.source_for
    changed = dataclasses.replace(
        kernel, source_for=lambda vm: source_for(vm).replace("(h > th)", "(h >= th)")
    )
    assert changed.source_for(False) != source_for(False)
    library, _ = targets.build(targets.AARCH64, changed, tmp_path)
    driver = targets.build_driver(targets.AARCH64, tmp_path)
    outputs = targets.run_driver(targets.AARCH64, driver, changed, library)
    assert any("exact:lif_spikes" in d for d in targets.differences(host[index], outputs, "lif"))


def test_one_flipped_bit_fails_the_check(host) -> None:
    """An exact output with its lowest bit flipped, a gradient with the top exponent bit of
    its largest value flipped (0 becomes 2, x becomes x * 2^+-128 or infinite): each is
    reported."""
    reference = next(run for run in host if any(k.startswith("ulp") for k in run))
    for label, data in reference.items():
        raw = bytearray(bytes.fromhex(data))
        if label.startswith("exact"):
            raw[0] ^= 1
        else:
            values, _ = targets.decode(data, label.split(":")[2])
            size = len(raw) // values.size
            largest = int(np.nanargmax(np.where(np.isfinite(values), np.abs(values), -1)))
            raw[(largest + 1) * size - 1] ^= 0x40
        assert targets.differences(reference, {**reference, label: raw.hex()}, "x"), label
