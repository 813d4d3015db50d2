"""Section ``amp``: mixed precision as memory, ours against the peers on the same work.

Two training steps, each in fp32 and under ``torch.autocast("cpu", dtype=torch.bfloat16)``:

- ``layer``: ``Linear(n, n)`` on a ``(T, batch, n)`` input, one LIF layer, the weight and
  bias gradients of ``spikes.sum()`` (the ``workload`` section's step);
- ``net``: ``Linear(784, 512)`` -> LIF -> ``Linear(512, 10)`` -> LIF over ``T`` steps, the
  cross-entropy of the output spike counts and the gradients of every parameter (ours is
  ``SpikingNet(fused=True)``; each peer is the same stack with its own neurons).

The input arrives in the step's dtype (fp32, or bf16 as a preceding layer under autocast
hands it over), the parameters are fp32.  Two peaks, both in a fresh child process per
(work, candidate, dtype) after a warm-up on a tiny input: the resident high-water mark above
the resident size just before the step (:func:`~.memory.peak_of`: ``malloc_trim``,
``/proc/self/clear_refs``, ``VmHWM``; everything the step touched, BLAS workspaces and C
scratch included), and the most bytes of torch tensors alive at once (:func:`tensor_peak`).

Saved bytes: for each fused operator (and the element-wise surrogate) and each dtype, the
distinct storages autograd keeps for backward (``saved_tensors_hooks``) per neuron-step,
with and without the operator's input (which nothing can recompute).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from .config import BenchConfig
from .lif import BETA, THRESHOLD, build_layer
from .memory import peak_of, probe
from .progress import Progress
from .workload import OURS, workload_candidates, workload_input

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
WORKS = ("layer", "net")
Run = Callable[[], object]


def _autocast(dtype: str) -> contextlib.AbstractContextManager[object]:
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=DTYPES[dtype])


def layer_step(spec: dict[str, Any], shape: tuple[int, ...], dtype: str) -> Run:
    """One training step of ``Linear(n, n)`` + ``spec``'s neurons (autocast for bf16)."""
    steps, batch, n = shape
    x = workload_input(steps, batch, n).to(DTYPES[dtype])
    torch.manual_seed(0)
    linear, neurons = nn.Linear(n, n), build_layer(spec)
    params = tuple(linear.parameters())

    def run() -> object:
        with _autocast(dtype):
            loss = neurons(linear(x)).sum()  # in the spikes dtype: no full-size cast
        return torch.autograd.grad(loss, params)

    return run


def net_step(spec: dict[str, Any], shape: tuple[int, ...], dtype: str) -> Run:
    """One training step of the two-layer stack: cross-entropy of the output spike counts."""
    steps, batch, n_in, hidden, n_out = shape
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(steps, batch, n_in, generator=generator) < 0.2).to(DTYPES[dtype])
    targets = torch.randint(0, n_out, (batch,), generator=generator)
    modules = _stack(spec, (n_in, hidden, n_out))
    params = [p for module in modules[1] for p in module.parameters()]

    def run() -> object:
        with _autocast(dtype):
            loss = nn.functional.cross_entropy(modules[0](x).float(), targets)
        return torch.autograd.grad(loss, params)

    return run


def _stack(
    spec: dict[str, Any], sizes: tuple[int, int, int]
) -> tuple[Callable[[Tensor], Tensor], list[nn.Module]]:
    """``(counts(x), the modules holding the parameters)`` of the two-layer stack."""
    n_in, hidden, n_out = sizes
    torch.manual_seed(0)
    if spec["kind"] == "fused":
        from ..core.registry import get_surrogate
        from ..networks import SpikingNet

        surrogate = get_surrogate(spec["surrogate"])
        net = SpikingNet(n_in, hidden, n_out, 2, BETA, surrogate, THRESHOLD, fused=True)
        return (lambda x: net(x)[0]), [net]
    first, second = nn.Linear(n_in, hidden), nn.Linear(hidden, n_out)
    hidden_neurons, output_neurons = build_layer(spec), build_layer(spec)

    def counts(x: Tensor) -> Tensor:
        return output_neurons(second(hidden_neurons(first(x)))).sum(0)

    return counts, [first, second]


def _step(work: str) -> Callable[[dict[str, Any], tuple[int, ...], str], Run]:
    return layer_step if work == "layer" else net_step


def _tiny(work: str) -> tuple[int, ...]:
    return (2, 2, 8) if work == "layer" else (2, 2, 8, 8, 3)


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


def measure_here(request: dict[str, Any]) -> tuple[int | None, int]:
    """``(resident peak, tensor peak)`` bytes of one step of ``request`` in this process,
    after a warm-up; the pooled buffers are released between the two runs."""
    from ..neurons.fused import release_buffers

    work, spec, dtype = request["work"], request["spec"], request["dtype"]
    _step(work)(spec, _tiny(work), dtype)()  # lazy imports, kernel builds, first calls
    resident = peak_of(_step(work)(spec, tuple(request["shape"]), dtype))
    release_buffers()
    return resident, tensor_peak(_step(work)(spec, tuple(request["shape"]), dtype))


def measure(request: dict[str, Any], timeout: float = 600) -> tuple[int | None, int]:
    """:func:`measure_here` in a fresh interpreter (a warm allocator would hide the peak)."""
    values = probe(__name__, request, timeout)
    resident = values["peak_bytes"]
    return (None if resident is None else int(resident)), int(values["tensor_peak_bytes"])


def _shapes(config: BenchConfig) -> dict[str, tuple[int, ...]]:
    return {"layer": config.amp_layer_shape, "net": config.amp_net_shape}


def saved_per_neuron_step(run: Callable[[Tensor], object], x: Tensor) -> tuple[float, float]:
    """``(all, beyond the input)`` bytes autograd keeps for backward per element of ``x``."""
    seen: set[int] = set()
    total = beyond = 0
    mine = x.untyped_storage().data_ptr()

    def pack(tensor: Tensor) -> Tensor:
        nonlocal total, beyond
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen:  # saved tensors stay alive: no address reuse
            seen.add(storage.data_ptr())
            total += storage.nbytes()
            beyond += 0 if storage.data_ptr() == mine else storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = run(x)
    del output
    return total / x.numel(), beyond / x.numel()


def _operators() -> dict[str, tuple[Callable[[Tensor], object], str | None]]:
    """label -> (a call of the operator on x, the kernel family forced for it)."""
    from ..core.registry import get_surrogate
    from ..neurons.fused import LIF
    from ..neurons.integrator import LeakyIntegrator

    lif, leaky = LIF(beta=BETA, threshold=THRESHOLD), LeakyIntegrator(BETA)
    surrogate = get_surrogate("atan", "custom_op")
    return {
        "sc_neurocore_fused::lif (compiled C)": (lambda x: lif(x)[0], None),
        "sc_neurocore_fused::lif (torch kernels)": (lambda x: lif(x)[0], "torch"),
        "sc_neurocore_fused::leaky (compiled C)": (leaky, None),
        "sc_neurocore::atan (custom_op, compiled C)": (surrogate, None),
    }


def saved_rows(shape: tuple[int, ...]) -> list[dict[str, Any]]:
    from ..core.settings import use_kernel

    rows = []
    for label, (call, family) in _operators().items():
        for name, dtype in {**DTYPES, "float16": torch.float16}.items():
            x = torch.randn(shape).to(dtype).requires_grad_(True)
            with use_kernel(family) if family else contextlib.nullcontext():
                total, beyond = saved_per_neuron_step(call, x)
            rows.append(
                {
                    "operator": label,
                    "dtype": name,
                    "saved_bytes_per_neuron_step": total,
                    "beyond_input_per_neuron_step": beyond,
                }
            )
    return rows


def run_amp(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    found = workload_candidates(installed, False, notes)
    rows: list[dict[str, Any]] = []
    cases = [(w, label, d) for w in WORKS for label in found for d in DTYPES]
    progress.start("amp memory", len(cases) + 1)
    progress.step("saved bytes per operator and dtype")
    saved = saved_rows(config.lif_shape)
    for work, label, dtype in cases:
        progress.step(f"{work} {label} {dtype}")
        request: dict[str, Any] = {"work": work, "spec": found[label], "dtype": dtype}
        request["shape"] = list(_shapes(config)[work])
        row: dict[str, Any] = {"work": work, "candidate": label, "dtype": dtype, "peak_bytes": None}
        row["tensor_peak_bytes"] = None
        try:
            if config.peak_memory:
                row["peak_bytes"], row["tensor_peak_bytes"] = measure(request)
            else:  # quick: check the step runs, measure nothing
                _step(work)(found[label], _tiny(work), dtype)()
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            row["error"] = str(error)
            notes.append(f"{work} {label} {dtype}: no peak memory ({error})")
        rows.append(row)
    if not config.peak_memory:
        notes.append("peak memory not measured (quick run)")
    notes.extend(
        f"saved for backward by {row['operator']} on {row['dtype']}: "
        f"{row['saved_bytes_per_neuron_step']:.2f} B per neuron-step, "
        f"{row['beyond_input_per_neuron_step']:.2f} B beyond its input"
        for row in saved
    )
    shapes = _shapes(config)
    return {
        "title": "Mixed precision: peak memory of a training step, fp32 and bf16 autocast",
        "layer_shape": list(shapes["layer"]),
        "net_shape": list(shapes["net"]),
        "rows": rows,
        "saved": saved,
        "notes": notes,
    }


# --- the targets of issue 24 ----------------------------------------------------------------


#: The two peak measures of a row: the resident set's and the torch tensors'.
MEASURES = {"peak_bytes": "resident", "tensor_peak_bytes": "tensor"}


def _peak(results: dict[str, Any], work: str, candidate: str, dtype: str, key: str) -> Any:
    for row in results.get("sections", {}).get("amp", {}).get("rows", []):
        if (row["work"], row["candidate"], row["dtype"]) == (work, candidate, dtype):
            return row.get(key)
    return None


def _bf16_over_fp32(work: str, key: str) -> Callable[[dict[str, Any]], float | None]:
    def measure(results: dict[str, Any]) -> float | None:
        bf16 = _peak(results, work, OURS, "bfloat16", key)
        fp32 = _peak(results, work, OURS, "float32", key)
        return None if not bf16 or not fp32 else bf16 / fp32

    return measure


def _over_peers(work: str, dtype: str, key: str) -> Callable[[dict[str, Any]], float | None]:
    def measure(results: dict[str, Any]) -> float | None:
        rows = results.get("sections", {}).get("amp", {}).get("rows", [])
        peers = [
            r.get(key)
            for r in rows
            if (r["work"], r["dtype"]) == (work, dtype) and r["candidate"] != OURS
        ]
        peers = [p for p in peers if p]
        ours = _peak(results, work, OURS, dtype, key)
        return None if not peers or not ours else ours / min(peers)

    return measure


def _saved(dtype: str) -> Callable[[dict[str, Any]], float | None]:
    def measure(results: dict[str, Any]) -> float | None:
        for row in results.get("sections", {}).get("amp", {}).get("saved", []):
            compiled = row["operator"] == "sc_neurocore_fused::lif (compiled C)"
            if compiled and row["dtype"] == dtype:
                return float(row["beyond_input_per_neuron_step"])
        return None

    return measure


def amp_targets(results: dict[str, Any]) -> Iterator[Any]:
    from .targets import Target

    for key, name in MEASURES.items():
        for work in WORKS:
            ratio = f"amp {work}: bf16 {name} peak / fp32 {name} peak (ours)"
            yield Target(24, ratio, 0.6, True, "x", _bf16_over_fp32(work, key))
            for dtype in DTYPES:
                over = f"amp {work} {dtype}: our {name} peak / smallest peer's"
                yield Target(24, over, 1.0, True, "x", _over_peers(work, dtype, key))
    for dtype in (*DTYPES, "float16"):
        saved = f"fused LIF saved bytes per neuron-step beyond its input, {dtype}"
        yield Target(24, saved, 1.0, True, "B", _saved(dtype))


def main() -> None:
    resident, tensors = measure_here(json.loads(sys.argv[1]))
    print(json.dumps({"peak_bytes": resident, "tensor_peak_bytes": tensors}))


if __name__ == "__main__":
    main()
