"""The neuron layers the GPU benchmarks compare, each built on the benchmark's device.

Every candidate runs ``v = beta v + x``, spike on ``v - 1``, subtractive reset through the
detached spike, beta = 0.9, the atan surrogate (alpha = 2) where the library has it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sc_neurocore.core.registry import get_surrogate

from .common import BETA, OURS, THRESHOLD, Layer
from .lif import build_layer, spikingjelly_layer
from .peers import PEERS, peer_version

__all__ = ["OURS", "neuron_candidates"]

#: SpikingJelly's CUDA backends: "cupy" up to 1.x, its own CUDA kernels ("cuda") from 2.0.
SJ_BACKENDS = ("torch", "triton", "cupy", "cuda")


def _ours(device: str) -> Callable[[Tensor], Tensor]:
    from sc_neurocore.neurons.fused import LIF

    layer = LIF(beta=BETA, threshold=THRESHOLD, surrogate_fn=get_surrogate("atan")).to(device)
    return lambda x: layer(x)[0]


def _spikingjelly_backend(backend: str, device: str) -> Callable[[Tensor], Tensor]:
    """SpikingJelly's LIFNode on one of its CUDA backends.

    Up to 0.0.0.0.14 ``LIFNode`` takes ``backend=`` (torch, cupy; triton in later 1.x).  From
    2.0 one process-wide selection picks the operator's implementation (cuda, triton or
    torch, ``SJ_LIF_CUDA_IMPLEMENTATION``); it is resolved here once per backend, through
    SpikingJelly's selection object, and put in place before each call.
    """
    from spikingjelly.activation_based import neuron

    if "backend" in inspect.signature(neuron.LIFNode.__init__).parameters:
        return spikingjelly_layer(backend=backend)
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
    layer = spikingjelly_layer()  # no tensors of its own: its state follows the input

    def run(x: Tensor) -> Tensor:
        selection._selections[index] = chosen
        return layer(x)

    return run


def neuron_candidates(
    device: str, compile_peers: bool, notes: list[str], workload: bool
) -> dict[str, Callable[[], Layer]]:
    """label -> factory of a layer ``x -> spikes`` on the device, for every candidate here."""
    found: dict[str, Callable[[], Layer]] = {OURS: lambda: _ours(device)}
    installed = {library: peer_version(library) for library in PEERS}
    if installed["spikingjelly"] and torch.device(device).type != "cuda":
        found["spikingjelly LIFNode"] = spikingjelly_layer
    elif installed["spikingjelly"]:
        for backend in SJ_BACKENDS:
            found[f"spikingjelly LIFNode [{backend}]"] = functools.partial(
                _spikingjelly_backend, backend, device
            )
    else:
        notes.append("SpikingJelly not installed: skipped")
    if workload:
        peers: tuple[tuple[str, str, dict[str, Any]], ...] = (
            ("snntorch", "snntorch Leaky (loop)", {"kind": "snntorch"}),
            (
                "norse",
                "norse LIFBoxCell (loop, torch.compile)",
                {"kind": "norse", "compiled": True},
            ),
        )
        for library, label, spec in peers:
            if not installed[library]:
                notes.append(f"{library} not installed: skipped")
            elif library == "norse" and not compile_peers:
                notes.append("Norse torch.compile skipped (--quick or --no-compile)")
            else:
                found[label] = functools.partial(_built_on, build_layer, spec, device)
    return found


def _built_on(build: Callable[[dict[str, Any]], Layer], spec: dict[str, Any], device: str) -> Layer:
    """A peer's layer from the CPU benchmark's ``build_layer``, built and run on ``device``."""
    with torch.device(device):
        return _on_device(build(spec), device)


def _on_device(layer: Callable[[Tensor], Tensor], device: str) -> Callable[[Tensor], Tensor]:
    """A peer's layer run with ``device`` as the default device (its state tensors)."""

    def run(x: Tensor) -> Tensor:
        with torch.device(device):
            return layer(x)

    return run
