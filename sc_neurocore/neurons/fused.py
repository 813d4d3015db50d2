"""``LIF``: a multi-step leaky integrate-and-fire layer fused into one operator.

``LIF(...)(inputs, v0)`` runs the equations of :class:`~sc_neurocore.training.LIFCell`
(with its ``reset`` mode) over a whole time-major sequence ``(T, batch, ...)`` in one
``torch.library`` operator, ``sc_neurocore_fused::lif`` (:mod:`.fused_op`), whose backward
is the closed-form backpropagation through time of those equations
(``sc_neurocore_fused::lif_backward``).  Neither pass builds a per-step autograd graph,
and backward recomputes the membrane from the saved input and spikes instead of keeping it.

The surrogate gradient comes from the registered spec, so every registered surrogate,
including those a plugin adds, runs fused.  A user's own callable (one that is neither a
call form nor a ``get_surrogate`` object), and any ``torch.func`` transform, fall back to
stepping the cell equations in a Python loop with the same results.  See docs/fused.md.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import Tensor

from ..core.bound import CallForm, Surrogate
from ..core.compat import transforms_active as _transforms_active
from ..core.spec import SurrogateSpec
from ..kernels.buffers import empty_cache
from ..kernels.fused_choice import fused_kernel_choice
from ..kernels.native.lif import native_status, set_native_enabled
from ..kernels.spec_table import spec_for, spec_key
from .base import (
    LeakyCell,
    SurrogateCallable,
    Value,
    check_surrogate,
    decayed,
)
from .dtypes import broadcast_to_state
from .fused_op import NAMESPACE, check_arguments, lif_backward_op, lif_op, lif_sequence

__all__ = [
    "LIF",
    "NAMESPACE",
    "compiled_kernel_status",
    "fused_kernel",
    "fused_spec",
    "fused_surrogate",
    "lif_backward_op",
    "lif_op",
    "lif_sequence",
    "release_buffers",
    "set_compiled_kernels",
]

_is_compiling = torch.compiler.is_compiling

#: (a surrogate's name or spec key, its parameter values in the spec's order)
FusedKey = tuple[str, tuple[float, ...]]


# --- kernel selection, for users ----------------------------------------------------------


def fused_kernel(surrogate: str, device: str = "cpu") -> tuple[str, str]:
    """``(kernel, reason)``: which kernels ``LIF`` runs for ``surrogate`` on ``device``'s
    tensors (``"triton"``, ``"native"`` or ``"torch"``) and, if not the fastest, why."""
    return fused_kernel_choice(spec_for(surrogate), device)


def compiled_kernel_status(surrogate: str) -> str:
    """``"compiled"`` if ``LIF`` runs compiled C kernels for ``surrogate`` (CPU float32/64),
    else why it runs its torch kernels. The first call for a surrogate may build them.

    The documented answer of this function is kept; everywhere else (statuses, listings,
    errors) the family is called ``"native"``, as :func:`fused_kernel` says it."""
    status = native_status(spec_for(surrogate))
    return "compiled" if status == "native" else status


def set_compiled_kernels(enabled: bool) -> bool:
    """Use compiled kernels where they exist (default) or always the torch kernels.

    Returns the previous setting. ``SC_NEUROCORE_NATIVE=0`` sets the default to off.
    """
    return set_native_enabled(enabled)


def release_buffers() -> None:
    """Let the pooled ``(T, batch, ...)`` CPU buffers that nobody holds go back to the allocator."""
    empty_cache()


# --- which callables run fused ------------------------------------------------------------


def fused_spec(fn: object) -> tuple[SurrogateSpec, tuple[float, ...]] | None:
    """``(spec, params)`` when ``fn`` is a registered surrogate (of any registry), else
    ``None`` (the stepwise fallback).

    Recognised: ``get_surrogate(...)`` objects, the seed call forms (``atan_surrogate``,
    ``atan_surrogate_custom_op``, ...) and ``functools.partial`` of a call form that binds
    surrogate parameters (or ``path``) by keyword.
    """
    keywords: dict[str, Any] = {}
    if isinstance(fn, functools.partial):
        if fn.args:
            return None
        keywords, fn = dict(fn.keywords), fn.func
        keywords.pop("path", None)
    # By type only: a user's wrapper (functools.wraps copies attributes) runs stepwise.
    if isinstance(fn, Surrogate):
        params: dict[str, Any] = fn.params
    elif isinstance(fn, CallForm):
        params = {}
    else:
        return None
    try:
        spec = fn.spec
        values = spec.bind((), {**params, **keywords})
    except (LookupError, TypeError, ValueError):
        return None
    return spec, tuple(values.values())


def fused_surrogate(fn: object) -> FusedKey | None:
    """``(name, params)`` when ``fn`` is a registered surrogate, else ``None`` (fallback)."""
    found = fused_spec(fn)
    return None if found is None else (found[0].name, found[1])


class LIF(LeakyCell):
    """Multi-step LIF: ``forward(inputs (T, batch, ...), v0=None) -> (spikes, v_T)``.

    The equations, arguments and learnable parameters (``beta_logit``, ``threshold_log``)
    are those of :class:`~sc_neurocore.training.LIFCell`, so state dicts interchange.
    """

    @property
    def surrogate_fn(self) -> SurrogateCallable:
        return self._surrogate_fn

    @surrogate_fn.setter
    def surrogate_fn(self, fn: SurrogateCallable) -> None:
        # Resolved once here, not per forward, so torch.compile traces no registry code.
        self._surrogate_fn = check_surrogate(fn)
        # The operator gets the spec from this layer, not from a registry: filed under a
        # key the operator's ``str surrogate`` argument carries (kernels/spec_table.py).
        found = fused_spec(fn)
        self._fused_key = None if found is None else (spec_key(found[0]), found[1])

    @property
    def fused(self) -> bool:
        """Whether ``forward`` runs the fused operator (outside ``torch.func`` transforms)."""
        return self._fused_key is not None

    def forward(self, inputs: Tensor, v0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        beta, threshold, v_reset = self.beta, self.threshold, self.v_reset
        if isinstance(inputs, Tensor) and inputs.dim() >= 2 and isinstance(v0, Tensor):
            inputs = broadcast_to_state(inputs, v0)
        check_arguments(inputs, v0, beta, threshold, self.reset, v_reset)
        key = self._fused_key
        if key is None or (not _is_compiling() and _transforms_active()):
            return self._stepwise(inputs, v0, beta, threshold)
        return lif_sequence(inputs, v0, beta, threshold, *key, self.reset, v_reset)

    def _stepwise(
        self, inputs: Tensor, v0: Tensor | None, beta: Value, threshold: Value
    ) -> tuple[Tensor, Tensor]:
        """The fallback: ``LIFCell``'s step in a Python loop (autograd records every step)."""
        v = torch.zeros_like(inputs[0]) if v0 is None else v0
        spikes = []
        for current in inputs.unbind(0):
            spike, v = self.fire(decayed(v, beta, current), threshold, like=current)
            spikes.append(spike)
        return torch.stack(spikes), v
