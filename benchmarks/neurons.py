"""The LIF candidates, ours and the peers', each built from a small description on a device.

Every candidate runs the same equations (``v = beta v + x``, spike on ``v - 1``, subtractive
reset through the detached spike) with beta = 0.9 and the atan surrogate (alpha = 2) unless
it says otherwise.  A candidate is a dict (``{"kind": "fused", "surrogate": "atan"}``), so a
child process can rebuild it for a peak-memory figure (:mod:`benchmarks.probe`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sc_neurocore.core.registry import (
    coverage,
    get_surrogate,
    list_paths,
    list_surrogates,
)
from sc_neurocore.neurons.fused import fused_kernel

from .common import BETA, OURS, THRESHOLD, Layer
from .config import is_cuda
from .peers import module_present

SNNTORCH = "snntorch.Leaky loop"
SPIKINGJELLY = "spikingjelly.LIFNode(step_mode='m')"
NORSE = "norse.LIFBoxCell loop"
CELL = "LIFCell loop [custom_op]"
#: SpikingJelly's CUDA backends: "cupy" up to 1.x, its own CUDA kernels ("cuda") from 2.0.
SJ_BACKENDS = ("torch", "triton", "cupy", "cuda")
#: The reference of the GPU's LIF targets: SpikingJelly on its Triton backend.
SJ_TRITON = f"{SPIKINGJELLY} [triton]"
Description = dict[str, Any]


def _stepped(step: Callable[[Tensor, Any], tuple[Tensor, Any]], state: Any) -> Layer:
    """A layer stepping ``step(current, state) -> (spike, state)`` over time."""

    def layer(x: Tensor) -> Tensor:
        current_state = state() if callable(state) else state
        spikes = []
        for current in x.unbind(0):
            spike, current_state = step(current, current_state)
            spikes.append(spike)
        return torch.stack(spikes)

    return layer


def _cell_layer(path: str) -> Layer:
    from sc_neurocore.neurons.cells import LIFCell

    cell = LIFCell(beta=BETA, threshold=THRESHOLD, surrogate_fn=get_surrogate("atan", path))
    return _stepped(cell, None)


def _fused_layer(surrogate: str) -> Layer:
    from sc_neurocore.neurons.fused import LIF

    fused = LIF(beta=BETA, threshold=THRESHOLD, surrogate_fn=get_surrogate(surrogate))
    return lambda x: fused(x)[0]


def _snntorch_layer() -> Layer:
    import snntorch
    from snntorch import surrogate

    leaky = snntorch.Leaky(
        beta=BETA,
        threshold=THRESHOLD,
        spike_grad=surrogate.atan(alpha=2.0),
        reset_mechanism="subtract",
    )

    return _stepped(leaky, leaky.init_leaky)


def _spikingjelly_layer(**options: Any) -> Layer:
    """SpikingJelly's multi-step LIFNode; ``options`` go to ``LIFNode`` (e.g. ``backend``)."""
    from spikingjelly.activation_based import neuron, surrogate

    # tau = 1 / (1 - beta) with decay_input=False and v_reset=None is v = beta v + x.
    node = neuron.LIFNode(
        tau=1.0 / (1.0 - BETA),
        decay_input=False,
        v_threshold=THRESHOLD,
        v_reset=None,
        surrogate_function=surrogate.ATan(alpha=2.0),
        detach_reset=True,
        step_mode="m",
        **options,
    )

    def layer(x: Tensor) -> Tensor:
        node.reset()
        out: Tensor = node(x)
        return out

    return layer


def _norse_layer(compiled: bool) -> Layer:
    from norse.torch import LIFBoxCell, LIFBoxParameters
    from norse.torch.functional.reset import reset_subtract

    # dt * tau_mem_inv = 1 - beta: v <- v + (1 - beta) (i - v) = beta v + (1 - beta) i, so the
    # current is scaled by 1 / (1 - beta) to give v = beta v + x.  Norse has no atan
    # surrogate; its SuperSpike (alpha 10) is our superspike (beta 10).  Its reset is not
    # detached (the gradient also flows through the reset), ours and the others' are.
    params = LIFBoxParameters(
        tau_mem_inv=torch.as_tensor(1.0 - BETA),
        v_th=torch.as_tensor(THRESHOLD),
        method="super",
        alpha=torch.as_tensor(10.0),
        reset_method=reset_subtract,
    )
    cell = LIFBoxCell(params, dt=1.0)
    step = torch.compile(cell) if compiled else cell
    scale = 1.0 / (1.0 - BETA)

    def layer(x: Tensor) -> Tensor:
        state = None
        spikes = []
        for current in (x * scale).unbind(0):
            spike, state = step(current, state)
            spikes.append(spike)
        return torch.stack(spikes)

    return layer


def _spikingjelly_backend(backend: str, device: str) -> Layer:
    """SpikingJelly's LIFNode on one of its CUDA backends.

    Up to 0.0.0.0.14 ``LIFNode`` takes ``backend=`` (torch, cupy; triton in later 1.x).  From
    2.0 one process-wide selection picks the operator's implementation (cuda, triton or
    torch, ``SJ_LIF_CUDA_IMPLEMENTATION``); it is resolved here once per backend, through
    SpikingJelly's selection object, and put in place before each call.
    """
    from spikingjelly.activation_based import neuron

    if "backend" in inspect.signature(neuron.LIFNode.__init__).parameters:
        return _spikingjelly_layer(backend=backend)
    from spikingjelly._ops import lif as lif_ops

    selection = lif_ops._selection
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    requested, selection._requested = selection._requested, backend
    try:
        chosen = selection._select(index)
    finally:
        selection._requested = requested
    if chosen.name != backend:
        raise RuntimeError(f"SpikingJelly selected {chosen.name!r} for {backend!r}")
    layer = _spikingjelly_layer()  # no tensors of its own: its state follows the input

    def run(x: Tensor) -> Tensor:
        selection._selections[index] = chosen
        return layer(x)

    return run


def _layer(spec: Description, device: str) -> Layer:
    kind = spec["kind"]
    if kind == "cell":
        return _cell_layer(spec["path"])
    if kind == "fused":
        return _fused_layer(spec["surrogate"])
    if kind == "snntorch":
        return _snntorch_layer()
    if kind == "spikingjelly" and "backend" in spec:
        return _spikingjelly_backend(spec["backend"], device)
    if kind == "spikingjelly":
        return _spikingjelly_layer()
    if kind == "norse":
        return _norse_layer(bool(spec.get("compiled", False)))
    raise ValueError(f"unknown LIF candidate kind {kind!r}")


def build_layer(spec: Description, device: str = "cpu") -> Layer:
    """The layer a candidate description names (see :func:`candidates`), on ``device``: built
    and run with it as the default device, so the peers' state tensors land there too."""
    if torch.device(device).type == "cpu":
        return _layer(spec, device)
    with torch.device(device):
        layer = _layer(spec, device)

    def run(x: Tensor) -> Tensor:
        with torch.device(device):
            return layer(x)

    return run


def peers(
    installed: dict[str, str | None], notes: list[str], device: str
) -> dict[str, Description]:
    """snnTorch, SpikingJelly (each CUDA backend on a GPU) and Norse, where installed; one
    note for each that is missing."""
    found: dict[str, Description] = {}
    if installed.get("snntorch"):
        found[SNNTORCH] = {"kind": "snntorch"}
    else:
        notes.append("snnTorch not installed (the 'bench' extra): skipped")
    if installed.get("spikingjelly") and is_cuda(device):
        for backend in SJ_BACKENDS:
            found[f"{SPIKINGJELLY} [{backend}]"] = {"kind": "spikingjelly", "backend": backend}
    elif installed.get("spikingjelly"):
        found[SPIKINGJELLY] = {"kind": "spikingjelly"}
    else:
        notes.append("SpikingJelly not installed (the 'bench' extra): skipped")
    if installed.get("norse"):
        found[NORSE] = {"kind": "norse"}
    else:
        notes.append("Norse not installed (pip install --no-deps norse nir nirtorch): skipped")
    return found


def candidates(
    installed: dict[str, str | None], notes: list[str], device: str = "cpu"
) -> dict[str, Description]:
    """label -> description of every candidate of section ``lif`` here.  On the CPU: the
    LIFCell loop on every path, the peers and the fused LIF with every built-in surrogate; on
    a GPU, SpikingJelly's tutorial comparison: ours against each of its CUDA backends."""
    if is_cuda(device):
        kernel, reason = fused_kernel("atan", device)
        notes.append(f"{OURS} runs the {kernel} kernels" + (f" ({reason})" if reason else ""))
        found = {OURS: {"kind": "fused", "surrogate": "atan"}}
        sj = peers(installed, [], device).items()
        return found | {label: spec for label, spec in sj if spec["kind"] == "spikingjelly"}
    found = {}
    if module_present("sc_neurocore.neurons.cells"):
        for path in list_paths():
            if coverage("atan", path)[0]:
                found[f"LIFCell loop [{path}]"] = {"kind": "cell", "path": path}
    else:
        notes.append("sc_neurocore.neurons.cells is missing: LIFCell not measured")
    found |= peers(installed, notes, device)
    if module_present("sc_neurocore.neurons.fused"):
        from sc_neurocore.neurons.fused import compiled_kernel_status

        for surrogate in list_surrogates():
            found[f"fused LIF [{surrogate}]"] = {"kind": "fused", "surrogate": surrogate}
            status = compiled_kernel_status(surrogate)
            if status != "compiled":
                notes.append(f"fused LIF [{surrogate}] runs its torch kernels: {status}")
    else:
        notes.append("sc_neurocore.neurons.fused is missing: fused LIF not measured")
    return found
