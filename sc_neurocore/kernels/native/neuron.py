"""Compiled C kernels of any neuron's step program: generated from its equations, cached.

:mod:`.neuron_source` writes ``neuron.c`` out for one step program and one surrogate; the
build, the trusted cache and the instruction set are :mod:`.build`'s.  One library per
(program, surrogate, which parameters are per-neuron arrays, input dtype), built on first
use and loaded once per process: a library per dtype compiles in a quarter of the time of
all four, and the parity suite builds only what it runs.  Float32 and float64 compute in
their own type; bfloat16 and float16 inputs are read and written as they are and computed
in float32 (``half.c``).

Spikes equal the torch kernels' bit for bit for a step of arithmetic, minimum/maximum and
``where``.  An ``exp`` (expif, adex) may differ from torch's in its last bit (neither is
correctly rounded); the parity suite's spikes still match, but over 1.6 M float32
neuron-steps of expif 232 spikes flipped (0 in float64): see the closing note of issue 23.
"""

from __future__ import annotations

import ctypes
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ...core.spec import SurrogateSpec
from ...core.step_program import StepProgram
from ..buffers import sequence_buffer
from ..layout import owned_pointer
from .build import KernelTable, calls_vector_math, load_library
from .neuron_source import generate_source, history_rows, placeholders
from .runtime import COMPUTE, DTYPES, STEPS_PER_THREAD, chunk_neurons, private_cache_bytes

__all__ = ["DTYPES", "NativeNeuron", "generate_source", "library_source", "native_neuron"]

_VOID, _I64, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int


def _declare(library: ctypes.CDLL, suffix: str) -> None:
    forward = getattr(library, f"sc_neuron_forward_{suffix}")
    forward.argtypes = [_VOID] * 6 + [_I64] * 3 + [_INT] * 2
    backward = getattr(library, f"sc_neuron_backward_{suffix}")
    backward.argtypes = [_VOID, _INT] + [_VOID] * 9 + [_I64] * 3 + [_INT] * 2
    forward.restype = backward.restype = _INT
    store, load = getattr(library, f"sc_store_{suffix}"), getattr(library, f"sc_load_{suffix}")
    store.argtypes = load.argtypes = [_VOID, _VOID, _I64]
    store.restype = load.restype = None


_pointer = functools.partial(owned_pointer, "compiled neuron")


def _pointers(name: str, tensors: Sequence[Tensor], dtype: torch.dtype, numel: int) -> Any:
    """A C array of the addresses of ``tensors`` (each checked as :func:`_pointer`)."""
    addresses = [_pointer(f"{name}[{i}]", t, dtype, numel) for i, t in enumerate(tensors)]
    return (ctypes.c_void_p * max(1, len(addresses)))(*addresses)


def _one_step(value: Tensor, step: Tensor) -> Tensor:
    """A state or gradient of one step as a fresh-or-own contiguous compute-typed tensor."""
    return value.to(step.dtype).expand_as(step).contiguous()


#: Bytes of the state rows a forward chunk keeps (every state, compute dtype) and the most
#: neurons a chunk holds.  The forward keeps no history, so its rows of ``x`` and ``out`` can
#: be long: the hardware prefetcher restarts at every row (it stops at page boundaries), and
#: on the development machine (one thread, T=100, 16 x 4096 float32, bare C, interleaved with
#: a memcpy) the LIF forward ran at 0.71-0.78 of the copy with 2048-neuron rows, 0.82 with
#: 8192, 0.88 with 16384 and 0.93 with 32768.
FORWARD_STATE_BYTES, FORWARD_CHUNK = 1 << 19, 1 << 15


def forward_chunk(states: int, element_size: int) -> int:
    """Neurons per forward chunk: a power of two whose ``states`` rows fit
    :data:`FORWARD_STATE_BYTES`, at most :data:`FORWARD_CHUNK`."""
    chunk = FORWARD_CHUNK
    while chunk > 16 and states * chunk * max(element_size, 4) > FORWARD_STATE_BYTES:
        chunk //= 2
    return chunk


def backward_chunk(steps: int, rows: int, element_size: int) -> int:
    """Neurons per backward chunk: the chunk's history of ``steps x rows`` rows (the states
    and the recorded calls, :func:`.neuron_source.history_rows`) stays in the L2 between the
    backward's two passes."""
    return chunk_neurons((steps + 1) * rows, max(element_size, 4))


#: Bytes of an output sequence (``out``, ``grad_x``) from which the kernels write it with
#: non-temporal stores: half the last-level cache (16 MiB where it is unknown).  Such an
#: output leaves the cache before anyone reads it, and a plain store first reads each line
#: it writes (write-allocate): 4 of the 12 bytes of DRAM traffic per element of a forward.
#: Bare C, one thread, T=100, 16 x 4096 float32, LIF, interleaved with a memcpy (shared
#: machine): fwd+bwd 0.53 -> 0.60 of the copy (medians of in-round ratios).
_LLC_BYTES = private_cache_bytes(level=3)
STREAM_BYTES = (1 << 24) if _LLC_BYTES is None else _LLC_BYTES // 2


def _streams(sequence: Tensor) -> int:
    """Whether the kernels write ``sequence`` with non-temporal stores (C int)."""
    return int(sequence.numel() * sequence.element_size() >= STREAM_BYTES)


def _neurons(n: int) -> int:
    """``n`` rounded up to the 16 neurons of a thread's range: no chunk (and no scratch, a
    fresh mapping per call above glibc's threshold) larger than the layer."""
    return -(-n // 16) * 16


def _threads(steps: int, n: int) -> int:
    return max(1, min(torch.get_num_threads(), steps * n // STEPS_PER_THREAD, 64))


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
        object.__setattr__(self, "rows", history_rows(self.program, self.surrogate))

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
        out = sequence_buffer(x)  # pooled: fresh pages cost as much as the loop
        steps, n = x.shape[0], step.numel()
        if n == 0 or steps == 0:
            return out, initial
        doubles, arrays, _keep = self._params(params, step)
        chunk = min(forward_chunk(len(states), step.element_size()), _neurons(n))
        threads = _threads(steps, n)
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
            _streams(out),
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
        grad_x = sequence_buffer(x)
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
        rows: int = self.rows  # type: ignore[attr-defined]
        chunk = min(backward_chunk(steps, rows, x.element_size()), _neurons(n))
        threads = _threads(steps, n)
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
            _streams(grad_x),
        )
        _check(failed, steps, chunk)
        if not learn:
            return grad_x, grad_states, {}
        grads = {p: s.to(step.dtype) for p, s in zip(names, sums)}
        return grad_x, grad_states, grads

    def convert(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (float32) stored in the library's input dtype by the kernels' own conversion,
        and read back as float32: the rounding they apply, for checking it against torch's."""
        x = x.contiguous()
        stored, loaded = torch.empty(x.shape, dtype=self.dtype), torch.empty_like(x)
        compute, count, suffix = COMPUTE[self.dtype], x.numel(), DTYPES[self.dtype][1]
        store, load = (getattr(self.library, f"sc_{kind}_{suffix}") for kind in ("store", "load"))
        store(_pointer("x", x, compute, count), _pointer("out", stored, self.dtype, count), count)
        load(
            _pointer("x", stored, self.dtype, count), _pointer("out", loaded, compute, count), count
        )
        return stored, loaded


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


def library_source(
    program: StepProgram,
    surrogate: SurrogateSpec,
    per_neuron: tuple[bool, ...],
    dtype: torch.dtype,
) -> tuple[Callable[[bool], str], bool]:
    """(the source of one library for a build with or without libmvec, whether its loops are
    bound by vector math): what every build of it compiles, here and for the other targets
    (tests/native_targets.py)."""
    used = surrogate if program.spiking else None
    generated = " ".join(placeholders(program, per_neuron).values())
    compute_bound = calls_vector_math(generated + " " + (used.c_grad or "" if used else ""))
    return (lambda vm: generate_source(program, used, per_neuron, dtype, vm)), compute_bound


def _load(
    program: StepProgram,
    surrogate: SurrogateSpec,
    per_neuron: tuple[bool, ...],
    dtype: torch.dtype,
) -> NativeNeuron | str:
    source_for, compute_bound = library_source(program, surrogate, per_neuron, dtype)
    suffix = DTYPES[dtype][1]
    found = load_library(
        _stem(program, surrogate if program.spiking else None, dtype),
        lambda options: source_for(options.vector_math),
        lambda library: _declare(library, suffix),
        compute_bound=compute_bound,
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
