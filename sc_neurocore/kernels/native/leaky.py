"""Compiled kernels of the fused leaky integrator (readout, synaptic current): one C loop
over time per range of neurons instead of one torch dispatch per step.

Built on first use from ``leaky.c`` through the shared loader of :mod:`.build` (the same
cache, build attempts and verification as the fused LIF); no surrogate is involved, so a
single library serves every model. CPU float32/float64 only; ``SC_NEUROCORE_NATIVE=0`` or a
failed build leaves the torch kernels of :mod:`sc_neurocore.kernels.torch.leaky`, which
compute the same values.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..buffers import sequence_buffer
from ..layout import owned_pointer
from .build import KernelTable, argtypes, fill_template, load_library
from .runtime import COMPUTE, DISABLED, DTYPES, STEPS_PER_THREAD, native_enabled

__all__ = ["NativeLeaky", "native_leaky", "native_leaky_kernels", "native_leaky_status"]

SOURCE = Path(__file__).with_name("leaky.c")
#: Neuron-steps per thread below which another thread costs more than it saves.

_VOID, _I64, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
SIGNATURES = {
    "sc_leaky_forward": [_VOID, _VOID, _VOID, _INT, _VOID, _I64, _I64, _INT],
    "sc_leaky_backward": [_VOID, _VOID, _VOID, _VOID, _INT, _VOID, _VOID, _I64, _I64, _INT],
}


_address = functools.partial(owned_pointer, "compiled leaky integrator")


def _state(x: Tensor, y0: Tensor | None) -> Tensor:
    """``y_0`` in the compute dtype (float32 for bf16/fp16 sequences)."""
    if y0 is None:
        return torch.zeros(x.shape[1:], dtype=COMPUTE[x.dtype])
    return y0.to(COMPUTE[x.dtype]).expand(x.shape[1:]).contiguous()


def _decay_array(decay: Tensor | float, x: Tensor) -> tuple[Tensor, bool]:
    """The decay as a C array in the compute dtype: one element, or one per neuron."""
    if not isinstance(decay, Tensor) or decay.numel() == 1:
        return torch.tensor([float(decay)], dtype=COMPUTE[x.dtype]), False
    return decay.to(COMPUTE[x.dtype]).expand(x.shape[1:]).contiguous(), True


def _threads(steps: int, n: int) -> int:
    return max(1, min(torch.get_num_threads(), steps * n // STEPS_PER_THREAD, 64))


@dataclass(frozen=True)
class NativeLeaky:
    """The loaded kernels; the caller checks device and dtype."""

    library: ctypes.CDLL

    def _function(self, kind: str, dtype: torch.dtype):  # type: ignore[no-untyped-def]
        return getattr(self.library, f"sc_leaky_{kind}_{DTYPES[dtype][1]}")

    def forward(self, x: Tensor, y0: Tensor | None, decay: Tensor | float) -> Tensor:
        """The filtered sequence ``y`` (a pooled contiguous buffer like ``x``)."""
        x = x.contiguous()
        out = sequence_buffer(x)
        steps, n, dtype = x.shape[0], x[0].numel(), x.dtype
        state = _state(x, y0)
        decays, per_neuron = _decay_array(decay, x)
        if n == 0:  # no neurons: nothing to compute (the C loop would divide by zero)
            return out
        failed = self._function("forward", dtype)(
            _address("x", x, dtype, steps * n),
            _address("y0", state, state.dtype, n),
            _address("decay", decays, decays.dtype, decays.numel()),
            int(per_neuron),
            _address("y", out, dtype, steps * n),
            steps,
            n,
            _threads(steps, n),
        )
        _check(failed, n)
        return out

    def backward(
        self, grad_y: Tensor, y: Tensor, y0: Tensor | None, decay: Tensor | float, sums: bool
    ) -> tuple[Tensor, Tensor | None]:
        """``(dL/dx, per-neuron float64 sum_t dL/dx_t * y_{t-1} or None)``."""
        y = y.contiguous()
        steps, n, dtype = y.shape[0], y[0].numel(), y.dtype
        grad_x = sequence_buffer(y)
        decay_sum = torch.zeros(y.shape[1:], dtype=torch.float64) if sums else None
        grad_y = grad_y.to(dtype).expand(y.shape).contiguous()
        state = _state(y, y0)
        decays, per_neuron = _decay_array(decay, y)
        if n == 0:  # no neurons: nothing to compute (the C loop would divide by zero)
            return grad_x, decay_sum
        failed = self._function("backward", dtype)(
            _address("grad_y", grad_y, dtype, steps * n),
            _address("y", y, dtype, steps * n),
            _address("y0", state, state.dtype, n),
            _address("decay", decays, decays.dtype, decays.numel()),
            int(per_neuron),
            _address("grad_x", grad_x, dtype, steps * n),
            None if decay_sum is None else _address("sums", decay_sum, torch.float64, n),
            steps,
            n,
            _threads(steps, n),
        )
        _check(failed, n)
        return grad_x, decay_sum


#: the loaded kernels (one library serves every dtype), or the reason there are none
kernels: KernelTable[str, NativeLeaky] = KernelTable()


def _declare(library: ctypes.CDLL) -> None:
    argtypes(library, SIGNATURES, storage=True)
    for _, suffix in DTYPES.values():  # each returns 1 when a thread had no memory
        for name in SIGNATURES:
            getattr(library, f"{name}_{suffix}").restype = _INT


def _check(failed: int, n: int) -> None:
    if failed:
        raise MemoryError(f"compiled leaky integrator: no memory for a float carry of {n} neurons")


def _load() -> NativeLeaky | str:
    found = load_library(
        "leaky",
        lambda options: fill_template(SOURCE, (), "0", options.vector_math, storage=True),
        _declare,
    )
    return found if isinstance(found, str) else NativeLeaky(found)


def _lookup() -> NativeLeaky | str:
    return kernels.get("leaky", _load)


def native_leaky_kernels() -> NativeLeaky | str:
    """The compiled kernels (built on first call), or why there are none."""
    return _lookup()


def native_leaky(x: Tensor) -> NativeLeaky | None:
    """The compiled kernels if they can run on ``x`` (CPU float32/64, enabled), else None."""
    if not native_enabled() or x.device.type != "cpu" or x.dtype not in DTYPES:
        return None
    found = _lookup()
    return found if isinstance(found, NativeLeaky) else None


def native_leaky_status() -> str:
    """``"native"`` (the family name) or why the leaky integrator's native kernels cannot run."""
    if not native_enabled():
        return DISABLED
    found = _lookup()
    return "native" if isinstance(found, NativeLeaky) else found
