"""Compiled kernels for the fused LIF: built from a spec's ``c_grad`` on first use, cached.

The torch kernels of :mod:`sc_neurocore.kernels.torch.lif` pay one dispatch per time step and a trip
through memory per operation; a C loop over time per neuron keeps a chunk of neurons in
cache for the whole sequence.  For a surrogate whose spec carries ``c_grad`` (all built-ins
do), the first fused call on a CPU float32/float64 tensor compiles ``lif.c`` with
the system C compiler into a per-user cache and loads it with ctypes (no Python headers,
no torch headers: a build takes one to two seconds).  The result is keyed by a hash of the
source and the compiler command, so it is built once per machine and surrogate.

Nothing here is required: without a compiler, with ``SC_NEUROCORE_NATIVE=0``, or when a
build fails (a plugin's ``c_grad`` that does not compile), the layer runs its torch
kernels with the same results; :func:`native_status` says which and why.
"""

from __future__ import annotations

import ctypes
import functools
import subprocess  # noqa: F401  (tests patch subprocess.run through this module)
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from ...core.settings import KERNEL_SWITCH
from ...core.spec import SurrogateSpec
from ..layout import owned_pointer
from ..torch.lif import RESETS, initial_membrane
from .build import (
    BUILD_ATTEMPTS,
    ENV_CACHE,
    BuildOptions,
    KernelTable,
    build_library,
    cache_dir,
    calls_vector_math,
    fill_template,
    load_library,
)
from .runtime import (
    COMPUTE,
    DISABLED,
    DTYPES,
    ENV_SWITCH,
    STEPS_PER_THREAD,
    chunk_neurons,
    native_enabled,
    set_native_enabled,
)

__all__ = [
    "BUILD_ATTEMPTS",
    "ENV_CACHE",
    "ENV_SWITCH",
    "BuildOptions",
    "NativeLIF",
    "cache_dir",
    "chunk_neurons",
    "native_enabled",
    "native_lif",
    "native_lif_kernels",
    "native_status",
    "set_native_enabled",
]

SOURCE = Path(__file__).with_name("lif.c")


def generate_source(spec: SurrogateSpec, vector_math: bool) -> str:
    """The C source for ``spec``: the template with its parameters and ``c_grad`` filled in."""
    assert spec.c_grad is not None
    return fill_template(SOURCE, spec.param_names, spec.c_grad, vector_math, storage=True)


def _build(spec: SurrogateSpec, options: BuildOptions) -> Path:
    """Compile (or find in the cache) the library for ``spec``; raise with the reason."""
    source = generate_source(spec, options.vector_math)
    return build_library(f"lif_{spec.name}", source, options)


_VOID = ctypes.c_void_p
_I64 = ctypes.c_int64
_INT = ctypes.c_int


def _declare(library: ctypes.CDLL, suffix: str) -> None:
    forward = getattr(library, f"sc_lif_forward_{suffix}")
    forward.argtypes = [_VOID] * 5 + [_INT] * 2 + [_VOID] * 2 + [_I64] * 3 + [_INT]
    backward = getattr(library, f"sc_lif_backward_{suffix}")
    backward.argtypes = [_VOID, _INT] + [_VOID] * 6 + [_INT] * 2 + [_VOID] * 4 + [_I64] * 3 + [_INT]
    backward.restype = _INT
    surrogate = getattr(library, f"sc_surrogate_{suffix}")
    surrogate.argtypes = [_VOID, _VOID, _I64, _VOID]
    store, load = getattr(library, f"sc_store_{suffix}"), getattr(library, f"sc_load_{suffix}")
    store.argtypes = load.argtypes = [_VOID, _VOID, _I64]
    for function in (forward, surrogate, store, load):
        function.restype = None


def _membrane(x: Tensor, v0: Tensor | None) -> Tensor:
    """``v_0`` as a fresh contiguous array of one step of ``x`` in the compute dtype; a ``v0``
    that is not a plain CPU tensor of that size is refused here, before any copy touches it."""
    if v0 is not None:
        _pointer("v0", v0, v0.dtype, x[0].numel(), contiguous=False)
    return initial_membrane(x.new_empty((1, *x.shape[1:]), dtype=COMPUTE[x.dtype]), v0)


_pointer = functools.partial(owned_pointer, "compiled LIF")


#: The C code of each reset mode (the order of kernels.torch.lif.RESETS).
RESET_CODES = {mode: code for code, mode in enumerate(RESETS)}
#: The per-step parameters passed as arrays, in the order of the C signatures.
PARAMETERS = ("beta", "threshold", "v_reset")


def _parameter_arrays(x: Tensor, *parameters: Tensor | float) -> tuple[list[Tensor], bool]:
    """The parameters as C arrays in the compute dtype: one element each, or all of them
    one per neuron."""
    dtype = COMPUTE[x.dtype]
    values = [
        value if isinstance(value, Tensor) else torch.tensor(value, dtype=torch.float64)
        for value in parameters
    ]
    if all(value.numel() == 1 for value in values):
        return [value.reshape(1).to(dtype) for value in values], False
    step = x.shape[1:]
    return [value.to(dtype).expand(step).contiguous() for value in values], True


@dataclass(frozen=True)
class NativeLIF:
    """The compiled kernels of one surrogate for one reset mode; arguments are checked by
    the caller.  The calling convention of every fused-LIF family (the Triton kernels'
    too): the reset mode is bound when the kernels are chosen, ``v_reset`` is an argument."""

    spec: SurrogateSpec
    library: ctypes.CDLL
    reset: str = "subtract"

    def _function(self, kind: str, dtype: torch.dtype):
        return getattr(self.library, f"sc_{kind}_{DTYPES[dtype][1]}")

    @staticmethod
    def _layout(x: Tensor) -> tuple[int, int, int, int]:
        steps, n = x.shape[0], x[0].numel()
        # a chunk's history is held in the compute dtype (float32 for bf16/fp16 inputs)
        chunk = chunk_neurons(steps, max(x.element_size(), 4))
        threads = max(1, min(torch.get_num_threads(), steps * n // STEPS_PER_THREAD, 64))
        return steps, n, chunk, threads

    def forward(
        self,
        x: Tensor,
        v0: Tensor | None,
        beta: Tensor | float,
        threshold: Tensor | float,
        spikes: Tensor,
        v_reset: Tensor | float = 0.0,
    ) -> tuple[Tensor, Tensor]:
        """Fill ``spikes`` (a contiguous buffer like ``x``); return ``(spikes, v_T)``, ``v_T``
        in the compute dtype (``COMPUTE``)."""
        x = x.contiguous()
        v0 = _membrane(x, v0)
        arrays, per_neuron = _parameter_arrays(x, beta, threshold, v_reset)
        dtype, compute = x.dtype, COMPUTE[x.dtype]
        v_out = torch.empty(x.shape[1:], dtype=compute)
        steps, n, chunk, threads = self._layout(x)
        if n == 0:  # no neurons: nothing to compute (the C loop would divide by zero)
            return spikes, v_out
        each = n if per_neuron else 1
        self._function("lif_forward", x.dtype)(
            _pointer("x", x, dtype, steps * n),
            _pointer("v0", v0, compute, n),
            *(_pointer(name, a, compute, each) for name, a in zip(PARAMETERS, arrays)),
            RESET_CODES[self.reset],
            int(per_neuron),
            _pointer("spikes", spikes, dtype, steps * n),
            _pointer("v_T", v_out, compute, n),
            steps,
            n,
            chunk,
            threads,
        )
        return spikes, v_out

    def backward(
        self,
        grad_spikes: Tensor,
        grad_v: Tensor,
        x: Tensor,
        v0: Tensor | None,
        beta: Tensor | float,
        threshold: Tensor | float,
        params: list[float],
        grad_h: Tensor,
        sums: tuple[Tensor, Tensor] | None,
        v_reset: Tensor | float = 0.0,
    ) -> Tensor:
        """Fill ``grad_h`` (a contiguous buffer like ``x``) with dL/dx; add to ``sums``.

        ``sums`` are contiguous float64 per-neuron accumulators for dL/dbeta and
        dL/dthreshold.  A ``grad_spikes`` expanded from one value is read as that value.
        The spikes are not needed: recomputing the membrane recomputes them exactly.
        """
        x, v0 = x.contiguous(), _membrane(x, v0)
        broadcast = grad_spikes.numel() > 0 and all(stride == 0 for stride in grad_spikes.stride())
        grad_spikes = (grad_spikes.reshape(-1)[:1] if broadcast else grad_spikes).to(x.dtype)
        grad_spikes = grad_spikes.contiguous()
        grad_v = grad_v.to(COMPUTE[x.dtype]).expand(x.shape[1:]).contiguous()
        arrays, per_neuron = _parameter_arrays(x, beta, threshold, v_reset)
        values = torch.tensor(params or [0.0], dtype=torch.float64)
        steps, n, chunk, threads = self._layout(x)
        if n == 0:  # no neurons: nothing to compute (the C loop would divide by zero)
            return grad_h
        dtype, each, f64 = x.dtype, n if per_neuron else 1, torch.float64
        compute = COMPUTE[dtype]
        failed = self._function("lif_backward", x.dtype)(
            _pointer("grad_spikes", grad_spikes, dtype, 1 if broadcast else steps * n),
            int(broadcast),
            _pointer("grad_v", grad_v, compute, n),
            _pointer("x", x, dtype, steps * n),
            _pointer("v0", v0, compute, n),
            *(_pointer(name, a, compute, each) for name, a in zip(PARAMETERS, arrays)),
            RESET_CODES[self.reset],
            int(per_neuron),
            _pointer("params", values, f64, values.numel()),
            _pointer("grad_h", grad_h, dtype, steps * n),
            *(
                (None, None)
                if sums is None
                else (_pointer("sums", sums[0], f64, n), _pointer("sums", sums[1], f64, n))
            ),
            steps,
            n,
            chunk,
            threads,
        )
        if failed:
            raise MemoryError(
                f"compiled LIF: no memory for the float32 membrane history of {dtype} "
                f"inputs ({steps} steps x {chunk} neurons per thread)"
            )
        return grad_h

    def convert(self, x: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``x`` (float32) stored as ``dtype`` by the kernels' own conversion, and read back
        as float32: the rounding the kernels apply, for checking it against torch's."""
        x = x.contiguous()
        stored = torch.empty(x.shape, dtype=dtype)
        loaded = torch.empty_like(x)
        compute, count = COMPUTE[dtype], x.numel()
        self._function("store", dtype)(
            _pointer("x", x, compute, count), _pointer("out", stored, dtype, count), count
        )
        self._function("load", dtype)(
            _pointer("x", stored, dtype, count), _pointer("out", loaded, compute, count), count
        )
        return stored, loaded

    def surrogate(self, x: Tensor, params: list[float]) -> Tensor:
        """g(x) as the compiled ``c_grad`` computes it (for checking it against ``grad``)."""
        x = x.contiguous()
        out = torch.empty_like(x)
        values = torch.tensor(params or [0.0], dtype=torch.float64)
        self._function("surrogate", x.dtype)(
            _pointer("x", x, x.dtype, x.numel()),
            _pointer("out", out, x.dtype, x.numel()),
            x.numel(),
            _pointer("params", values, torch.float64, values.numel()),
        )
        return out


#: (name, c_grad) -> the loaded kernels, or the reason there are none
kernels: KernelTable[tuple[str, str], NativeLIF] = KernelTable()


def _load(spec: SurrogateSpec) -> NativeLIF | str:
    def declare(library: ctypes.CDLL) -> None:
        for _, suffix in DTYPES.values():
            _declare(library, suffix)

    found = load_library(
        f"lif_{spec.name}",
        lambda options: "",
        declare,
        build=lambda o: _build(spec, o),
        compute_bound=calls_vector_math(spec.c_grad or ""),
    )
    return found if isinstance(found, str) else NativeLIF(spec, found)


def _lookup(spec: SurrogateSpec) -> NativeLIF | str:
    if spec.c_grad is None:
        return f"surrogate {spec.name!r} has no c_grad"
    return kernels.get((spec.name, spec.c_grad), lambda: _load(spec))


#: (loaded kernels, reset) -> those kernels bound to that reset mode
_bound: dict[tuple[NativeLIF, str], NativeLIF] = {}


def native_lif_kernels(spec: SurrogateSpec, reset: str = "subtract") -> NativeLIF | str:
    """The compiled kernels for ``spec`` bound to ``reset`` (built on first call), or why
    there are none."""
    found = _lookup(spec)
    if not isinstance(found, NativeLIF):
        return found
    bound = _bound.get((found, reset))
    if bound is None:
        if reset not in RESET_CODES:
            raise ValueError(f"compiled LIF: reset must be one of {RESETS}, got {reset!r}")
        bound = _bound.setdefault((found, reset), replace(found, reset=reset))
    return bound


def native_lif(spec: SurrogateSpec, x: Tensor, reset: str = "subtract") -> NativeLIF | None:
    """The compiled kernels for ``spec`` and ``reset`` if they can run on ``x``, else ``None``."""
    if not KERNEL_SWITCH.native or x.device.type != "cpu" or x.dtype not in DTYPES:
        return None
    found = native_lif_kernels(spec, reset)
    return found if isinstance(found, NativeLIF) else None


def native_status(spec: SurrogateSpec) -> str:
    """``"native"`` (the family name) or why the fused LIF's native kernels cannot run ``spec``."""
    if not KERNEL_SWITCH.native:
        return DISABLED
    found = _lookup(spec)
    return "native" if isinstance(found, NativeLIF) else found
