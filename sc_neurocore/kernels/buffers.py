"""Sequence buffers for the fused LIF: ``(T, batch, ...)`` outputs, reused across calls.

A training step allocates the spikes in the forward and the input gradient in the
backward: tens of MiB each, freed at the end of the step.  The C allocator hands such
blocks back to the OS, so the next step gets fresh pages that the kernel must fault in
and zero, which cost about as much as the LIF arithmetic itself.  Like torch's CUDA
caching allocator, this module keeps a few freed CPU buffers and hands them out again.

A pooled buffer is reused only when nothing but the pool references its storage, so
nothing a caller still holds is ever overwritten: no tensor, view or alias (the storage's
use count, which torch's own CUDA-graph trees consult the same way) and no Python object
of the storage itself (``untyped_storage()`` returns the pool's own storage object, and
``storage()`` wraps it: its Python reference count, compared with the count the pool's
own references give, measured once at import).  A buffer moved to shared memory
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
from ..core.forksafe import after_fork_in_child
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


def _contiguous(shape: torch.Size) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


class _Slot:
    """One pooled storage and the last tensor laid over it.

    Handing out ``base.detach()`` (half a microsecond) instead of building a tensor over
    the storage (``empty(0).set_(...)``, five times that) keeps the pool off the per-call
    cost of small kernels; ``base`` counts once in the storage's use count.
    """

    __slots__ = ("base", "storage")

    def __init__(self, storage: torch.UntypedStorage) -> None:
        self.storage = storage
        self.base: Tensor | None = None

    def python_references(self) -> int:
        return sys.getrefcount(self.storage)

    def idle(self) -> bool:
        """Nothing outside the pool references the storage (see the module docstring)."""
        assert storage_use_count is not None
        own = self.base is not None
        return (
            storage_use_count(self.storage) == 1 + own
            and self.python_references() <= _OWN_REFERENCES[own]
        )

    def tensor(self, like: Tensor) -> Tensor:
        base = self.base
        if (
            base is None
            or base.dtype != like.dtype
            or base.shape != like.shape
            # an alias keeps its base's inference-ness: one made in inference_mode could
            # not be saved for backward outside it
            or base.is_inference() != torch.is_inference_mode_enabled()
        ):
            base = torch.empty(0, dtype=like.dtype)
            base.set_(self.storage, 0, like.shape, _contiguous(like.shape))
            if type(base) is not Tensor:  # made under a mode (fake, ...): never kept
                self.base = None
                return base
            self.base = base
        return base.detach()


def _own_references() -> tuple[int, int]:
    """The Python reference counts of a slot's storage object that only the pool holds,
    without and with the slot's cached tensor (a tensor over a storage object with a
    Python twin holds that object once)."""
    slot = _Slot(torch.empty(64, dtype=torch.uint8).untyped_storage())
    without = slot.python_references()
    slot.tensor(torch.empty(64, dtype=torch.uint8))
    return without, slot.python_references()


_OWN_REFERENCES = _own_references()


class BufferPool:
    """The pooled CPU storages (most recently used last), their lock and the on/off switch."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._slots: list[_Slot] = []
        after_fork_in_child(self, BufferPool._after_fork, "buffer pool")

    def _after_fork(self) -> None:
        # Forget the slots too: one may be half moved by a thread that no longer exists.
        self._lock = threading.Lock()
        self._slots = []

    def __len__(self) -> int:
        return len(self._slots)

    def held(self) -> list[int]:
        """The data pointers of the pooled storages (for tests and diagnostics)."""
        with self._lock:
            return [slot.storage.data_ptr() for slot in self._slots]

    def buffer(self, like: Tensor) -> Tensor:
        """An uninitialised contiguous tensor with the shape, dtype and device of ``like``."""
        nbytes = like.numel() * like.element_size()
        if nbytes >= POOL_MIN_BYTES and self.enabled and storage_use_count is not None:
            if like.is_cpu:
                return self._pooled(like, nbytes)
        out = torch.empty_like(like, memory_format=torch.contiguous_format)
        if nbytes >= 2 * _HUGE_PAGE and out.is_cpu:
            _advise_huge_pages(out.untyped_storage())
        return out

    def _pooled(self, like: Tensor, nbytes: int) -> Tensor:
        """A tensor over a free pooled storage of ``nbytes``, or over a new one it pools.

        The tensor is made while the lock is held: it raises the storage's use count, so no
        other thread can see the storage as free in between.
        """
        with self._lock:
            slots = self._slots
            # The most recently used free buffer first: its lines are the likeliest to be
            # still in cache (the oldest one first cycled every call through all of them).
            for index in range(len(slots) - 1, -1, -1):
                slot = slots[index]
                if slot.storage.nbytes() != nbytes or not slot.idle():
                    continue
                del slots[index]
                if slot.storage.is_shared():
                    continue  # another process may read it: forget it, never reuse it
                slots.append(slot)
                return slot.tensor(like)
            storage = torch.empty(nbytes, dtype=torch.uint8).untyped_storage()
            _advise_huge_pages(storage)
            slot = _Slot(storage)
            slots.append(slot)
            if len(slots) > POOL_SLOTS:
                del slots[0]  # forgotten, not freed: a caller may still hold it
            return slot.tensor(like)

    def clear(self) -> None:
        """Drop the pool's references; buffers nobody holds go back to the allocator."""
        with self._lock:
            self._slots.clear()


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
