"""What every Triton launch must do, checked on the launch code itself (no GPU needed).

- No host sync: nothing on the launch path reads a tensor on the host (``.item()``,
  ``.tolist()``, ``.cpu()``, ``float(...)``, ``bool(...)``) or copies a Python number to the
  device (``torch.tensor(..., device=...)``); read from the source, from each launch entry
  point through the functions it calls.
- A device guard around every launch (Triton launches on the current device).
- Through the real binding (:mod:`sc_neurocore.kernels.triton.capture`): no buffer a kernel
  writes is passed as another argument, options are explicit, and the compiled IR computes
  no offset as a product of two 32-bit runtime values (which passes 2**31 on large layers).
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
import torch

import sc_neurocore
from sc_neurocore.kernels.torch.neuron import kernel_value
from sc_neurocore.kernels.triton import elementwise, launch, neuron
from sc_neurocore.kernels.triton.compile_report import launch_problems, launch_ttir, worker_pool
from sc_neurocore.kernels.triton.launch_cases import launch_cases

pytest.importorskip("triton", reason="triton is not installed (the dev extra has it)")

#: Where the launch path starts: every method and function that launches a kernel.
ENTRY_POINTS: list[Callable[..., object]] = [
    elementwise.spike,
    elementwise.backward,
    neuron.TritonNeuron.forward,
    neuron.TritonNeuron.backward,
]
LAUNCH_MODULES: list[ModuleType] = [elementwise, neuron, launch]
HOST_READS = {"item", "tolist", "cpu", "numpy"}


def _function_defs() -> dict[str, ast.FunctionDef]:
    defs: dict[str, ast.FunctionDef] = {}
    for module in LAUNCH_MODULES:
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.FunctionDef):
                defs.setdefault(node.name, node)
    return defs


def _reachable() -> Iterator[ast.FunctionDef]:
    """The entry points and every function of the launch modules they call, transitively."""
    defs = _function_defs()
    pending = [ast.parse(textwrap.dedent(inspect.getsource(f))).body[0] for f in ENTRY_POINTS]
    seen: set[str] = set()
    while pending:
        function = pending.pop()
        if function.name in seen or not isinstance(function, ast.FunctionDef):
            continue
        seen.add(function.name)
        yield function
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else None
                name = node.func.id if isinstance(node.func, ast.Name) else name
                if name in defs:
                    pending.append(defs[name])


def _host_syncs(function: ast.FunctionDef) -> list[str]:
    found = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        call = ast.unparse(node.func)
        if isinstance(node.func, ast.Attribute) and node.func.attr in HOST_READS:
            found.append(ast.unparse(node))
        elif call in ("float", "bool") and not all(isinstance(a, ast.Constant) for a in node.args):
            found.append(ast.unparse(node))
        elif call in ("torch.tensor", "torch.as_tensor") and any(
            keyword.arg == "device" for keyword in node.keywords
        ):
            found.append(ast.unparse(node))
    return [f"{function.name}: {text}" for text in found]


def test_the_launch_path_never_syncs_with_the_host() -> None:
    functions = list(_reachable())
    names = {function.name for function in functions}
    assert {"forward", "backward", "spike", "parameter", "_launch"} <= names  # it was followed
    problems = [problem for function in functions for problem in _host_syncs(function)]
    assert not problems, problems


def test_the_scan_finds_a_host_sync_where_there_is_one() -> None:
    """The old launch code read a one-element tensor with .item() and copied floats into
    fresh device tensors: the scan must see both forms."""
    old = ast.parse(
        "def per_neuron(value, x):\n"
        "    if value.numel() == 1:\n"
        "        return float(value.item())\n"
        "    return torch.tensor([value], dtype=torch.float64, device=x.device)\n"
    ).body[0]
    assert isinstance(old, ast.FunctionDef) and len(_host_syncs(old)) == 3


def test_every_launch_is_inside_a_device_guard() -> None:
    launches = 0
    for module in LAUNCH_MODULES:
        tree = ast.parse(inspect.getsource(module))
        guarded: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and "on_device" in ast.unparse(node.items[0]):
                guarded |= {id(child) for child in ast.walk(node)}
        for node in ast.walk(tree):  # kernel[grid](...) is a call of a subscript
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript):
                launches += 1
                assert id(node) in guarded, f"{module.__name__}: {ast.unparse(node)[:80]}"
    assert launches >= 4  # the element-wise spike and backward, a neuron forward and backward


def test_a_device_scalar_stays_on_the_device() -> None:
    """A one-element tensor off the CPU is not read on the host (``.item()`` on a CUDA tensor
    waits for the GPU); the meta device stands in for CUDA here and refuses any read."""
    value = torch.full((1,), 0.9, device="meta")
    kept = kernel_value(value, torch.float32)
    assert isinstance(kept, torch.Tensor) and kept.device.type == "meta"
    assert kernel_value(torch.tensor(0.5, dtype=torch.float64), torch.float32) == 0.5


def _specs() -> list[sc_neurocore.SurrogateSpec]:
    return [sc_neurocore.get_spec(name) for name in sc_neurocore.list_surrogates()]


def _neurons() -> list[sc_neurocore.NeuronSpec]:
    """Every registered neuron (a plugin's included): its generated kernels are compiled."""
    return [sc_neurocore.get_neuron_spec(name) for name in sc_neurocore.list_neurons()]


def test_no_written_buffer_is_passed_twice_and_options_are_explicit() -> None:
    cases = launch_cases(_specs(), neuron_specs=_neurons())
    with worker_pool(2) as pool:
        found = pool.map(launch_problems, cases, ["cuda:90"] * len(cases), chunksize=16)
        problems = sorted({problem for problems in found for problem in problems})
    assert not problems, problems


#: ``%a = arith.muli %b, %c : i32`` (or a tensor of i32): a 32-bit product.
_MULTIPLY = re.compile(r"(%[\w.]+) = arith\.muli (%[\w.]+), (%[\w.]+) : (?:tensor<[\dx]+)?i32\b")
_CONSTANT = re.compile(r"(%[\w.]+) = arith\.constant ")


def thirty_two_bit_products(ttir: str) -> list[str]:
    """Products of two 32-bit runtime values (an index times a size overflows past 2**31)."""
    constants = set(_CONSTANT.findall(ttir))
    return [
        match.group(0)
        for match in _MULTIPLY.finditer(ttir)
        if match.group(2) not in constants and match.group(3) not in constants
    ]


def test_offsets_are_computed_in_64_bits() -> None:
    cases = launch_cases(_specs()[:1], neuron_specs=_neurons())
    one_each = {(case.op, case.kernel, case.dtype): case for case in cases}  # each kernel body
    with worker_pool(2) as pool:
        texts = list(pool.map(launch_ttir, one_each.values(), ["cuda:90"] * len(one_each)))
    assert len(texts) >= 6 * 4
    problems = {
        f"{key}: {product}"
        for key, (ttir,) in zip(one_each, texts)
        for product in thirty_two_bit_products(ttir)
    }
    assert not problems, problems


def test_the_ir_scan_finds_the_old_checkpoint_offset() -> None:
    old = (
        "%c8_i32 = arith.constant 8 : i32\n"
        "%0 = arith.divsi %step, %c8_i32 : i32\n"
        "%1 = arith.muli %0, %n : i32\n"  # (step // CHUNK) * n, before the fix
        "%2 = arith.muli %chunk, %c8_i32 : i32\n"  # chunk * CHUNK: bounded by T, allowed
    )
    assert thirty_two_bit_products(old) == ["%1 = arith.muli %0, %n : i32"]
