"""The compiled C kernels behind the fused layers (the neuron operators generated from the
built-in specs, ``LIF`` runs ``lif``): each spec's ``c_grad`` against its torch ``grad``,
the compiled kernels against the torch kernels on a multi-threaded size, every build the
loader may fall back to, every vector-extension cap, and every way the build can be
unavailable falling back to the torch kernels with the same results."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import subprocess
import sys

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.spec import SurrogateSpec
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.native import build as _build_module
from sc_neurocore.kernels.native import neuron as _native
from sc_neurocore.kernels.native.build import KernelTable
from sc_neurocore.kernels.native.elementwise import NativeElementwise, native_elementwise
from sc_neurocore.kernels.native.runtime import ENV_SWITCH, set_native_enabled
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.neurons.neuron_op import builtin_neuron

NATIVE_SPECS = [s for s in map(sc_neurocore.get_spec, sc_neurocore.list_surrogates()) if s.c_grad]
#: The step program the LIF layer runs, and its (beta, threshold) given as scalars.
LIF_PROGRAM = program_of(builtin_neuron("lif"))
SCALARS = (False, False)


def _compiled(
    spec: SurrogateSpec, dtype: torch.dtype = torch.float64, layout: tuple[bool, ...] = SCALARS
) -> _native.NativeNeuron:
    found = _native.native_neuron(LIF_PROGRAM, spec, layout, dtype)
    if isinstance(found, str):
        pytest.skip(f"compiled kernels unavailable here: {found}")
    return found


def _c_grad(spec: SurrogateSpec) -> NativeElementwise:
    found = native_elementwise(spec)
    if isinstance(found, str):
        pytest.skip(f"compiled kernels unavailable here: {found}")
    return found


def _run(kernels: _native.NativeNeuron, x: torch.Tensor, params: list[float]) -> list:
    """Forward and backward of the LIF kernels (beta 0.8, threshold 0.9) with sums."""
    torch.manual_seed(1)
    grad_spikes, grad_v = torch.randn_like(x), torch.randn_like(x[0])
    values, state = {"beta": 0.8, "threshold": 0.9}, [torch.zeros_like(x[0])]
    spikes, (v,) = kernels.forward(x, state, values, params)
    spikes, v = spikes.clone(), v.clone()  # the output buffers are pooled
    grad_x, _, sums = kernels.backward(grad_spikes, [grad_v], x, state, values, params, True)
    return [spikes, v, grad_x.clone(), *sums.values()]


@pytest.fixture
def fresh_builds(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """An empty kernel cache and no remembered builds, restored afterwards."""
    monkeypatch.setattr(_native, "kernels", KernelTable())
    monkeypatch.setenv(_build_module.ENV_CACHE, str(tmp_path))
    return tmp_path


def test_every_builtin_surrogate_has_a_c_grad() -> None:
    builtins = {"fast_sigmoid", "superspike", "atan", "sigmoid", "straight_through", "triangular"}
    assert builtins <= {spec.name for spec in NATIVE_SPECS}


@pytest.mark.parametrize("spec", NATIVE_SPECS, ids=lambda spec: spec.name)
@pytest.mark.parametrize("scale", [1.0, 1.7], ids=["defaults", "moved"])
def test_c_grad_matches_the_torch_grad(spec: SurrogateSpec, scale: float) -> None:
    kernels = _c_grad(spec)
    params = {name: default * scale for name, default in spec.params}
    x = torch.cat([torch.linspace(-3, 3, 2001, dtype=torch.float64), torch.tensor([0.0, -0.0])])
    expected = spec.grad(x, **params)
    values = tuple(params.values())
    got = kernels.backward(x, torch.ones_like(x), values)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    got32 = kernels.backward(x.float(), torch.ones_like(x.float()), values)
    torch.testing.assert_close(got32, expected.float(), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("spec", NATIVE_SPECS, ids=lambda spec: spec.name)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_c_grad_is_finite_and_non_negative_at_extremes(spec, dtype) -> None:
    kernels = _c_grad(spec)
    info = torch.finfo(dtype)
    x = torch.tensor([1e30, -1e30, info.max, -info.max, info.tiny, 0.0], dtype=dtype)
    got = kernels.backward(x, torch.ones_like(x), tuple(spec.defaults.values()))
    assert bool(got.isfinite().all()) and bool((got >= 0).all()), got


@pytest.mark.parametrize("name", [spec.name for spec in NATIVE_SPECS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_compiled_kernels_match_torch_kernels_across_threads_and_chunks(name, dtype) -> None:
    _compiled(sc_neurocore.get_spec(name), dtype)
    torch.manual_seed(0)
    # 3 x 7 x 5003 neurons: several chunks per thread, sizes that are not multiples of 16.
    x = (torch.randn(24, 3, 7, 5003, dtype=dtype) * 0.6 + 0.3).requires_grad_(True)
    v0 = torch.randn(3, 7, 5003, dtype=dtype).requires_grad_(True)
    weights = torch.randn(24, 3, 7, 5003, dtype=dtype)
    layer = LIF(beta=0.85, threshold=0.9, surrogate_fn=sc_neurocore.get_surrogate(name))
    layer.to(dtype)
    results = []
    for compiled in (True, False):
        previous = set_native_enabled(compiled)
        try:
            spikes, v = layer(x, v0)
            grads = torch.autograd.grad((spikes * weights).sum() + v.sum(), [x, v0])
        finally:
            set_native_enabled(previous)
        results.append((spikes, v, *grads))
    assert torch.equal(results[0][0], results[1][0]), "spikes must be bit-identical"
    assert torch.equal(results[0][1], results[1][1])
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {}
    for mine, reference in zip(results[0][2:], results[1][2:]):
        torch.testing.assert_close(mine, reference, **tolerance)


def test_a_c_grad_that_does_not_compile_falls_back_with_the_compiler_message(fresh_builds):
    broken = dataclasses.replace(sc_neurocore.get_spec("atan"), c_grad="alpha +* x")
    _compiled(sc_neurocore.get_spec("atan"), torch.float32)  # skips without a compiler
    status = _native.native_neuron(LIF_PROGRAM, broken, SCALARS, torch.float32)
    assert isinstance(status, str) and "failed" in status and "error" in status, status


def test_no_compiler_is_reported_and_the_layer_still_runs(fresh_builds, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-sc-neurocore")
    spec = sc_neurocore.get_spec("atan")
    status = _native.native_neuron(LIF_PROGRAM, spec, SCALARS, torch.float32)
    assert status == "no C compiler found (set CC or install cc)"
    x = torch.randn(5, 2, 3, requires_grad=True)
    spikes, _ = LIF()(x)
    spikes.sum().backward()
    assert x.grad is not None and bool(x.grad.ne(0).any())


def test_a_spec_without_c_grad_is_reported() -> None:
    plain = dataclasses.replace(sc_neurocore.get_spec("atan"), c_grad=None, formula=None)
    assert "no C form" in str(_native.native_neuron(LIF_PROGRAM, plain, SCALARS, torch.float32))


def test_builds_are_cached_on_disk_and_reused(fresh_builds, monkeypatch):
    spec = sc_neurocore.get_spec("superspike")
    _compiled(spec)
    built = sorted(fresh_builds.glob("neuron_lif-superspike_f64_*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(_native, "kernels", KernelTable())
    monkeypatch.setattr(_build_module.subprocess, "run", _refuse_to_compile)
    assert not isinstance(_native.native_neuron(LIF_PROGRAM, spec, SCALARS, torch.float64), str)
    assert built[0].stat().st_mtime_ns == stamp


def _refuse_to_compile(*args, **kwargs):
    raise AssertionError("a cached kernel must not be rebuilt")


def test_disabled_by_environment_variable_in_a_fresh_process() -> None:
    code = (
        "import sc_neurocore, torch\n"
        "from sc_neurocore.neurons.fused import compiled_kernel_status, fused_kernel\n"
        "print(compiled_kernel_status('atan'))\n"
        "print(fused_kernel('atan')[0])\n"
    )
    env = {**os.environ, ENV_SWITCH: "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "disabled (SC_NEUROCORE_NATIVE=0 or set_native_enabled(False))",
        "torch",
    ]


def test_only_cpu_floating_tensors_use_compiled_kernels() -> None:
    spec = sc_neurocore.get_spec("atan")
    for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        _compiled(spec, dtype)
        assert fused_kernel_on("cpu", dtype) == "native"
    assert isinstance(_native.native_neuron(LIF_PROGRAM, spec, SCALARS, torch.int32), str)
    assert fused_kernel_on("meta", torch.float32) != "native"


@pytest.mark.parametrize("bad", [3, ""], ids=["not-a-string", "empty"])
def test_spec_rejects_a_bad_c_grad(bad: object) -> None:
    spec = sc_neurocore.get_spec("atan")
    with pytest.raises(TypeError, match="c_grad must be a non-empty string"):
        dataclasses.replace(spec, c_grad=bad)


def fused_kernel_on(kind: str, dtype: torch.dtype) -> str:
    """The family the LIF's operator runs on ``kind``/``dtype`` tensors (the selector's)."""
    from sc_neurocore.kernels.neuron_choice import neuron_choice

    return neuron_choice(LIF_PROGRAM, sc_neurocore.get_spec("atan"), kind, dtype)[0]


@pytest.mark.parametrize("options", _build_module.BUILD_ATTEMPTS[1:], ids=repr)
def test_every_fallback_build_computes_the_same(options: _build_module.BuildOptions) -> None:
    spec = sc_neurocore.get_spec("sigmoid")
    default = _compiled(spec, torch.float64)
    source = _native.generate_source(LIF_PROGRAM, spec, SCALARS, torch.float64, options.vector_math)
    try:
        library = ctypes.CDLL(str(_build_module.build_library("fallback_test", source, options)))
    except RuntimeError as error:
        pytest.skip(f"this build cannot be made here: {error}")
    _native._declare(library, "f64")
    other = _native.NativeNeuron(LIF_PROGRAM, spec, library, SCALARS, torch.float64)
    x = torch.randn(20, 4, 9000, dtype=torch.float64) * 0.6 + 0.3  # two threads, several chunks
    results = [_run(kernels, x, [5.0]) for kernels in (default, other)]
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    for mine, reference in zip(results[1][2:], results[0][2:]):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)


def test_public_switch_and_status() -> None:
    from sc_neurocore.training import compiled_kernel_status, set_compiled_kernels

    expected = fused_kernel_on("cpu", torch.float32)
    assert (compiled_kernel_status("atan") == "compiled") == (expected == "native")
    previous = set_compiled_kernels(False)
    try:
        assert compiled_kernel_status("atan").startswith("disabled")
        assert fused_kernel_on("cpu", torch.float32) == "torch"
    finally:
        assert set_compiled_kernels(previous) is False
    with pytest.raises(LookupError, match="no_such_surrogate"):
        compiled_kernel_status("no_such_surrogate")


@pytest.mark.parametrize("isa", list(_build_module.ISA_CHOICES))
def test_every_vector_extension_computes_the_same(isa: str, monkeypatch, fresh_builds) -> None:
    """Each SC_NEUROCORE_NATIVE_ISA cap builds (the widest the CPU has up to the cap) and
    gives the same spikes, bit for bit, and the same gradients as the widest build."""
    spec = sc_neurocore.get_spec("sigmoid")
    widest = _compiled(spec, torch.float32)
    monkeypatch.setenv(_build_module.ENV_ISA, isa)
    monkeypatch.setattr(_native, "kernels", KernelTable())
    capped = _compiled(spec, torch.float32)
    torch.manual_seed(2)
    x = torch.randn(12, 3, 5000) * 0.6 + 0.3
    results = [_run(kernels, x, [5.0]) for kernels in (widest, capped)]
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    torch.testing.assert_close(results[1][2], results[0][2], rtol=1e-5, atol=1e-6)
    # The parameter sums add 12 steps' terms, which differ in their last bits (exp): held
    # to the float32 rounding of their largest magnitude.
    for mine, reference in zip(results[1][3:], results[0][3:]):
        scale = float(reference.abs().max())
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("spec", NATIVE_SPECS, ids=lambda spec: spec.name)
def test_auto_gives_vector_math_kernels_the_widest_extension(spec, monkeypatch) -> None:
    """Unset (``auto``): a c_grad calling exp/cosh/... builds like the ``avx512`` cap, every
    other kernel like the ``avx2`` cap."""
    assert spec.c_grad is not None
    compute_bound = _build_module.calls_vector_math(spec.c_grad)
    formula = spec.parsed_formula()
    if formula is not None:
        # the formula's sigmoid() is written with exp() in C
        called = formula.uses() | ({"exp"} if "sigmoid" in formula.uses() else set())
        assert compute_bound == bool(called & set(_build_module.VECTOR_FUNCTIONS))
    monkeypatch.delenv(_build_module.ENV_ISA, raising=False)
    chosen = _build_module._cpu_flags(compute_bound)
    monkeypatch.setenv(_build_module.ENV_ISA, "avx512" if compute_bound else "avx2")
    assert chosen == _build_module._cpu_flags(compute_bound)


def test_vector_math_calls_are_recognised_in_c_expressions() -> None:
    recognised = _build_module.calls_vector_math
    assert recognised("(a * exp((-fabs(x))))") and recognised("cosh (x)")
    assert not recognised("(a / (1 + x * x))") and not recognised("fabs(x) * expm")


def test_an_unknown_vector_extension_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv(_build_module.ENV_ISA, "avx9000")
    with pytest.raises(ValueError, match="SC_NEUROCORE_NATIVE_ISA.*'avx9000'"):
        _build_module.compiler_command(_build_module.BUILD_ATTEMPTS[0])
