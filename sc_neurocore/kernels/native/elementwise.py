"""Compiled element-wise surrogate kernels for CPU tensors: the spike and ``grad_out * g(x)``.

Each is one vectorised C loop over memory, generated from the spec's formula (through
its ``c_grad``, which the formula supplies; a plugin API 1 spec with a hand-written
``c_grad`` gets the same), split over torch's OpenMP pool above
:data:`ELEMENTS_PER_THREAD` elements per thread.  Built on first use into the kernel
cache of :mod:`.build`; float32 and float64 only (other dtypes run the torch kernels).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from ...core.spec import SurrogateSpec
from ..buffers import sequence_buffer
from ..layout import broadcast_value, in_layout_of, is_dense, one_value
from .build import KernelTable, argtypes, calls_vector_math, fill_template, load_library

__all__ = ["DTYPES", "NativeElementwise", "native_elementwise", "native_elementwise_status"]

SOURCE = Path(__file__).with_name("elementwise.c")
DTYPES = {torch.float32: "f32", torch.float64: "f64"}
#: Elements per thread below which another thread costs more than it saves (torch's grain).
ELEMENTS_PER_THREAD = 1 << 15
MAX_THREADS = 64

_VOID, _I64, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
SIGNATURES = {
    "sc_spike": [_VOID, _VOID, _I64, _INT],
    "sc_backward": [_VOID, _VOID, _INT, _VOID, _I64, _VOID, _INT],
}
_get_num_threads = torch.get_num_threads


def _output(out: Tensor) -> int:
    """The address of an output we allocated: refused unless it is dense CPU memory."""
    if type(out) is not Tensor or not out.is_cpu or not (out.is_contiguous() or is_dense(out)):
        raise RuntimeError(f"compiled surrogate kernel: refusing a non-dense output {out!r}")
    return out.data_ptr()


def _operand(name: str, t: Tensor, out: Tensor, one: bool = False) -> int:
    """``t``'s address, only if the C loop may walk it like ``out`` (or read its one value)."""
    if (
        type(t) is Tensor
        and t.is_cpu
        and t.dtype == out.dtype
        and ((t.numel() == 1) if one else (t.shape == out.shape and t.stride() == out.stride()))
    ):
        return t.data_ptr()
    raise RuntimeError(
        f"compiled surrogate kernel: refusing to pass {name} ({type(t).__name__} on "
        f"{t.device}, {t.dtype}, shape {tuple(t.shape)}, strides {t.stride()}) where "
        f"CPU {out.dtype} elements laid out like the output {tuple(out.stride())} are needed"
    )


def _new_output(x: Tensor) -> Tensor:
    """An output laid out like ``x``: from the buffer pool when contiguous (a megabyte
    output from the C allocator often comes back as fresh pages, and faulting them in cost
    as much as the loop), else ``empty_like``, which keeps x's strides."""
    return sequence_buffer(x) if x.is_contiguous() else torch.empty_like(x)


def _threads(n: int) -> int:
    if n < 2 * ELEMENTS_PER_THREAD:
        return 1
    return max(1, min(_get_num_threads(), n // ELEMENTS_PER_THREAD, MAX_THREADS))


@lru_cache(maxsize=256)
def _values(params: tuple[float, ...]) -> ctypes.Array[ctypes.c_double]:
    """The parameters as a C double array (cached: the same few values come every call)."""
    return (ctypes.c_double * max(1, len(params)))(*params)


@dataclass(frozen=True)
class NativeElementwise:
    """The loaded kernels of one surrogate; the caller checks device and dtype."""

    spec: SurrogateSpec
    library: ctypes.CDLL

    def __post_init__(self) -> None:
        for kind in SIGNATURES:
            table = {dtype: getattr(self.library, f"{kind}_{sfx}") for dtype, sfx in DTYPES.items()}
            object.__setattr__(self, f"_{kind}", table)

    def spike(self, x: Tensor) -> Tensor:
        """``(x > 0)`` in x's dtype and layout."""
        out = _new_output(x)
        n = out.numel()
        if n:
            x = in_layout_of(x, out)
            self._sc_spike[x.dtype](  # type: ignore[attr-defined]
                _operand("x", x, out), _output(out), n, _threads(n)
            )
        return out

    def backward(self, x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
        """``grad_out * g(x)`` in x's dtype and layout; ``params`` in the spec's order."""
        out = _new_output(x)
        n = out.numel()
        if not n:
            return out
        x = in_layout_of(x, out)
        broadcast = broadcast_value(grad_out)
        grad_out = one_value(grad_out, x.dtype) if broadcast else in_layout_of(grad_out, out)
        self._sc_backward[x.dtype](  # type: ignore[attr-defined]
            _operand("x", x, out),
            _operand("grad_out", grad_out, out, one=broadcast),
            int(broadcast),
            _output(out),
            n,
            _values(tuple(params)),
            _threads(n),
        )
        return out


#: (name, c expression) -> the loaded kernels, or the reason there are none
kernels: KernelTable[tuple[str, str], NativeElementwise] = KernelTable()


def _load(spec: SurrogateSpec, expression: str) -> NativeElementwise | str:
    found = load_library(
        f"elementwise_{spec.name}",
        lambda options: fill_template(SOURCE, spec.param_names, expression, options.vector_math),
        lambda library: argtypes(library, SIGNATURES),
        compute_bound=calls_vector_math(expression),
    )
    return found if isinstance(found, str) else NativeElementwise(spec, found)


def _lookup(spec: SurrogateSpec) -> NativeElementwise | str:
    if spec.c_grad is None:
        return f"surrogate {spec.name!r} has neither a formula nor a c_grad"
    c_grad = spec.c_grad
    return kernels.get((spec.name, c_grad), lambda: _load(spec, c_grad))


def native_elementwise(spec: SurrogateSpec) -> NativeElementwise | str:
    """The compiled kernels of ``spec`` (built on first call), or why there are none."""
    return _lookup(spec)


def native_elementwise_status(spec: SurrogateSpec) -> str:
    """``"native"`` (the family name) or why the native element-wise kernels of ``spec``
    are not built."""
    found = _lookup(spec)
    return "native" if isinstance(found, NativeElementwise) else found
