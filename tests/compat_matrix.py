"""Tags for the compatibility tests, so the feature x path matrix is built from what ran.

A compat test is decorated with ``@feature("compile")``; its path comes from its
parameters (``path``, a ``pair`` of (surrogate, path), or a ``form``: a call form or a
``get_surrogate`` object).  ``scripts/gen_compat_matrix.py`` runs the compat tests,
reads these tags from each test item and renders ``docs/compatibility.md``.
Tests without a path parameter apply to every path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

#: feature key -> row title in docs/compatibility.md, in display order.
FEATURES: dict[str, str] = {
    "compile": "`torch.compile(fullgraph=True)`, surrogate level",
    "compile_model": "`torch.compile(fullgraph=True)` of `SpikingNet` and a cell",
    "compile_cold": "`torch.compile` as the very first use of the registry",
    "export": "`torch.export.export`",
    "func": "`torch.func` (`grad`, `vmap`, `jacrev`)",
    "double_backward": "double backward (`create_graph=True`)",
    "dtypes": "dtypes (float16, bfloat16, float32, float64)",
    "autocast": "CPU autocast (bfloat16) training step",
    "inputs": "inputs (0-d, empty, non-contiguous, channels-last, no grad)",
    "bad_inputs": "integer / bool inputs raise `TypeError`",
    "meta": "`meta` device (shapes propagate)",
    "devices": "devices (CPU, CUDA when present)",
    "pickle": "pickling call forms and `get_surrogate` objects",
    "save_load": "`torch.save(model)` / `torch.load`, `state_dict` across paths",
    "ddp": "`DistributedDataParallel` (gloo, 2 processes)",
    "threads": "8 threads using a cold registry at once",
}

F = TypeVar("F", bound=Callable[..., Any])


def feature(name: str) -> Callable[[F], F]:
    """Mark a test as evidence for one row of the matrix."""
    if name not in FEATURES:
        raise ValueError(f"unknown compat feature {name!r}; known: {sorted(FEATURES)}")

    def mark(test: F) -> F:
        test.compat_feature = name  # type: ignore[attr-defined]
        return test

    return mark


def path_of(params: dict[str, Any], default_path: str) -> str | None:
    """The execution path a parametrized test exercised, or None if it covers all paths."""
    if isinstance(params.get("path"), str):
        return str(params["path"])
    pair = params.get("pair")
    if isinstance(pair, tuple) and len(pair) == 2:
        return str(pair[1])
    form = params.get("form")
    if form is not None:
        pinned = getattr(form, "path", None)  # a CallForm or Surrogate; plain callables have none
        return str(pinned) if pinned else default_path
    return None
