"""The compiled fused-LIF kernels: each spec's ``c_grad`` against its torch ``grad``, the
compiled kernels against the torch kernels on a multi-threaded size, and every way the
build can be unavailable falling back to the torch kernels with the same results."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.spec import SurrogateSpec
from sc_neurocore.kernels.native import build as _build_module
from sc_neurocore.kernels.native import lif as _native
from sc_neurocore.kernels.native.build import KernelTable
from sc_neurocore.neurons.fused import LIF

NATIVE_SPECS = [s for s in map(sc_neurocore.get_spec, sc_neurocore.list_surrogates()) if s.c_grad]


def _compiled(spec: SurrogateSpec) -> _native.NativeLIF:
    status = _native.native_status(spec)
    if status != "native":
        pytest.skip(f"compiled kernels unavailable here: {status}")
    kernels = _native.native_lif(spec, torch.zeros(1, 1))
    assert kernels is not None
    return kernels


@pytest.fixture
def fresh_builds(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """An empty kernel cache and no remembered builds, restored afterwards."""
    monkeypatch.setattr(_native, "kernels", KernelTable())
    monkeypatch.setenv(_native.ENV_CACHE, str(tmp_path))
    return tmp_path


def test_every_builtin_surrogate_has_a_c_grad() -> None:
    builtins = {"fast_sigmoid", "superspike", "atan", "sigmoid", "straight_through", "triangular"}
    assert builtins <= {spec.name for spec in NATIVE_SPECS}


@pytest.mark.parametrize("spec", NATIVE_SPECS, ids=lambda spec: spec.name)
@pytest.mark.parametrize("scale", [1.0, 1.7], ids=["defaults", "moved"])
def test_c_grad_matches_the_torch_grad(spec: SurrogateSpec, scale: float) -> None:
    kernels = _compiled(spec)
    params = {name: default * scale for name, default in spec.params}
    x = torch.cat([torch.linspace(-3, 3, 2001, dtype=torch.float64), torch.tensor([0.0, -0.0])])
    expected = spec.grad(x, **params)
    got = kernels.surrogate(x, list(params.values()))
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)
    got32 = kernels.surrogate(x.float(), list(params.values()))
    torch.testing.assert_close(got32, expected.float(), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("spec", NATIVE_SPECS, ids=lambda spec: spec.name)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_c_grad_is_finite_and_non_negative_at_extremes(spec, dtype) -> None:
    kernels = _compiled(spec)
    info = torch.finfo(dtype)
    x = torch.tensor([1e30, -1e30, info.max, -info.max, info.tiny, 0.0], dtype=dtype)
    got = kernels.surrogate(x, list(spec.defaults.values()))
    assert bool(got.isfinite().all()) and bool((got >= 0).all()), got


@pytest.mark.parametrize("name", [spec.name for spec in NATIVE_SPECS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_compiled_kernels_match_torch_kernels_across_threads_and_chunks(name, dtype) -> None:
    _compiled(sc_neurocore.get_spec(name))
    torch.manual_seed(0)
    # 3 x 7 x 5003 neurons: several chunks per thread, sizes that are not multiples of 16.
    x = (torch.randn(24, 3, 7, 5003, dtype=dtype) * 0.6 + 0.3).requires_grad_(True)
    v0 = torch.randn(3, 7, 5003, dtype=dtype).requires_grad_(True)
    weights = torch.randn(24, 3, 7, 5003, dtype=dtype)
    layer = LIF(beta=0.85, threshold=0.9, surrogate_fn=sc_neurocore.get_surrogate(name))
    layer.to(dtype)
    results = []
    for compiled in (True, False):
        previous = _native.set_native_enabled(compiled)
        try:
            spikes, v = layer(x, v0)
            grads = torch.autograd.grad((spikes * weights).sum() + v.sum(), [x, v0])
        finally:
            _native.set_native_enabled(previous)
        results.append((spikes, v, *grads))
    assert torch.equal(results[0][0], results[1][0]), "spikes must be bit-identical"
    assert torch.equal(results[0][1], results[1][1])
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {}
    for mine, reference in zip(results[0][2:], results[1][2:]):
        torch.testing.assert_close(mine, reference, **tolerance)


def test_a_c_grad_that_does_not_compile_falls_back_with_the_compiler_message(fresh_builds):
    broken = dataclasses.replace(sc_neurocore.get_spec("atan"), c_grad="alpha +* x")
    if _native.native_status(sc_neurocore.get_spec("atan")) != "native":
        pytest.skip("no working compiler here")
    status = _native.native_status(broken)
    assert "failed" in status and "error" in status, status
    assert _native.native_lif(broken, torch.zeros(2, 2)) is None


def test_no_compiler_is_reported_and_the_layer_still_runs(fresh_builds, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-sc-neurocore")
    spec = sc_neurocore.get_spec("atan")
    assert _native.native_status(spec) == "no C compiler found (set CC or install cc)"
    assert _native.native_lif(spec, torch.zeros(2, 2)) is None
    x = torch.randn(5, 2, 3, requires_grad=True)
    spikes, _ = LIF()(x)
    spikes.sum().backward()
    assert x.grad is not None and bool(x.grad.ne(0).any())


def test_a_spec_without_c_grad_is_reported() -> None:
    plain = dataclasses.replace(sc_neurocore.get_spec("atan"), c_grad=None, formula=None)
    assert "no c_grad" in _native.native_status(plain)


def test_builds_are_cached_on_disk_and_reused(fresh_builds, monkeypatch):
    spec = sc_neurocore.get_spec("superspike")
    _compiled(spec)
    built = sorted(fresh_builds.glob("lif_superspike_*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(_native, "kernels", KernelTable())
    monkeypatch.setattr(_native.subprocess, "run", _refuse_to_compile)
    assert _native.native_status(spec) == "native"
    assert built[0].stat().st_mtime_ns == stamp


def _refuse_to_compile(*args, **kwargs):
    raise AssertionError("a cached kernel must not be rebuilt")


def test_disabled_by_environment_variable_in_a_fresh_process() -> None:
    code = (
        "import sc_neurocore, torch\n"
        "from sc_neurocore.kernels.native import lif as _native\n"
        "print(_native.native_status(sc_neurocore.get_spec('atan')))\n"
        "print(_native.native_lif(sc_neurocore.get_spec('atan'), torch.zeros(2, 2)))\n"
    )
    env = {**os.environ, _native.ENV_SWITCH: "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "disabled (SC_NEUROCORE_NATIVE=0 or set_native_enabled(False))",
        "None",
    ]


def test_only_cpu_floating_tensors_use_compiled_kernels() -> None:
    spec = sc_neurocore.get_spec("atan")
    _compiled(spec)
    for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        assert _native.native_lif(spec, torch.zeros(2, 2, dtype=dtype)) is not None
    assert _native.native_lif(spec, torch.zeros(2, 2, dtype=torch.int32)) is None
    assert _native.native_lif(spec, torch.zeros(2, 2, device="meta")) is None


@pytest.mark.parametrize("bad", [3, ""], ids=["not-a-string", "empty"])
def test_spec_rejects_a_bad_c_grad(bad: object) -> None:
    spec = sc_neurocore.get_spec("atan")
    with pytest.raises(TypeError, match="c_grad must be a non-empty string"):
        dataclasses.replace(spec, c_grad=bad)


@pytest.mark.parametrize("options", _native.BUILD_ATTEMPTS[1:], ids=repr)
def test_every_fallback_build_computes_the_same(options: _native.BuildOptions) -> None:
    spec = sc_neurocore.get_spec("sigmoid")
    default = _compiled(spec)
    try:
        library = _native.ctypes.CDLL(str(_native._build(spec, options)))
    except RuntimeError as error:
        pytest.skip(f"this build cannot be made here: {error}")
    for suffix in ("f32", "f64"):
        _native._declare(library, suffix)
    other = _native.NativeLIF(spec, library)
    torch.manual_seed(1)
    x = torch.randn(20, 4, 9000, dtype=torch.float64) * 0.6 + 0.3  # two threads, several chunks
    grad_spikes, grad_v = torch.randn_like(x), torch.randn_like(x[0])
    results = []
    for kernels in (default, other):
        spikes, v = kernels.forward(x, None, 0.8, 0.9, torch.empty_like(x))
        sums = (torch.zeros_like(x[0]), torch.zeros_like(x[0]))
        grad = kernels.backward(
            grad_spikes, grad_v, x, None, 0.8, 0.9, [5.0], torch.empty_like(x), sums
        )
        results.append((spikes, v, grad, *sums))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    for mine, reference in zip(results[1][2:], results[0][2:]):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)


def test_public_switch_and_status() -> None:
    from sc_neurocore.training import compiled_kernel_status, set_compiled_kernels

    expected = _native.native_status(sc_neurocore.get_spec("atan"))
    assert compiled_kernel_status("atan") == ("compiled" if expected == "native" else expected)
    previous = set_compiled_kernels(False)
    try:
        assert compiled_kernel_status("atan").startswith("disabled")
        assert _native.native_lif(sc_neurocore.get_spec("atan"), torch.zeros(2, 2)) is None
    finally:
        assert set_compiled_kernels(previous) is False
    with pytest.raises(LookupError, match="no_such_surrogate"):
        compiled_kernel_status("no_such_surrogate")


@pytest.mark.parametrize("isa", list(_build_module.ISA_CHOICES))
def test_every_vector_extension_computes_the_same(isa: str, monkeypatch, fresh_builds) -> None:
    """Each SC_NEUROCORE_NATIVE_ISA cap builds (the widest the CPU has up to the cap) and
    gives the same spikes, bit for bit, and the same gradients as the widest build."""
    spec = sc_neurocore.get_spec("sigmoid")
    widest = _compiled(spec)
    monkeypatch.setenv(_build_module.ENV_ISA, isa)
    monkeypatch.setattr(_native, "kernels", KernelTable())
    capped = _compiled(spec)
    torch.manual_seed(2)
    x = torch.randn(12, 3, 5000) * 0.6 + 0.3
    grad_spikes, grad_v = torch.randn_like(x), torch.randn_like(x[0])
    results = []
    for kernels in (widest, capped):
        spikes, v = kernels.forward(x, None, 0.8, 0.9, torch.empty_like(x))
        grad = kernels.backward(
            grad_spikes, grad_v, x, None, 0.8, 0.9, [5.0], torch.empty_like(x), None
        )
        results.append((spikes, v, grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    torch.testing.assert_close(results[1][2], results[0][2], rtol=1e-5, atol=1e-6)


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
        _build_module.compiler_command(_native.BUILD_ATTEMPTS[0])
