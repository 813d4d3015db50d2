"""Every script in examples/ runs to completion in a fresh interpreter and prints what it
claims: each example has a check below that reads its output and asserts the claim.

A new example without a check fails ``test_every_example_states_a_checked_claim``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
NUMBER = r"([-+0-9.e]+)"


def _numbers(pattern: str, out: str) -> tuple[float, ...]:
    match = re.search(pattern, out)
    assert match, f"no line matching {pattern!r} in:\n{out[-2000:]}"
    return tuple(float(value) for value in match.groups())


def quickstart(out: str) -> None:
    (rate,) = _numbers(rf"epoch  1: loss [0-9.]+, output spikes per neuron per step {NUMBER}", out)
    first, last = (
        _numbers(rf"epoch  1: loss {NUMBER}", out)[0],
        _numbers(rf"epoch 15: loss {NUMBER}", out)[0],
    )
    (accuracy,) = _numbers(rf"test accuracy {NUMBER} %", out)
    assert rate < 0.05  # the output layer starts (nearly) silent, as the docs say
    assert last < first / 5 and accuracy >= 90  # and learns anyway: chance is 50 %


def surrogate_sweep(out: str) -> None:
    best, true_gradient, constant, chance = _numbers(
        rf"best surrogate \w+ at steepness [0-9.]+: {NUMBER} %; true gradient {NUMBER} %; "
        rf"constant {NUMBER} %; chance {NUMBER} %",
        out,
    )
    assert best >= true_gradient + 15 and best >= constant + 8  # surrogate learning wins
    assert true_gradient <= chance + 5  # the true gradient cannot train the hidden layer
    assert "FAIL" not in out and out.count("PASS") >= 2, out


def randman_current_based(out: str) -> None:
    test, baseline, chance = _numbers(
        rf"test accuracy {NUMBER} % .*1-NN on raw spike times {NUMBER} %; chance {NUMBER} %", out
    )
    assert test >= baseline + 5 and baseline > chance  # beats 1-NN on the hard preset


def train_digits(out: str) -> None:
    (accuracy,) = _numbers(rf"test accuracy {NUMBER} %", out)
    assert accuracy >= 90


def nir_round_trip(out: str) -> None:
    trained, loaded = _numbers(rf"trained {NUMBER} %, after NIR round trip {NUMBER} %", out)
    assert trained == loaded and trained >= 80


def fused_lif_gpu(out: str) -> None:
    assert "spikes identical to LIFCell: True" in out
    (difference,) = _numbers(rf"largest input-gradient difference to LIFCell: {NUMBER}", out)
    assert difference < 1e-3
    fused, stepped = _numbers(rf"d loss / d beta_logit: fused {NUMBER}, stepped {NUMBER}", out)
    assert abs(fused - stepped) <= 1e-4 * abs(stepped)


def kernel_switch(out: str) -> None:
    (difference,) = _numbers(rf"native vs torch kernels, max \|difference\|: {NUMBER}", out)
    assert difference < 1e-5
    assert "refused: SC_NEUROCORE_KERNEL=native" in out  # a forced family never falls back
    assert "bump formula as C:" in out and "tl.where" in out


def mixed_precision(out: str) -> None:
    fp32, bf16 = _numbers(rf"test accuracy: fp32 {NUMBER} %, bf16 autocast {NUMBER} %", out)
    assert bf16 > 80 and abs(bf16 - fp32) < 5
    assert "bf16 autocast trains to the fp32 accuracy" in out


def nir_spiking_cnn(out: str) -> None:
    (accuracy,) = _numbers(rf"trained spiking CNN: test accuracy {NUMBER} %", out)
    trained, ours, theirs = _numbers(
        rf"spikes: trained net {NUMBER}, this project from the file {NUMBER}, "
        rf"Norse from the file {NUMBER}",
        out,
    )
    assert accuracy > 80 and trained == ours == theirs > 0
    assert "identical spikes from Norse and from this project" in out


def registry_and_plugins(out: str) -> None:
    match = re.search(r"own registry: gauss grad: \[(.*)\]", out)
    assert match, out
    g = [float(value) for value in match.group(1).split(",")]
    assert g[0] < g[1] < g[2] > g[3] > g[4] and g[2] > 1  # a Gaussian window peaked at 0
    assert "default registry still has 6 surrogates" in out  # the own registry is isolated


def compile_for_gpu(out: str) -> None:
    compiled, total = _numbers(rf"{NUMBER} of {NUMBER} kernels compiled for sm_90 without", out)
    assert compiled == total == 4  # forward and backward, float32 and float64
    assert out.count("compiled: ") == 4 and "occupancy" in out


def neuron_spec(out: str) -> None:
    checked, surrogates = _numbers(
        rf"fused == stepwise: {NUMBER} checks passed \({NUMBER} surrogates x 3 resets", out
    )
    assert checked == surrogates * 3 * 2 and surrogates >= 6  # every registered surrogate
    first, last = _numbers(rf"rate loss: first {NUMBER}, last {NUMBER}", out)
    assert last < first / 100  # the fused neuron trains to the target rates
    rho, b = _numbers(rf"learned rho {NUMBER} \(from 0.95\), b {NUMBER} \(from 1.8\)", out)
    assert rho != 0.95 and b != 1.8  # its adaptation params learned too


def neuron_interchange(out: str) -> None:
    assert "hidden layer: alif, runs fused" in out
    (accuracy,) = _numbers(rf"test accuracy {NUMBER} % \(chance 50 %\)", out)
    assert accuracy >= 90  # the adaptive-LIF network learns the task
    assert "exported program reloaded: outputs identical: True" in out
    assert "NIR nodes: Input, Affine, Threshold, Affine, LIF, Output" in out  # alif: stand-in
    assert "NIR round trip: output spike counts identical: True" in out


CLAIMS: dict[str, Callable[[str], None]] = {
    f"{check.__name__}.py": check
    for check in (
        quickstart,
        surrogate_sweep,
        randman_current_based,
        train_digits,
        nir_round_trip,
        nir_spiking_cnn,
        mixed_precision,
        fused_lif_gpu,
        kernel_switch,
        registry_and_plugins,
        compile_for_gpu,
        neuron_spec,
        neuron_interchange,
    )
}


def test_every_example_states_a_checked_claim() -> None:
    assert sorted(CLAIMS) == [path.name for path in EXAMPLES]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_and_shows_its_claim(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    CLAIMS[script.name](result.stdout)
