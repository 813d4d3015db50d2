"""The kernels' own exp (kernels/native/vexp.c): accuracy over every float, a double sweep,
the special values, and the surrogates where they saturate; the same for its exp of a
non-positive argument over every negative float.

A C driver (tests/native/exp_accuracy.c) is compiled with the exp pasted in, once with a
fused multiply-add (the AVX2 and aarch64 builds: every float) and once without (SSE2: every
8th block of floats), and reports its worst errors; the bounds asserted here are the ones
docs/paths.md states.
"""

from __future__ import annotations

import math
import platform
import re
import subprocess
from pathlib import Path

import pytest
import torch

import sc_neurocore
from sc_neurocore.kernels.native import build as native_build
from sc_neurocore.kernels.native import elementwise, isa

from .ci_skips import in_ci
from .native_targets import c_program

DRIVER = Path(__file__).with_name("native") / "exp_accuracy.c"
#: docs/paths.md: the largest error of the own exp, in units in the last place.
F32_ULPS = 1.1
F64_ULPS = 1.1
#: docs/paths.md: the largest error of the exp of a non-positive argument (float).
NONPOSITIVE_ULPS = 1.25
X86 = platform.machine().lower() in ("x86_64", "amd64")
#: The target's (compiler flags, CPU flags it needs) from the kernels' own table, and the share
#: of all floats checked: every one with the fused multiply-add (the AVX2 and aarch64 builds),
#: every 8th block of 2^16 without it (SSE2, the rarer fallback) and at AVX-512 (which checks
#: that build's block routine against the same function).
VARIANTS = (
    {
        "fma": (isa.ISA_FLAGS["avx2"], 1),
        "no-fma": (isa.ISA_FLAGS["generic"], 8),
        "avx512": (isa.ISA_FLAGS["avx512"], 8),
    }
    if X86
    else {"native": (((), frozenset()), 1)}
)


def _compiler() -> list[str]:
    command = native_build.compiler_command(native_build.BuildOptions(False, False))
    if command is None:
        if in_ci():
            pytest.fail("no C compiler in CI: the exp accuracy driver must compile")
        pytest.skip("no C compiler found (the exp accuracy driver needs one)")
    return command[: command.index("-std=gnu11")]


@pytest.fixture(scope="module", params=list(VARIANTS))
def report(request, tmp_path_factory) -> dict[str, str]:
    (target_flags, needed), stride = VARIANTS[request.param]
    if not needed <= isa.host_cpu_flags():
        pytest.skip(f"this CPU lacks {sorted(needed)}: the {request.param} variant does not apply")
    binary = tmp_path_factory.mktemp("exp") / "exp_accuracy"
    # the project's floating-point flags, so the driver's exp is the kernels' exp; both cores
    # where the compiler has OpenMP (clang without its runtime: one)
    flags = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", *target_flags]
    flags.append("-DSC_EXP_BLOCKS=1")  # the block routine's vector code, as the kernels get it
    c_program(_compiler(), binary, (native_build.VECTOR_EXP, DRIVER), flags, ["-fopenmp"])
    run = [str(binary), str(stride)]
    result = subprocess.run(run, check=True, capture_output=True, text=True, timeout=900)
    return dict(item.split("=", 1) for item in result.stdout.split())


def test_float_error_over_every_float(report: dict[str, str]) -> None:
    assert float(report["f32_max_ulp"]) <= F32_ULPS, report
    assert int(report["f32_nan_fail"]) == 0, "a NaN input gave a number"


def test_double_error_over_the_sweep(report: dict[str, str]) -> None:
    assert float(report["f64_max_ulp"]) <= F64_ULPS, report


def test_nonpositive_exp_over_every_negative_float(report: dict[str, str]) -> None:
    assert float(report["np_max_ulp"]) <= NONPOSITIVE_ULPS, report
    assert int(report["np_nan_fail"]) == 0, "a NaN input gave a number"
    assert int(report["np_block_differs"]) == 0, "the block routine's bits differ somewhere"
    # inputs: -inf, NaN, +0, -0 (+inf is outside its contract)
    got = [float.fromhex(report[f"np_special_{i}"]) for i in range(1, 5)]
    assert got[0] == 0.0 and math.isnan(got[1]) and got[2] == 1.0 and got[3] == 1.0


@pytest.mark.parametrize("width", ["f32", "f64"])
def test_special_values(report: dict[str, str], width: str) -> None:
    # inputs: +inf, -inf, NaN, +0, -0
    got = [float.fromhex(report[f"{width}_special_{i}"]) for i in range(5)]
    assert got[0] == math.inf and got[1] == 0.0 and math.isnan(got[2])
    assert got[3] == 1.0 and got[4] == 1.0


def _saturation_points(dtype: torch.dtype) -> torch.Tensor:
    """Inputs where exp-based surrogates saturate: exp's argument crosses the overflow and
    underflow thresholds and the denormal range once the surrogate's slope scales it."""
    edges = [0.0, 1e-3, 1.0, 10.0, 17.0, 17.5, 20.0, 20.8, 21.0, 87.0, 88.7, 89.0, 103.9, 104.0]
    edges += [140.0, 700.0, 709.8, 710.0, 745.0, 746.0, 1e4, 1e30, math.inf]
    values = torch.tensor(edges + [-e for e in edges] + [math.nan], dtype=torch.float64)
    return values.to(dtype)


#: Registered surrogates whose compiled formula calls exp.
EXP_SURROGATES = [
    name
    for name in sc_neurocore.list_surrogates()
    if re.search(
        rf"\b(?:exp|{native_build.EXP_NONPOSITIVE})\s*\(", sc_neurocore.get_spec(name).c_grad or ""
    )
]


@pytest.mark.parametrize("name", EXP_SURROGATES)
@pytest.mark.parametrize("exp", ["own", "library"])
def test_surrogates_where_they_saturate(name: str, exp: str, monkeypatch) -> None:
    """The compiled g(x) against the float64 torch formula at the saturation points, with
    either exp: NaN only for NaN, zero where the reference underflows, close elsewhere."""
    spec = sc_neurocore.get_spec(name)
    monkeypatch.setenv(isa.ENV_EXP, exp)
    monkeypatch.setattr(elementwise, "kernels", native_build.KernelTable())
    kernels = elementwise.native_elementwise(spec)
    assert not isinstance(kernels, str), kernels
    for dtype in (torch.float32, torch.float64):
        x = _saturation_points(dtype)
        # grad_out * g(x) with grad_out 1: g(x) itself (a product by 1 is exact)
        got = kernels.backward(x, torch.ones_like(x), tuple(spec.defaults.values())).double()
        truth = spec.grad(x.double(), **spec.defaults)
        assert torch.equal(torch.isnan(got), torch.isnan(x)), f"{name}: NaN where x is not NaN"
        finite = ~torch.isnan(x)
        tiny = torch.finfo(dtype).tiny
        close = (got - truth).abs() <= 1e-5 * truth.abs() + 4 * tiny
        bad = finite & ~close
        assert not bad.any(), f"{name} {exp} {dtype}: {x[bad]} -> {got[bad]}, not {truth[bad]}"


def test_the_exp_choice_is_refused_by_name_when_unknown(monkeypatch) -> None:
    monkeypatch.setenv(isa.ENV_EXP, "fastest")
    with pytest.raises(ValueError, match="SC_NEUROCORE_NATIVE_EXP.*'fastest'"):
        isa.choose_target(True)


@pytest.mark.parametrize("name", ["avx512", "avx2", "generic"])
def test_a_build_without_libmvec_always_takes_the_own_exp(name: str, monkeypatch) -> None:
    monkeypatch.delenv(isa.ENV_EXP, raising=False)
    monkeypatch.setenv(isa.ENV_ISA, name)
    flags = isa.ISA_FLAGS[name][1]
    assert isa.choose_target(True, False, "x86_64", flags).own_exp
    assert isa.choose_target(True, True, "x86_64", flags).own_exp == isa.OWN_EXP[name]
    assert isa.choose_target(True, True, "aarch64").own_exp == isa.OWN_EXP["aarch64"]
    assert isa.choose_target(True, False, "x86_64", flags).own_exp_nonpositive
    chosen = isa.choose_target(True, True, "x86_64", flags)
    assert chosen.own_exp_nonpositive == isa.OWN_EXP_NONPOSITIVE[name]
    assert f"-DSC_OWN_EXP_NONPOSITIVE={int(chosen.own_exp_nonpositive)}" in chosen.compiler_flags()


@pytest.mark.parametrize(
    "expression",
    [
        *(sc_neurocore.get_spec(name).c_grad or "" for name in sc_neurocore.list_surrogates()),
        "exp(-exp(x)) + exp(x) * exp(-exp(x)) + expm1(x) + myexp(x)",
        "exp(x) + exp(exp(x))",
        "exp((x)",
    ],
)
def test_exp_calls_are_the_same_expression_in_two_parts(expression: str) -> None:
    """Putting each call back for its name gives the expression again (the element-wise
    kernel computes the calls over a block first, with the same operations), no whole exp
    call is left in the rest, and a name that merely ends in exp is not one."""
    calls, rest = native_build.exp_calls(expression)
    whole = rest
    for index in reversed(range(len(calls))):
        whole = re.sub(rf"\bsc_pre{index}\b", lambda _, c=calls[index]: c, whole)
    assert whole == expression
    if "((x)" not in expression:
        assert not re.search(rf"\b(?:exp|{native_build.EXP_NONPOSITIVE})\s*\(\(?x\)?\)", rest)
    assert ("myexp(x)" in rest) == ("myexp(x)" in expression)
