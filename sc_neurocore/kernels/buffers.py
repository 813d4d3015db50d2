"""Sequence buffers for the fused LIF: ``(T, batch, ...)`` outputs, reused across calls.

A training step allocates the spikes in the forward and the input gradient in the
backward: tens of MiB each, freed at the end of the step.  The C allocator hands such
blocks back to the OS, so the next step gets fresh pages that the kernel must fault in
and zero, which cost about as much as the LIF arithmetic itself.  Like torch's CUDA
caching allocator, this module keeps a few freed CPU buffers and hands them out again.

A pooled buffer is reused only when nothing but the pool references its storage (the
storage use count, which torch's own CUDA-graph trees consult the same way), so a tensor
a caller still holds is never overwritten.  A buffer moved to shared memory
(``share_memory_()``, as ``torch.multiprocessing`` does for tensors sent to another
process) is dropped from the pool: another process may still read it, and its use count
here cannot tell.  ``empty_cache()`` returns the memory;
``SC_NEUROCORE_BUFFER_POOL=0`` turns pooling off.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Callable

import torch
from torch import Tensor

from ..core.compat import storage_use_count
from ..core.settings import env_flag

__all__ = ["BufferPool", "empty_cache", "pool", "sequence_buffer", "set_pooling"]

ENV_SWITCH = "SC_NEUROCORE_BUFFER_POOL"
#: Smaller buffers come from the C allocator's own free lists: pooling them gains nothing.
POOL_MIN_BYTES = 1 << 20
#: Buffers the pool remembers, in use or free; the least recently used goes first.
POOL_SLOTS = 8

#: Linux ``madvise`` advice asking for transparent huge pages.
_MADV_HUGEPAGE = 14
_HUGE_PAGE = 2 << 20


def _load_madvise() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    return madvise  # type: ignore[no-any-return]


_madvise = _load_madvise()


def _advise_huge_pages(storage: torch.UntypedStorage) -> None:
    """Ask for transparent huge pages: ~500x fewer page faults on first touch (advice only)."""
    if _madvise is None or storage.nbytes() < 2 * _HUGE_PAGE:
        return
    start = -(-storage.data_ptr() // _HUGE_PAGE) * _HUGE_PAGE
    stop = (storage.data_ptr() + storage.nbytes()) // _HUGE_PAGE * _HUGE_PAGE
    if stop > start:
        _madvise(start, stop - start, _MADV_HUGEPAGE)  # failure is harmless


def _free(storage: torch.UntypedStorage) -> bool:
    return storage_use_count is not None and storage_use_count(storage) == 1


def _contiguous(shape: torch.Size) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


class BufferPool:
    """The pooled CPU storages (most recently used last), their lock and the on/off switch."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._storages: list[torch.UntypedStorage] = []

    def __len__(self) -> int:
        return len(self._storages)

    def held(self) -> list[int]:
        """The data pointers of the pooled storages (for tests and diagnostics)."""
        with self._lock:
            return [storage.data_ptr() for storage in self._storages]

    def buffer(self, like: Tensor) -> Tensor:
        """An uninitialised contiguous tensor with the shape, dtype and device of ``like``."""
        nbytes = like.numel() * like.element_size()
        if (
            not self.enabled
            or storage_use_count is None
            or like.device.type != "cpu"
            or nbytes < POOL_MIN_BYTES
        ):
            out = torch.empty_like(like, memory_format=torch.contiguous_format)
            if out.device.type == "cpu":
                _advise_huge_pages(out.untyped_storage())
            return out
        return self._pooled(like, nbytes)

    def _pooled(self, like: Tensor, nbytes: int) -> Tensor:
        """A tensor over a free pooled storage of ``nbytes``, or over a new one it pools.

        The tensor is made while the lock is held: it raises the storage's use count, so no
        other thread can see the storage as free in between.
        """
        shape, strides = like.shape, _contiguous(like.shape)
        with self._lock:
            pool = self._storages
            pool[:] = [storage for storage in pool if not storage.is_shared()]
            # The most recently used free buffer first: its lines are the likeliest to be
            # still in cache (the oldest one first cycled every call through all of them).
            for index in range(len(pool) - 1, -1, -1):
                storage = pool[index]
                if storage.nbytes() == nbytes and _free(storage):
                    pool.append(pool.pop(index))
                    return torch.empty(0, dtype=like.dtype).set_(storage, 0, shape, strides)
            storage = torch.empty(nbytes, dtype=torch.uint8).untyped_storage()
            _advise_huge_pages(storage)
            pool.append(storage)
            if len(pool) > POOL_SLOTS:
                del pool[0]  # forgotten, not freed: a caller may still hold it
            return torch.empty(0, dtype=like.dtype).set_(storage, 0, shape, strides)

    def clear(self) -> None:
        """Drop the pool's references; buffers nobody holds go back to the allocator."""
        with self._lock:
            self._storages.clear()


#: The process's pool of fused-layer sequence buffers.
pool = BufferPool(env_flag(ENV_SWITCH, True))


def sequence_buffer(like: Tensor) -> Tensor:
    """An uninitialised contiguous tensor with the shape, dtype and device of ``like``."""
    return pool.buffer(like)


def empty_cache() -> None:
    """Drop the pool's references; buffers nobody holds go back to the allocator."""
    pool.clear()


def set_pooling(enabled: bool) -> bool:
    """Turn buffer reuse on or off; returns the previous setting."""
    previous, pool.enabled = pool.enabled, bool(enabled)
    if not pool.enabled:
        pool.clear()
    return previous
