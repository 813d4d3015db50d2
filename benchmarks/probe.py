"""The child process of every peak-memory figure: one step, in a fresh interpreter.

``python -m benchmarks.probe REQUEST`` (run by :func:`benchmarks.memory.measure`) reads
``{"work", "spec", "shape", "dtype"?, "tensors"?}`` as JSON, builds the work's step
(:mod:`benchmarks.steps`) for the candidate ``spec``, warms it up on tiny inputs
(lazy imports, kernel builds, a compiled candidate's dynamic-shape graph), releases the
fused layers' pooled buffers, and prints ``{"peak_bytes", "tensor_peak_bytes"}``: the
resident peak of one step at ``shape`` above the resident size just before it
(:func:`benchmarks.memory.peak_of`) and, when ``tensors`` is set, the most bytes of torch
tensors alive at once during another (:func:`benchmarks.memory.tensor_peak`).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sc_neurocore.neurons.fused import release_buffers

from .memory import peak_of, tensor_peak
from .steps import WORKS


def measure_here(request: dict[str, Any]) -> dict[str, int | None]:
    """The request's peaks, measured in this process."""
    step, warm = WORKS[request["work"]]
    spec, shape = request["spec"], tuple(request["shape"])
    dtype = request.get("dtype", "float32")
    for tiny in warm(shape):
        step(spec, tiny, dtype)()
    release_buffers()
    found: dict[str, int | None] = {"peak_bytes": peak_of(step(spec, shape, dtype))}
    found["tensor_peak_bytes"] = None
    if request.get("tensors"):
        release_buffers()
        found["tensor_peak_bytes"] = tensor_peak(step(spec, shape, dtype))
    return found


if __name__ == "__main__":
    print(json.dumps(measure_here(json.loads(sys.argv[1]))))
