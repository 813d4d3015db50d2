"""Memory of a step: the peak, measured in a fresh child process, and what autograd saves.

The child (:mod:`benchmarks.probe`) builds the candidate and its inputs, warms the code
paths up on a tiny input (so lazy imports and one-time setup are not counted), hands freed
heap memory back to the system, resets the kernel's high-water mark of its resident set
(``/proc/self/clear_refs``), runs one fwd+bwd at full size and reports that mark
minus the resident size just before: the peak of everything the pass allocated
(saved tensors, temporaries, outputs), however an implementation keeps them.  A
fresh process matters because a warm allocator would serve the pass from memory
freed earlier.  Linux only; elsewhere the figure is reported as absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .common import Run
from .timing import synchronize


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak() -> bool:
    """Return freed heap pages to the system and restart the resident high-water mark."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        trim = getattr(ctypes.CDLL(libc_name), "malloc_trim", None)
        if trim is not None:
            trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def peak_of(run: Callable[[], object]) -> int | None:
    """Peak resident bytes that ``run()`` adds above the resident size just before it."""
    if not _reset_peak():
        return None
    baseline = _status_kib("VmRSS")
    run()
    peak = _status_kib("VmHWM")
    if baseline is None or peak is None:
        return None
    return (peak - baseline) * 1024


#: The checkout's root: the child runs ``python -m benchmarks.probe`` from there.
ROOT = Path(__file__).resolve().parents[1]


def measure(request: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    """Peak memory of one step, measured by :mod:`benchmarks.probe` in a fresh interpreter
    (a warm allocator would serve the step from memory freed earlier).

    ``request`` names the work, the candidate and the shape (see :mod:`benchmarks.probe`);
    the answer holds ``peak_bytes`` (``None``: no reading here) and ``tensor_peak_bytes``.
    """
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip().splitlines()[-1:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def tensor_peak(run: Run) -> int:
    """The most bytes of torch tensors alive at once during ``run()``, from the profiler's
    allocations: each op's own allocations and frees added up in the order the ops start
    (a free outside any op, such as autograd dropping a saved tensor, is not seen, so this
    is an upper bound).  Memory that is not a torch tensor (a C kernel's scratch, a BLAS
    workspace) is not counted; the resident peak counts it."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiled:
        run()
    changes = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in profiled.events())
    alive = peak = 0
    for _, change in changes:
        alive += change
        peak = max(peak, alive)
    return peak


def cuda_peak(run: Run, device: str) -> int | None:
    """Peak CUDA memory of one call above what was allocated before it (``None`` off CUDA)."""
    if torch.device(device).type != "cuda":
        return None
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    run()
    synchronize(device)
    return int(torch.cuda.max_memory_allocated(device) - before)


def peak(request: dict[str, Any], run: Run, device: str, timeout: float = 300) -> int | None:
    """The peak of one step: in this process on a CUDA device (its allocator counts exactly),
    in a fresh child process on the CPU (:func:`measure`)."""
    if torch.device(device).type == "cuda":
        return cuda_peak(run, device)
    value = measure(request, timeout)["peak_bytes"]
    return None if value is None else int(value)


def saved_storage_bytes(call: Callable[[Tensor], object], x: Tensor) -> tuple[int, int]:
    """``(all, beyond the input)``: bytes of the distinct storages autograd keeps for the
    backward of ``call(x)``."""
    seen: set[int] = set()
    total = beyond = 0
    mine = x.untyped_storage().data_ptr()

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total, beyond
        storage = tensor.untyped_storage()
        # Saved tensors stay alive until the graph is freed, so addresses are not reused.
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
            beyond += 0 if storage.data_ptr() == mine else storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = call(x)
    del output
    return total, beyond


def saved_bytes(layer: Callable[[Tensor], object], x: Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for backward, the input's excluded."""
    return saved_storage_bytes(layer, x)[1]
