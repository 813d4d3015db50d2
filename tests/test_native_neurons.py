"""The compiled C kernels generated from a neuron's step program, beyond the parity suite
(tests/test_neurons.py runs them for every neuron x surrogate x reset x dtype): bfloat16 and
float16 storage, several threads and chunks, names that are C keywords or macros, and
pointers the C code must never receive."""

from __future__ import annotations

import pytest
import torch

from sc_neurocore.core.neuron_spec import NeuronSpec
from sc_neurocore.core.registry import get_neuron_spec, get_spec, list_neurons
from sc_neurocore.core.settings import use_kernel
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.native import neuron as native
from sc_neurocore.kernels.native import neuron_source
from sc_neurocore.kernels.neuron_choice import TorchNeuron, neuron_kernels
from sc_neurocore.kernels.torch.neuron import kernels_of
from sc_neurocore.testing.neurons import assert_close_scaled, check_fused_equals_stepwise

SURROGATE = get_spec("atan")
PARAMS = [2.0]


def _kernels(name: str, dtype: torch.dtype, per_neuron: tuple[bool, ...] | None = None):
    program = program_of(get_neuron_spec(name))
    found = native.native_neuron(
        program, SURROGATE, per_neuron or (False,) * len(program.params), dtype
    )
    if isinstance(found, str):
        pytest.skip(f"compiled kernels unavailable: {found}")
    return program, found


def _case(program, shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator, dtype=dtype) * 0.8 + 0.4
    states = [
        torch.randn(shape[1:], generator=generator, dtype=dtype) * 0.2 for _ in program.states
    ]
    grad_out = torch.randn(shape, generator=generator, dtype=dtype)
    grad_finals = [torch.randn(shape[1:], generator=generator, dtype=dtype) for _ in states]
    return x, states, grad_out, grad_finals


@pytest.mark.parametrize("storage", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("name", ["lif", "alif", "adex"])
def test_half_storage_computes_in_float32(name: str, storage: torch.dtype) -> None:
    """bf16/fp16 inputs are read exactly, computed in float32, written rounded: the same bits
    as the float32 kernels on the widened input, rounded once at the end (an ``exp`` may
    differ in its last bit where one library's loop vectorises and the other's does not)."""
    program, half = _kernels(name, storage)
    _, single = _kernels(name, torch.float32)
    x, states, grad_out, grad_finals = _case(program, (9, 2, 37), torch.float32)
    x16 = x.to(storage)
    params = dict(program.spec.params)
    out16, finals16 = half.forward(x16, states, params, PARAMS)
    out32, finals32 = single.forward(x16.float(), states, params, PARAMS)
    assert out16.dtype == storage and torch.equal(out16, out32.to(storage))
    exact = "exp" not in str(program.spec.update)
    tolerance = 0.0 if exact else 1e-5
    assert_close_scaled(finals32, finals16, tolerance, "finals")
    assert out32.any() and not out32.all(), "the drive should make some neurons spike"
    grads16 = half.backward(grad_out.to(storage), grad_finals, x16, states, params, PARAMS, True)
    grads32 = single.backward(
        grad_out.to(storage).float(), grad_finals, x16.float(), states, params, PARAMS, True
    )
    if exact:
        assert torch.equal(grads16[0], grads32[0].to(storage))
    else:
        assert_close_scaled([grads32[0].to(storage).float()], [grads16[0].float()], 1e-2)
    assert_close_scaled(grads32[1], grads16[1], tolerance, "grad states")
    sums = [grads32[2][p] for p in program.params], [grads16[2][p] for p in program.params]
    assert_close_scaled(*sums, tolerance, "grad params")


@pytest.mark.parametrize("name", ["lif", "cuba_lif", "izhikevich"])
def test_threads_chunks_and_broadcast_gradient_match_the_torch_family(name: str) -> None:
    """Two threads, several chunks with a ragged last one, per-neuron parameters, and an
    output gradient expanded from one value: as the torch family computes it."""
    first = get_neuron_spec(name).params[0][0]
    layout = tuple(p == first for p in get_neuron_spec(name).param_names)
    program, compiled = _kernels(name, torch.float64, layout)
    steps = 40
    width = 2 * native.chunk_neurons(steps * len(program.states), 8) + 37
    x, states, _, grad_finals = _case(program, (steps, 4, width), torch.float64, seed=3)
    if name == "izhikevich":
        x = x * 12
    params = dict(program.spec.params)
    params[first] = torch.linspace(0.5, 0.9, width, dtype=torch.float64)
    grad_out = torch.tensor(0.7, dtype=torch.float64).expand(x.shape)
    reference = TorchNeuron(kernels_of(program), SURROGATE)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out, finals = compiled.forward(x, states, params, PARAMS)
        grads = compiled.backward(grad_out, grad_finals, x, states, params, PARAMS, True)
    finally:
        torch.set_num_threads(threads)
    expected_out, expected_finals = reference.forward(x, states, params, PARAMS)
    expected = reference.backward(grad_out, grad_finals, x, states, params, PARAMS, True)
    assert torch.equal(out, expected_out) and out.any()
    assert_close_scaled(expected_finals, finals, 1e-12, "finals")
    assert_close_scaled([expected[0], *expected[1]], [grads[0], *grads[1]], 1e-9, "grads")
    assert_close_scaled(
        [expected[2][p] for p in program.params], [grads[2][p] for p in program.params], 1e-9
    )


@pytest.mark.parametrize("storage", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("width", [256, 37])
def test_streamed_outputs_equal_plain_stores(
    storage: torch.dtype, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outputs above ``STREAM_BYTES`` are written by non-temporal stores (where the row is
    aligned: 37 neurons leave most rows unaligned, the plain copy): the same bits."""
    program, compiled = _kernels("alif", storage)
    x, states, grad_out, grad_finals = _case(program, (6, 3, width), torch.float32, seed=5)
    x, grad_out = x.to(storage), grad_out.to(storage)
    params = dict(program.spec.params)

    def run() -> tuple:
        out, finals = compiled.forward(x, states, params, PARAMS)
        grads = compiled.backward(grad_out, grad_finals, x, states, params, PARAMS, True)
        return out.clone(), finals, grads[0].clone(), grads[1], grads[2]

    plain = run()
    monkeypatch.setattr(native, "STREAM_BYTES", 0)
    assert native._streams(x) == 1
    streamed = run()
    assert plain[0].any() and plain[2].abs().sum() > 0
    for expected, found in zip(plain, streamed):
        if isinstance(expected, dict):
            assert all(torch.equal(expected[p], found[p]) for p in expected)
        elif isinstance(expected, list):
            assert all(torch.equal(a, b) for a, b in zip(expected, found))
        else:
            assert torch.equal(expected, found)


def test_vector_math_calls_of_the_step_inputs_are_recorded_for_the_second_pass() -> None:
    """The backward's first pass records each exp of the step's inputs (states entering it,
    x, parameters) and the second reads it back; a call of an updated state is not one."""
    calls = neuron_source.memo_calls(program_of(get_neuron_spec("adex")))
    assert [call.function for call in calls] == ["exp"]
    assert neuron_source.memo_calls(program_of(get_neuron_spec("lif"))) == ()
    spec = NeuronSpec(
        "exp_of_updated", ("v",), (("beta", 0.9),), {"v": "beta*v + x"}, "exp(v) - 2", {"v": "v"}
    )
    assert neuron_source.memo_calls(program_of(spec)) == ()


@pytest.mark.parametrize("neuron", ["lif", "adex"])
@pytest.mark.parametrize("surrogate", ["sigmoid", "atan"])
def test_the_surrogates_exp_calls_are_recorded_by_the_first_pass(neuron: str, surrogate: str):
    """A row per distinct exp call of the surrogate's C form joins the history (what the
    chunk sizing counts), the C template records them in pass 1 and the gradients still
    equal the stepwise cells' (sigmoid: one exp call, atan: none)."""
    program, spec = program_of(get_neuron_spec(neuron)), get_spec(surrogate)
    calls = 1 if surrogate == "sigmoid" else 0
    expected = len(program.states) + len(neuron_source.memo_calls(program)) + calls
    assert neuron_source.history_rows(program, spec) == expected
    source = native.generate_source(
        program, spec, (False,) * len(program.params), torch.float32, True
    )
    assert f"#define CALLS {calls}" in source
    # the argument is recorded, then the block exp runs over the block's row
    assert ("sc_exp_nonpositive_block(callrows + 0 * chunk + b, e - b);" in source) == bool(calls)
    # and only then the block exp's vector code (its header costs every build 0.3 s)
    assert ("#define SC_EXP_BLOCKS 1" in source) == bool(calls)
    with use_kernel("native"):
        check_fused_equals_stepwise(get_neuron_spec(neuron), surrogate, "subtract", torch.float32)


def test_names_that_are_c_keywords_or_macros_compile_and_match() -> None:
    """User names never reach C (every variable is renamed by position)."""
    spec = NeuronSpec(
        "c_words",
        ("int", "I"),
        (("signed", 0.9), ("NULL", 1.0), ("restrict", 0.5)),
        {"int": "signed*int + x + I", "I": "restrict*I"},
        "int - NULL",
        {"int": "int - s*NULL", "I": "I + 0.1*s"},
    )
    with use_kernel("native"):
        assert neuron_kernels(program_of(spec), SURROGATE, torch.zeros(1)).family == "native"
        check_fused_equals_stepwise(spec, "atan", "subtract", torch.float64)
        check_fused_equals_stepwise(spec, "atan", "zero", torch.float32)


def test_the_c_code_never_receives_a_pointer_it_does_not_own() -> None:
    program, compiled = _kernels("lif", torch.float32)
    x, states, _, _ = _case(program, (4, 3, 5), torch.float32)
    params = dict(program.spec.params)
    strided = x.transpose(1, 2).contiguous().transpose(1, 2)
    with pytest.raises(RuntimeError, match=r"refusing to pass x \(Tensor on cpu"):
        native._pointer("x", strided, torch.float32, strided.numel())
    with pytest.raises(RuntimeError, match=r"refusing to pass out\[0\]"):
        native._pointers("out", [x[0].double()], torch.float32, x[0].numel())
    with pytest.raises(RuntimeError, match="kernels for torch.float32 were given torch.float64"):
        compiled.forward(x.double(), states, params, PARAMS)


def test_a_forced_native_family_that_cannot_run_names_the_reason() -> None:
    program = program_of(get_neuron_spec("lif"))
    with use_kernel("native"), pytest.raises(Exception, match="CPU tensors, not meta"):
        neuron_kernels(program, SURROGATE, torch.zeros(1, device="meta"))


def _arithmetic(spec: NeuronSpec) -> bool:
    """A step without transcendental functions (an exp may differ from torch's in its last
    bit: see kernels/native/neuron.py)."""
    return "exp(" not in f"{spec.update} {spec.fire} {spec.reset}"


SCALED = NeuronSpec(
    "scaled_drive",
    ("v",),
    (("beta", 0.9), ("rho", 0.3), ("threshold", 1.0)),
    {"v": "beta*v + x + rho*beta"},
    "v - threshold",
    {"v": "v - s*threshold"},
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    "spec",
    [s for s in map(get_neuron_spec, list_neurons()) if _arithmetic(s)] + [SCALED],
    ids=lambda s: s.name,
)
def test_states_are_bit_identical_to_the_torch_family(spec: NeuronSpec, dtype: torch.dtype):
    """Not only the spikes: every state after 30 steps, bit for bit (a product of two
    scalar params is rounded from double, as torch rounds the Python float it is given)."""
    program = program_of(spec)
    found = native.native_neuron(program, SURROGATE, (False,) * len(program.params), dtype)
    if isinstance(found, str):
        pytest.skip(f"compiled kernels unavailable: {found}")
    x, states, _, _ = _case(program, (30, 4, 50), dtype, seed=5)
    x = x * (12 if spec.name == "izhikevich" else 1)
    params = dict(spec.params)
    out, finals = found.forward(x, states, params, PARAMS)
    expected, expected_finals = TorchNeuron(kernels_of(program), SURROGATE).forward(
        x, states, params, PARAMS
    )
    assert torch.equal(out, expected)
    for state, got, want in zip(spec.states, finals, expected_finals):
        assert torch.equal(got, want), f"state {state}: max |diff| {(got - want).abs().max()}"


@pytest.mark.parametrize("index", range(len(get_neuron_spec("alif").params)))
def test_any_one_parameter_per_neuron_reads_its_own_array(index: int) -> None:
    """Only parameter ``index`` per-neuron (the others scalars): the C code finds its array
    among the per-neuron ones (a later parameter once read past the end of that list)."""
    names = get_neuron_spec("alif").param_names
    layout = tuple(i == index for i in range(len(names)))
    program, compiled = _kernels("alif", torch.float64, layout)
    x, states, grad_out, grad_finals = _case(program, (12, 3, 20), torch.float64, seed=5)
    params = dict(program.spec.params)
    params[names[index]] = params[names[index]] * torch.linspace(0.9, 1.1, 20, dtype=x.dtype)
    reference = TorchNeuron(kernels_of(program), SURROGATE)
    out, finals = compiled.forward(x, states, params, PARAMS)
    grads = compiled.backward(grad_out, grad_finals, x, states, params, PARAMS, True)
    expected_out, expected_finals = reference.forward(x, states, params, PARAMS)
    expected = reference.backward(grad_out, grad_finals, x, states, params, PARAMS, True)
    assert torch.equal(out, expected_out)
    assert_close_scaled(expected_finals, finals, 1e-12, "finals")
    assert_close_scaled([expected[0], *expected[1]], [grads[0], *grads[1]], 1e-9, "grads")
    assert_close_scaled(
        [expected[2][p] for p in program.params], [grads[2][p] for p in program.params], 1e-9
    )
