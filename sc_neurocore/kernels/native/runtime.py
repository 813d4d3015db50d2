"""What every compiled CPU kernel shares at run time: the native switch, the dtypes the
kernels take and compute in, and the chunking of neurons that keeps one chunk's state
history in a core's cache between a backward's two passes."""

from __future__ import annotations

from pathlib import Path

import torch

from ...core.settings import ENV_NATIVE, KERNEL_SWITCH

__all__ = [
    "CHUNK_BYTES",
    "COMPUTE",
    "DISABLED",
    "DTYPES",
    "ENV_SWITCH",
    "ROW_BYTES",
    "STEPS_PER_THREAD",
    "cache_size",
    "chunk_neurons",
    "native_enabled",
    "private_cache_bytes",
    "set_native_enabled",
]

#: ``SC_NEUROCORE_NATIVE=0``: the native kernels run only where forced (core/settings.py).
ENV_SWITCH = ENV_NATIVE
#: Why the native kernels do not run unforced while switched off.
DISABLED = f"disabled ({ENV_SWITCH}=0 or set_native_enabled(False))"
#: The input dtypes the compiled kernels take: (C element type, symbol suffix).  bfloat16 and
#: float16 are read and written as they are and computed in float32 (half.c, ``COMPUTE``).
DTYPES = {
    torch.float32: ("float", "f32"),
    torch.float64: ("double", "f64"),
    torch.bfloat16: ("uint16_t", "bf16"),
    torch.float16: ("uint16_t", "f16"),
}
#: The dtype each input dtype is computed in (and the membrane, v_0, v_T and the parameters).
COMPUTE = {
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    torch.bfloat16: torch.float32,
    torch.float16: torch.float32,
}


def cache_size(text: str) -> int | None:
    """Bytes of a sysfs cache size such as ``"2048K"`` or ``"1M"`` (None if unreadable)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    scale = units.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in units else text
    return int(digits) * scale if digits.isdigit() else None


def private_cache_bytes(
    root: Path = Path("/sys/devices/system/cpu/cpu0/cache"), level: int = 2
) -> int | None:
    """The size of the first CPU's cache of ``level`` (2: one core's L2; Linux sysfs), or
    None where it cannot be read."""
    try:
        for index in sorted(root.glob("index*")):
            found = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            if found == str(level) and kind in ("Unified", "Data"):
                return cache_size((index / "size").read_text())
    except OSError:
        return None
    return None


#: Bytes of one chunk's membrane history (T x chunk) that should stay in cache between the
#: two passes: three quarters of a core's L2 (the rest holds the rows streamed through),
#: 512 KiB where the size is unknown.
_L2_BYTES = private_cache_bytes()
CHUNK_BYTES = 1 << 19 if _L2_BYTES is None else max(1 << 18, min(3 * _L2_BYTES // 4, 1 << 22))
#: Bytes of one time step of a chunk (a power of two in this range, the history bound above
#: when it allows): a row shorter than a page starves the hardware prefetcher, which stops
#: at page boundaries.  On the 2 MiB-L2 development machine the bare C loops ran 10-18 %
#: faster with 4-8 KiB rows than with the 3 KiB ones the history bound alone gives T = 500;
#: in the layer's fwd+bwd (one thread, interleaved A/B in one process) 8 KiB rows ran 3 %
#: faster than 15 KiB ones at T = 100, and T = 25 and 500 moved by under 1 %.
ROW_BYTES = (1 << 12, 1 << 13)
#: Neuron-steps per thread below which starting another thread costs more than it saves.
STEPS_PER_THREAD = 1 << 16


def chunk_neurons(steps: int, element_size: int) -> int:
    """Neurons per chunk: the largest power-of-two row within :data:`ROW_BYTES` whose
    ``steps`` rows fit :data:`CHUNK_BYTES`, else the shortest row of that range."""
    low, high = ROW_BYTES
    row = high
    while row > low and steps * row > CHUNK_BYTES:
        row //= 2
    return row // element_size


def set_native_enabled(enabled: bool) -> bool:
    """Let the native (compiled C) kernels run where they can (the default), or keep every
    unforced call on the torch kernels: the kernel switch's native setting.

    Returns the previous setting, so a caller can restore it.
    """
    return KERNEL_SWITCH.set_native(enabled)


def native_enabled() -> bool:
    """Whether native kernels may run (``SC_NEUROCORE_NATIVE``, :func:`set_native_enabled`)."""
    return KERNEL_SWITCH.native
