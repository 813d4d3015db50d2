"""``LIF``: a multi-step leaky integrate-and-fire layer fused into one operator.

``LIF(...)(inputs, v0)`` runs the equations of :class:`~sc_neurocore.training.LIFCell`
(with its ``reset`` mode) over a whole time-major sequence ``(T, batch, ...)`` in one
``torch.library`` operator: the one generated from the built-in ``lif`` neuron spec
(``sc_neurocore_neuron::lif``, :mod:`.neuron_op`), whose backward is the reverse-time pass
derived from the spec (``sc_neurocore_neuron::lif_backward``).  Neither pass builds a
per-step autograd graph, and backward recomputes the membrane from the saved input.

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
from ..core.spec import SurrogateSpec, check_like
from ..kernels.buffers import empty_cache
from ..kernels.native.runtime import set_native_enabled
from ..kernels.neuron_choice import neuron_choice
from ..kernels.spec_table import spec_for, spec_key
from .base import (
    RESET_MODES,
    LeakyCell,
    SurrogateCallable,
    Value,
    check_surrogate,
    decayed,
)
from .dtypes import broadcast_to_state, check_state
from .neuron_op import NAMESPACE, BoundNeuron, bind_neuron, builtin_neuron, operator_for

__all__ = [
    "LIF",
    "NAMESPACE",
    "compiled_kernel_status",
    "fused_kernel",
    "fused_spec",
    "fused_surrogate",
    "lif_backward_op",
    "lif_op",
    "release_buffers",
    "set_compiled_kernels",
]

is_compiling = _is_compiling = torch.compiler.is_compiling

#: (a surrogate's name or spec key, its parameter values in the spec's order)
FusedKey = tuple[str, tuple[float, ...]]


# --- kernel selection, for users ----------------------------------------------------------


#: The generated operators of the built-in ``lif`` spec (the subtracting reset).
_LIF = operator_for(builtin_neuron("lif"))
lif_op = _LIF.forward.op
lif_backward_op = _LIF.backward_op.op


def fused_kernel(surrogate: str, device: str = "cpu") -> tuple[str, str]:
    """``(kernel, reason)``: which kernels ``LIF`` runs for ``surrogate`` on ``device``'s
    tensors (``"triton"``, ``"native"`` or ``"torch"``) and, if not the fastest, why."""
    return neuron_choice(_LIF.program, spec_for(surrogate), torch.device(device).type)


def compiled_kernel_status(surrogate: str) -> str:
    """``"compiled"`` if ``LIF`` runs compiled C kernels for ``surrogate`` (CPU float32/64),
    else why it runs its torch kernels. The first call for a surrogate may build them.

    The documented answer of this function is kept; everywhere else (statuses, listings,
    errors) the family is called ``"native"``, as :func:`fused_kernel` says it."""
    family, reason = neuron_choice(_LIF.program, spec_for(surrogate), "cpu")
    return "compiled" if family == "native" else reason


def set_compiled_kernels(enabled: bool) -> bool:
    """Use compiled kernels where they exist (default) or always the torch kernels.

    Returns the previous setting. ``SC_NEUROCORE_NATIVE=0`` sets the default to off.
    """
    return set_native_enabled(enabled)


def release_buffers() -> None:
    """Let the pooled ``(T, batch, ...)`` CPU buffers that nobody holds go back to the allocator."""
    empty_cache()


def check_arguments(
    x: Any, v0: Any, beta: Any, threshold: Any, reset: Any = "subtract", v_reset: Any = 0.0
) -> None:
    """Raise a clear error for anything the fused LIF (or its fallback) cannot run."""
    if not isinstance(x, Tensor):
        raise TypeError(f"LIF: inputs must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"LIF: inputs must be a floating-point tensor, got dtype {x.dtype}; "
            "convert explicitly (for example inputs.float())"
        )
    if x.dim() < 2:
        raise ValueError(
            f"LIF: inputs must be time-major (T, batch, ...) with at least 2 dimensions, "
            f"got shape {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(
            f"LIF: inputs must have at least one time step, got shape {tuple(x.shape)}"
        )
    step = x.shape[1:]
    if v0 is not None:
        if not isinstance(v0, Tensor):
            raise TypeError(
                f"LIF: v0 must be a floating-point tensor or None, got {type(v0).__name__}"
            )
        check_state("LIF", "v0", v0, x[0])
        if not _broadcasts_to(v0.shape, step):
            raise ValueError(
                f"LIF: v0 must broadcast to the shape of one time step of inputs, "
                f"{tuple(step)}, got {tuple(v0.shape)}"
            )
    if not isinstance(reset, str) or reset not in RESET_MODES:
        raise ValueError(f"LIF: reset must be one of {RESET_MODES}, got {reset!r}")
    for name, value in (("beta", beta), ("threshold", threshold), ("v_reset", v_reset)):
        if not isinstance(value, Tensor):
            continue
        if not _broadcasts_to(value.shape, step):
            raise ValueError(
                f"LIF: {name} of shape {tuple(value.shape)} does not broadcast to one time "
                f"step of inputs, {tuple(step)}"
            )
        # A one-element CPU value is read as a number (as torch reads CPU scalars);
        # anything else is computed with, so it must live where the inputs do.
        if value.device != x.device and not (value.numel() == 1 and value.device.type == "cpu"):
            check_like("LIF", name, value, x, "inputs", dtype=False)


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    """Whether ``shape`` broadcasts to ``target`` without changing it (checked per call,
    so it is written out rather than through ``torch.broadcast_shapes``, ~20x slower)."""
    if len(shape) > len(target):
        return False
    return all(size in (1, wanted) for size, wanted in zip(reversed(shape), reversed(target)))


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

    #: The built-in neuron specs whose generated operators the layer runs.
    neurons: tuple[str, ...] = ("lif",)

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
        # One generated operator per neuron and reset mode, bound now: compile traces no
        # lookups.
        self._bound: dict[tuple[str, str], BoundNeuron] = (
            {}
            if found is None
            else {
                (name, mode): bind_neuron(builtin_neuron(name, mode), *found)
                for name in self.neurons
                for mode in RESET_MODES
            }
        )

    def __getstate__(self) -> dict[str, Any]:
        # The bound operators are process state (OpOverloads): rebuilt on unpickling.
        state = dict(self.__dict__)
        state["_bound"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.surrogate_fn = self._surrogate_fn

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
        params = [beta, threshold] + ([v_reset] if self.reset == "zero" else [])
        spikes, (v,) = self._bound["lif", self.reset](inputs, [v0], params)
        return spikes, v

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
