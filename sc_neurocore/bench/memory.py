"""Peak memory of one LIF fwd+bwd, measured in a fresh child process.

The child builds the candidate and its inputs, warms the code paths up on a tiny
input (so lazy imports and one-time setup are not counted), hands freed heap memory
back to the system, resets the kernel's high-water mark of its resident set
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
from typing import Any

import torch
from torch import Tensor

from .config import BenchConfig
from .progress import Progress


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


def measure_here(spec: dict[str, Any], shape: tuple[int, int, int]) -> int | None:
    """Peak bytes above the baseline for one fwd+bwd of ``spec`` in this process."""
    from .lif import build_layer, fwd_bwd, lif_inputs

    layer = build_layer(spec)
    fwd_bwd(layer, *lif_inputs((2, 2, 8)))()
    return peak_of(fwd_bwd(layer, *lif_inputs(shape)))


def measure(
    spec: dict[str, Any],
    shape: tuple[int, ...],
    timeout: float = 300,
    module: str = __name__,
) -> int | None:
    """Run ``module``'s probe (default :func:`measure_here`) in a fresh interpreter.

    The probe module's ``main`` reads ``{"spec", "shape"}`` as JSON from ``argv[1]`` and
    prints ``{"peak_bytes": ...}``; ``None`` if it gives no reading.
    """
    value = probe(module, {"spec": spec, "shape": list(shape)}, timeout)["peak_bytes"]
    return None if value is None else int(value)


def probe(module: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``python -m module <request as JSON>`` in a fresh interpreter; its last line, parsed."""
    done = subprocess.run(
        [sys.executable, "-m", module, json.dumps(request)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip().splitlines()[-1:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def saved_bytes(layer: Any, x: Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for backward, the input's excluded."""
    seen = {x.untyped_storage().data_ptr()}
    total = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total
        storage = tensor.untyped_storage()
        # Saved tensors stay alive until the graph is freed, so addresses are not reused.
        if storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = layer(x)
    del output
    return total


def add_memory(section: dict[str, Any], config: BenchConfig, progress: Progress) -> dict[str, Any]:
    """Add ``saved_bytes`` and (unless disabled) ``peak_bytes`` to each LIF row."""
    from .lif import build_layer, lif_inputs

    rows = section["rows"]
    progress.start("lif memory", len(rows))
    x, _ = lif_inputs(config.lif_shape)
    for row in rows:
        progress.step(row["candidate"])
        spec = section["descriptions"][row["candidate"]]
        row["saved_bytes"] = saved_bytes(build_layer(spec), x)
        row["peak_bytes"] = None
        if config.peak_memory:
            try:
                row["peak_bytes"] = measure(spec, config.lif_shape)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                section["notes"].append(f"{row['candidate']}: no peak memory ({error})")
    if not config.peak_memory:
        section["notes"].append("peak memory not measured (quick run)")
    return section


def main() -> None:
    request = json.loads(sys.argv[1])
    peak = measure_here(request["spec"], tuple(request["shape"]))
    print(json.dumps({"peak_bytes": peak}))


if __name__ == "__main__":
    main()
