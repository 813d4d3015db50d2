"""Compiled C kernels of any neuron's step program: generated from its equations, cached.

:func:`generate_source` writes ``neuron.c`` out for one step program
(:mod:`sc_neurocore.core.step_program`) and one surrogate: every assignment of the program
becomes one C statement (:func:`~sc_neurocore.core.formula.c_expression` of the tree with
its variables renamed to safe C identifiers), evaluated in the program's order with no
contraction, so the spikes equal the torch kernels' bit for bit.  Parameters are scalars
(read as the Python floats torch sees: an expression of scalar parameters alone is computed
in double, as Python computes it before it meets a tensor) or per-neuron arrays; which of
them are arrays is part of the source, so the common all-scalar case pays for no loads.

The build, the trusted cache and the instruction set are :mod:`.build`'s: one library per
(program, surrogate, layout of the parameters), built on first use and loaded once per
process.  Float32 and float64 compute in their own type; bfloat16 and float16 inputs are
read and written as they are and computed in float32 (``half.c``).
"""

from __future__ import annotations

import ctypes
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ...core.derivative import names_in, renamed
from ...core.expression import Bin, Call, Compare, Neg, Node, Num, Var
from ...core.formula import c_expression
from ...core.spec import SurrogateSpec
from ...core.step_program import (
    FIRE,
    GRAD_FIRE,
    GRAD_OUT,
    GRAD_X,
    SPIKE_VALUE,
    SURROGATE_GRAD,
    StepProgram,
    grad_in,
    grad_param,
    grad_prev,
    grad_updated,
    new,
    updated,
)
from .build import KernelTable, calls_vector_math, fill_template, load_library
from .lif import COMPUTE, DTYPES, STEPS_PER_THREAD, chunk_neurons

__all__ = ["DTYPES", "NativeNeuron", "generate_source", "native_neuron"]

SOURCE = Path(__file__).with_name("neuron.c")
_VOID, _I64, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int


def c_names(program: StepProgram) -> dict[str, str]:
    """Every name of ``program`` -> its C identifier (by position: no user name reaches C)."""
    names = {"x": "xin", FIRE: "fire", SPIKE_VALUE: "spike", SURROGATE_GRAD: "sg"}
    names.update({GRAD_OUT: "go", GRAD_FIRE: "gf", GRAD_X: "gx"})
    for k, state in enumerate(program.states):
        names[state] = f"s{k}"
        for prefix, name in (("u", updated), ("n", new), ("g", grad_in)):
            names[name(state)] = f"{prefix}{k}"
        names[grad_updated(state)], names[grad_prev(state)] = f"gu{k}", f"gp{k}"
    for j, param in enumerate(program.params):
        names[param], names[grad_param(param)] = f"p{j}", f"dp{j}"
    return names


def _rebuilt(node: Node, child: Callable[[Node], Node]) -> Node:
    """``node`` with ``child`` applied to each of its operands."""
    if isinstance(node, Neg):
        return Neg(child(node.operand))
    if isinstance(node, (Bin, Compare)):
        return dataclasses.replace(node, left=child(node.left), right=child(node.right))
    if isinstance(node, Call):
        return Call(node.function, tuple(child(a) for a in node.args))
    return node


def _hoisted(node: Node, scalars: frozenset[str], table: dict[Node, str]) -> Node:
    """``node`` with each largest compound subtree of scalar parameters alone replaced by a
    name ``h<i>`` (``table``: subtree -> name): torch computes those in Python floats."""
    if isinstance(node, (Num, Var)):
        return node
    if names_in(node) <= scalars:
        return Var(table.setdefault(node, f"h{len(table)}"))
    return _rebuilt(node, lambda operand: _hoisted(operand, scalars, table))


@dataclass(frozen=True)
class _Writer:
    """The C text of one program's assignments, for one layout of its parameters."""

    program: StepProgram
    per_neuron: tuple[bool, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", c_names(self.program))
        object.__setattr__(self, "table", {})

    def expression(self, node: Node) -> str:
        scalars = frozenset(
            p for p, arrays in zip(self.program.params, self.per_neuron) if not arrays
        )
        tree = _hoisted(node, scalars, self.table)  # type: ignore[attr-defined]
        names: dict[str, str] = self.names  # type: ignore[attr-defined]
        return c_expression(renamed(tree, lambda name: names.get(name, name)))

    def lines(self, assigns: Sequence[Any]) -> str:
        names: dict[str, str] = self.names  # type: ignore[attr-defined]
        return " ".join(
            f"const scalar_t {names[a.target]} = {self.expression(a.value)};" for a in assigns
        )

    def scalars(self) -> str:
        """The scalar parameters and the hoisted values (call after every :meth:`lines`)."""
        doubles = {p: f"d{j}" for j, p in enumerate(self.program.params)}
        lines = [
            f"const double d{j} = scalars[{j}]; const scalar_t p{j} = (scalar_t)d{j};"
            for j, arrays in enumerate(self.per_neuron)
            if not arrays
        ]
        table: dict[Node, str] = self.table  # type: ignore[attr-defined]
        for tree, name in table.items():
            value = c_expression(renamed(tree, doubles.__getitem__)).replace("scalar_t", "double")
            lines.append(f"const scalar_t {name} = (scalar_t)({value});")
        return " ".join(lines)


def _rows(count: int, text: str) -> str:
    return " ".join(text.format(k=k) for k in range(count))


def placeholders(program: StepProgram, per_neuron: tuple[bool, ...]) -> dict[str, str]:
    """The text of every ``NEURON_*`` placeholder of ``neuron.c`` for ``program``."""
    writer = _Writer(program, per_neuron)
    k, arrays = len(program.states), [j for j, a in enumerate(per_neuron) if a]
    learn = program.param_gradients()
    found = {
        "NEURON_STATE_COUNT": str(k),
        "NEURON_PARAM_COUNT": str(len(program.params)),
        "NEURON_FORWARD": writer.lines(program.forward)
        + (" const scalar_t spike = (scalar_t)(fire > 0);" if program.spiking else "")
        + " "
        + writer.lines(program.leave),
        "NEURON_OUTPUT": writer.names[program.output],  # type: ignore[attr-defined]
        "NEURON_SURROGATE": "const scalar_t sg = surrogate_DTYPE(fire, sc_params);"
        if program.spiking
        else "",
        "NEURON_BACKWARD": writer.lines(program.core_backward()),
        "NEURON_SHARES": writer.lines(learn)
        + " "
        + " ".join(f"share{j}[i] += dp{j};" for j in range(len(learn))),
        "NEURON_ARRAYS": " ".join(
            f"const scalar_t *restrict array{j} = job->arrays[{j}] + c;" for j in arrays
        ),
        "NEURON_LOAD": _rows(k, "const scalar_t s{k} = row{k}[i];")
        + " "
        + " ".join(f"const scalar_t p{j} = array{j}[i];" for j in arrays),
        "NEURON_KEEP": _rows(k, "keep{k}[i] = n{k};"),
        "NEURON_ROWS_IN_PLACE": _rows(
            k, "scalar_t *restrict row{k} = state + {k} * chunk; scalar_t *keep{k} = row{k};"
        ),
        "NEURON_ROWS_RECORD": _rows(
            k,
            "const scalar_t *restrict row{k} = history + (t * STATES + {k}) * chunk; "
            "scalar_t *restrict keep{k} = history + ((t + 1) * STATES + {k}) * chunk;",
        ),
        "NEURON_ROWS_REPLAY": _rows(
            k, "const scalar_t *restrict row{k} = history + (t * STATES + {k}) * chunk;"
        ),
        "NEURON_ROWS_GRADS": _rows(k, "scalar_t *restrict grad{k} = grads + {k} * chunk;")
        + " "
        + " ".join(
            f"scalar_t *restrict share{j} = shares + {j} * chunk;"
            for j in range(len(program.params))
        ),
        "NEURON_GRADS_IN": _rows(k, "const scalar_t g{k} = grad{k}[i];"),
        "NEURON_GRADS_OUT": _rows(k, "grad{k}[i] = gp{k};"),
    }
    found["NEURON_SCALARS"] = writer.scalars()  # after every expression has been written
    return found


def generate_source(
    program: StepProgram,
    surrogate: SurrogateSpec | None,
    per_neuron: tuple[bool, ...],
    dtype: torch.dtype,
    vector_math: bool,
) -> str:
    """The C source of ``program`` with ``surrogate`` (None for a readout) for ``dtype``
    inputs (one dtype per library: the parity suite builds only what it runs)."""
    names, grad = ((), "0") if surrogate is None else (surrogate.param_names, surrogate.c_grad)
    assert grad is not None
    return fill_template(
        SOURCE,
        names,
        grad,
        vector_math,
        storage=True,
        placeholders=placeholders(program, per_neuron),
        dtypes=(str(dtype).removeprefix("torch."),),
    )


def _declare(library: ctypes.CDLL, suffix: str) -> None:
    forward = getattr(library, f"sc_neuron_forward_{suffix}")
    forward.argtypes = [_VOID] * 6 + [_I64] * 3 + [_INT]
    backward = getattr(library, f"sc_neuron_backward_{suffix}")
    backward.argtypes = [_VOID, _INT] + [_VOID] * 9 + [_I64] * 3 + [_INT]
    forward.restype = backward.restype = _INT


def _pointer(name: str, tensor: Tensor, dtype: torch.dtype, numel: int) -> int:
    """``tensor``'s address, only for memory the C loop may use as ``numel`` contiguous CPU
    elements of ``dtype`` (never a meta, fake, strided or short tensor)."""
    if (
        type(tensor) is not Tensor
        or tensor.device.type != "cpu"
        or tensor.dtype != dtype
        or tensor.numel() != numel
        or not tensor.is_contiguous()
    ):
        raise RuntimeError(
            f"compiled neuron: refusing to pass {name} ({type(tensor).__name__} on "
            f"{tensor.device}, {tensor.dtype}, {tensor.numel()} elements) where {numel} "
            f"contiguous CPU {dtype} elements are needed"
        )
    return tensor.data_ptr()


def _pointers(name: str, tensors: Sequence[Tensor], dtype: torch.dtype, numel: int) -> Any:
    """A C array of the addresses of ``tensors`` (each checked as :func:`_pointer`)."""
    addresses = [_pointer(f"{name}[{i}]", t, dtype, numel) for i, t in enumerate(tensors)]
    return (ctypes.c_void_p * max(1, len(addresses)))(*addresses)


def _one_step(value: Tensor, step: Tensor) -> Tensor:
    """A state or gradient of one step as a fresh-or-own contiguous compute-typed tensor."""
    return value.to(step.dtype).expand_as(step).contiguous()


def _layout(steps: int, n: int, states: int, element_size: int) -> tuple[int, int]:
    """(neurons per chunk, threads): a chunk's history of ``states`` rows fits the L2."""
    chunk = chunk_neurons(steps * states, max(element_size, 4))
    threads = max(1, min(torch.get_num_threads(), steps * n // STEPS_PER_THREAD, 64))
    return chunk, threads


@dataclass(frozen=True)
class NativeNeuron:
    """The loaded kernels of one (program, surrogate, parameter layout)."""

    program: StepProgram
    surrogate: SurrogateSpec
    library: ctypes.CDLL
    per_neuron: tuple[bool, ...]
    dtype: torch.dtype
    family: str = "native"

    def __post_init__(self) -> None:
        # read once: the spec computes its parameter names on every access
        object.__setattr__(self, "names", self.program.params)

    def _function(self, kind: str, dtype: torch.dtype) -> Any:
        if dtype != self.dtype:
            raise RuntimeError(f"compiled neuron: kernels for {self.dtype} were given {dtype}")
        return getattr(self.library, f"sc_neuron_{kind}_{DTYPES[dtype][1]}")

    def _params(self, params: Mapping[str, Any], step: Tensor) -> tuple[Any, Any, list[Tensor]]:
        """(scalar values as C doubles, per-neuron arrays as a C pointer array, the arrays)."""
        scalars, arrays = [], []
        for name, arrays_here in zip(self.names, self.per_neuron):  # type: ignore[attr-defined]
            value = params[name]
            if arrays_here:
                arrays.append(_one_step(value, step))
                scalars.append(0.0)
            else:
                scalars.append(float(value))
        doubles = (ctypes.c_double * max(1, len(scalars)))(*scalars)
        return doubles, _pointers("params", arrays, step.dtype, step.numel()), arrays

    def forward(
        self,
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
    ) -> tuple[Tensor, list[Tensor]]:
        x = x.contiguous()
        step = x.new_empty(x.shape[1:], dtype=COMPUTE[x.dtype])
        initial = [_one_step(s, step) for s in states]
        finals = [torch.empty_like(step) for _ in states]
        out = torch.empty_like(x)
        steps, n = x.shape[0], step.numel()
        if n == 0 or steps == 0:
            return out, initial
        doubles, arrays, _keep = self._params(params, step)
        chunk, threads = _layout(steps, n, len(states), x.element_size())
        failed = self._function("forward", x.dtype)(
            _pointer("x", x, x.dtype, steps * n),
            _pointers("states", initial, step.dtype, n),
            doubles,
            arrays,
            _pointer("out", out, x.dtype, steps * n),
            _pointers("finals", finals, step.dtype, n),
            steps,
            n,
            chunk,
            threads,
        )
        _check(failed, steps, chunk)
        return out, finals

    def backward(
        self,
        grad_out: Tensor,
        grad_finals: Sequence[Tensor],
        x: Tensor,
        states: Sequence[Tensor],
        params: Mapping[str, Any],
        surrogate_params: Sequence[float],
        learn: bool,
    ) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
        x = x.contiguous()
        step = x.new_empty(x.shape[1:], dtype=COMPUTE[x.dtype])
        steps, n = x.shape[0], step.numel()
        grad_x = torch.empty_like(x)
        initial = [_one_step(s, step) for s in states]
        carried = [_one_step(g, step) for g in grad_finals]
        grad_states = [torch.empty_like(step) for _ in states]
        names: tuple[str, ...] = self.names  # type: ignore[attr-defined]
        sums = [torch.zeros(step.shape, dtype=torch.float64) for _ in names] if learn else []
        if n == 0 or steps == 0:
            grad_x.zero_()
            return grad_x, carried, {p: step.new_zeros(step.shape) for p in names}
        broadcast = grad_out.numel() > 0 and all(stride == 0 for stride in grad_out.stride())
        grad_out = (grad_out.reshape(-1)[:1] if broadcast else grad_out).to(x.dtype).contiguous()
        doubles, arrays, _keep = self._params(params, step)
        values = (ctypes.c_double * max(1, len(surrogate_params)))(*surrogate_params)
        chunk, threads = _layout(steps, n, len(states), x.element_size())
        f64 = torch.float64
        failed = self._function("backward", x.dtype)(
            _pointer("grad_out", grad_out, x.dtype, 1 if broadcast else steps * n),
            int(broadcast),
            _pointers("grad_finals", carried, step.dtype, n),
            _pointer("x", x, x.dtype, steps * n),
            _pointers("states", initial, step.dtype, n),
            doubles,
            arrays,
            values,
            _pointer("grad_x", grad_x, x.dtype, steps * n),
            _pointers("grad_states", grad_states, step.dtype, n),
            _pointers("sums", sums, f64, n) if learn and sums else None,
            steps,
            n,
            chunk,
            threads,
        )
        _check(failed, steps, chunk)
        if not learn:
            return grad_x, grad_states, {}
        grads = {p: s.to(step.dtype) for p, s in zip(names, sums)}
        return grad_x, grad_states, grads


def _check(failed: int, steps: int, chunk: int) -> None:
    if failed:
        raise MemoryError(
            f"compiled neuron: no memory for a thread's state history ({steps} steps x "
            f"{chunk} neurons)"
        )


#: (program, surrogate name, c_grad, per-neuron layout) -> the loaded kernels, or why none
kernels: KernelTable[tuple[Any, ...], NativeNeuron] = KernelTable()


def _stem(program: StepProgram, surrogate: SurrogateSpec | None, dtype: torch.dtype) -> str:
    name = program.spec.name + ("" if surrogate is None else f"-{surrogate.name}")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
    return f"neuron_{name}_{DTYPES[dtype][1]}"


def _load(
    program: StepProgram,
    surrogate: SurrogateSpec,
    per_neuron: tuple[bool, ...],
    dtype: torch.dtype,
) -> NativeNeuron | str:
    used = surrogate if program.spiking else None
    generated = " ".join(placeholders(program, per_neuron).values())
    suffix = DTYPES[dtype][1]
    found = load_library(
        _stem(program, used, dtype),
        lambda options: generate_source(program, used, per_neuron, dtype, options.vector_math),
        lambda library: _declare(library, suffix),
        compute_bound=calls_vector_math(generated + " " + (used.c_grad or "" if used else "")),
    )
    if isinstance(found, str):
        return found
    return NativeNeuron(program, surrogate, found, per_neuron, dtype)


def native_neuron(
    program: StepProgram,
    surrogate: SurrogateSpec,
    per_neuron: tuple[bool, ...],
    dtype: torch.dtype,
) -> NativeNeuron | str:
    """The compiled kernels for ``dtype`` inputs (built on first call), or why there are none."""
    if dtype not in DTYPES:
        return f"compiled kernels take float32, float64, bfloat16 and float16, not {dtype}"
    if program.spiking and surrogate.c_grad is None:
        return f"surrogate {surrogate.name!r} has no C form (no formula, no c_grad)"
    named = (surrogate.name, surrogate.c_grad) if program.spiking else ()
    key = (program, *named, per_neuron, dtype)
    return kernels.get(key, lambda: _load(program, surrogate, per_neuron, dtype))
