"""Triton element-wise surrogate kernels: the spike and ``grad_out * g(x)``, one pass each.

The backward kernel of a formula is generated as Python source (the formula's Triton
expression in a fixed kernel body), registered with :mod:`linecache` so that Triton can
read it back, and compiled once per formula.  fp16 and bf16 are loaded, computed in fp32
and stored back; fp64 is computed in fp64, its parameters passed as two fp32 halves
(Triton passes Python floats as fp32) and rejoined in fp64.  Operands are put into one
linear layout by :mod:`sc_neurocore.kernels.layout`; a broadcast ``grad_out`` (every
stride 0) is read as its one value.  With ``TRITON_INTERPRET=1`` the same kernels run on
CPU tensors, which is how CI tests them.
"""

from __future__ import annotations

import linecache
import struct
import threading
from functools import lru_cache
from typing import Any

import torch
import triton
import triton.language as tl
from torch import Tensor

from ...core.forksafe import reset_module_lock
from ...core.formula import Formula
from ..layout import broadcast_value, in_layout_of, one_value
from . import helpers
from .launch import interpreting, launch_options, on_device

__all__ = ["DTYPES", "backward", "backward_source", "spike"]

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: Elements per program: one 1024-wide block on a GPU; fewer, larger ones in the
#: interpreter, where every program is a Python call.
BLOCK_GPU, BLOCK_INTERPRETED = 1024, 1 << 14


@triton.jit
def _spike_kernel(x_ptr, out_ptr, n, HALF: tl.constexpr, BLOCK: tl.constexpr):
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask)
    if HALF:  # exact, and the interpreter compares bf16 as raw bits
        x = x.to(tl.float32)
    # a select, not a cast of the bool: the interpreter mis-casts bool to fp16/bf16
    spikes = tl.where(x > 0, 1.0, 0.0).to(out_ptr.dtype.element_ty)
    tl.store(out_ptr + offsets, spikes, mask=mask)


_BACKWARD_TEMPLATE = """
@triton.jit
def backward_kernel(x_ptr, g_ptr, out_ptr, n, {param_args}BROADCAST: tl.constexpr,
                    F64: tl.constexpr, BLOCK: tl.constexpr):
    offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask)
    if BROADCAST:
        g = tl.load(g_ptr)
    else:
        g = tl.load(g_ptr + offsets, mask=mask)
    if F64:
        zero = tl.full([], 0.0, tl.float64)
    else:
        zero = tl.full([], 0.0, tl.float32)
    x = x.to(zero.dtype)
    g = g.to(zero.dtype)
{param_values}    grad = g * ({expression})
    tl.store(out_ptr + offsets, grad.to(out_ptr.dtype.element_ty), mask=mask)
"""


def backward_source(formula: Formula) -> str:
    """The Python source of the backward kernel of ``formula``."""
    param_args = "".join(f"{name}_hi, {name}_lo, " for name in formula.params)
    param_values = "".join(
        f"    {name} = zero + {name}_hi + {name}_lo\n" for name in formula.params
    )
    return _BACKWARD_TEMPLATE.format(
        param_args=param_args, param_values=param_values, expression=formula.triton()
    )


_lock = threading.Lock()
reset_module_lock(__name__, "triton kernels")
_compiled: dict[tuple[str, tuple[str, ...]], Any] = {}


def _backward_kernel(formula: Formula) -> Any:
    key = (formula.text, formula.params)
    kernel = _compiled.get(key)
    if kernel is None:
        with _lock:
            kernel = _compiled.get(key)
            if kernel is None:
                kernel = _compiled[key] = _compile(formula)
    return kernel


def _compile(formula: Formula) -> Any:
    source = backward_source(formula)
    filename = f"<sc_neurocore triton backward {len(_compiled)}: {formula.text}>"
    # Triton reads a kernel's source back through inspect, which asks linecache.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"triton": triton, "tl": tl}
    namespace.update({name: getattr(helpers, name) for name in helpers.__all__})
    exec(compile(source, filename, "exec"), namespace)  # our own generated source only
    return namespace["backward_kernel"]


def _block() -> int:
    """Compiled kernels take GPU-sized blocks; the interpreter, fewer and larger ones."""
    return BLOCK_INTERPRETED if interpreting() else BLOCK_GPU


def _launch(kernel: Any, x: Tensor, n: int, *args: Any, **meta: Any) -> None:
    block = _block()
    with on_device(x):
        kernel[(triton.cdiv(n, block),)](
            *args, BLOCK=block, **meta, **launch_options("elementwise", x.dtype)
        )


def spike(x: Tensor) -> Tensor:
    """``(x > 0)`` in x's dtype and layout, one Triton kernel."""
    # Laid out like the compiled backend's (kernels/native/elementwise.py): same contract.
    out = torch.empty_like(x)
    n = x.numel()
    if n:
        x = in_layout_of(x, out)
        half = x.dtype in (torch.float16, torch.bfloat16)
        _launch(_spike_kernel, x, n, x, out, n, HALF=half)
    return out


def _fp32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


@lru_cache(maxsize=1024)
def _halves(params: tuple[float, ...]) -> tuple[float, ...]:
    """Each value as fp32 ``hi`` and fp32 ``lo``, whose fp64 sum carries ~48 bits of it."""
    return tuple(half for value in params for half in (_fp32(value), _fp32(value - _fp32(value))))


def backward(formula: Formula, x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
    """``grad_out * g(x)`` in x's dtype and layout, one Triton kernel."""
    out = torch.empty_like(x)
    n = x.numel()
    if not n:
        return out
    x = in_layout_of(x, out)
    broadcast = broadcast_value(grad_out)
    grad_out = one_value(grad_out, x.dtype) if broadcast else in_layout_of(grad_out, out)
    halves = _halves(params)
    kernel = _backward_kernel(formula)
    _launch(
        kernel,
        x,
        n,
        x,
        grad_out,
        out,
        n,
        *halves,
        BROADCAST=broadcast,
        F64=x.dtype == torch.float64,
    )
    return out
