"""Triton kernels of the fused multi-step LIF: one forward kernel over all T steps, one
backward kernel that recomputes the membrane and walks time in reverse.

:class:`TritonLIF` has the interface of the compiled CPU kernels
(:class:`~sc_neurocore.kernels.native.lif.NativeLIF`), so the operator's kernel picks one or
the other without further cases.  Arithmetic is in float32 for float16/bfloat16/float32
inputs and float64 for float64 (``COMPUTE``); spikes and gradients come back in the input
dtype.  The backward keeps the recomputed membrane in the input-gradient buffer when the
input dtype is the compute dtype, and in a float32 scratch buffer otherwise.

Nothing here imports Triton at module import: :func:`triton_lif` returns ``None`` with a
reason where the kernels cannot run (no Triton, no CUDA and no interpreter, no formula).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import torch
from torch import Tensor

from ...core.formula import Formula
from ...core.spec import SurrogateSpec
from .fused_source import helpers_used, load_kernels
from .launch import (
    BLOCK,
    chunk_steps,
    compute_dtype,
    device_status,
    grid,
    interpreting,
    launch_options,
    on_device,
    parameter,
)
from .neurons import NeuronTemplate, lif_template

__all__ = ["TritonLIF", "chosen_kernels", "triton_lif", "triton_lif_kernels", "triton_status"]

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def surrogate_expression(spec: SurrogateSpec) -> tuple[Formula | None, str]:
    """``(the spec's parsed formula, "")``, or ``(None, why there is none)``."""
    formula = spec.parsed_formula()
    if formula is None:
        return None, f"surrogate {spec.name!r} has no formula (its grad runs the torch kernels)"
    missing = [name for name in helpers_used(formula) if not _has_helper(name)]
    if missing:
        return None, f"the Triton helpers {missing} of its formula are not available"
    return formula, ""


def _has_helper(name: str) -> bool:
    from importlib import import_module

    return hasattr(import_module(__package__ or "sc_neurocore.kernels.triton"), name)


def triton_status(spec: SurrogateSpec, device: torch.device | str) -> str:
    """``"triton"`` if the fused LIF for ``spec`` can run Triton kernels on ``device``'s
    kind of tensor, else why not."""
    unavailable = device_status(device)
    if unavailable:
        return unavailable
    formula, reason = surrogate_expression(spec)
    return "triton" if formula is not None else reason


@dataclass(frozen=True)
class TritonLIF:
    """The Triton kernels of one (neuron template, surrogate) pair; inputs checked by the
    caller.  The calling convention of :class:`~sc_neurocore.kernels.native.lif.NativeLIF`:
    the reset mode is bound when the kernels are chosen (here compiled into the template),
    ``v_reset`` is an argument."""

    spec: SurrogateSpec | None
    template: NeuronTemplate
    module: ModuleType

    def forward(
        self,
        x: Tensor,
        v0: Tensor | None,
        beta: Tensor | float,
        threshold: Tensor | float,
        spikes: Tensor,
        v_reset: Tensor | float = 0.0,
    ) -> tuple[Tensor, Tensor]:
        """Fill ``spikes`` (a contiguous buffer like ``x``); return ``(spikes, v_T)``."""
        x = x.contiguous()
        steps, n = x.shape[0], x[0].numel()
        # v_0 and v_T in the compute dtype: an fp32 state fed bf16 input stays unrounded
        state = torch.float64 if x.dtype == torch.float64 else torch.float32
        v_out = torch.empty(x.shape[1:], dtype=state, device=x.device)
        if n == 0:
            return spikes, v_out
        beta_array, beta_stride, beta_value = parameter(beta, x)
        threshold_array, threshold_stride, threshold_value = parameter(threshold, x)
        v_reset_array, v_reset_stride, v_reset_value = parameter(v_reset, x)
        v0_array = x if v0 is None else v0.to(state).contiguous()
        with on_device(x):
            self.module.forward[grid(n)](
                x, v0_array, beta_array, threshold_array, v_reset_array, spikes, v_out, steps, n,
                beta_stride, threshold_stride, v_reset_stride, beta_value, threshold_value,
                v_reset_value, HAS_V0=v0 is not None, COMPUTE=compute_dtype(x.dtype), BLOCK=BLOCK,
                **launch_options("forward", x.dtype),
            )  # fmt: skip
        return spikes, v_out

    def backward(
        self,
        grad_spikes: Tensor,
        grad_v: Tensor,
        x: Tensor,
        v0: Tensor | None,
        beta: Tensor | float,
        threshold: Tensor | float,
        params: list[float],
        grad_h: Tensor,
        sums: tuple[Tensor, Tensor] | None,
        v_reset: Tensor | float = 0.0,
    ) -> Tensor:
        """Fill ``grad_h`` (a contiguous buffer like ``x``) with dL/dx; fill ``sums``.

        ``sums`` are contiguous float64 per-neuron zeros for dL/dbeta and dL/dthreshold.
        A ``grad_spikes`` expanded from one value (the gradient of ``spikes.sum()``) is
        read as that value, without materialising it.
        """
        x = x.contiguous()
        steps, n = x.shape[0], x[0].numel()
        if n == 0:
            return grad_h
        broadcast = all(stride == 0 for stride in grad_spikes.stride())
        grad_spikes = (grad_spikes.reshape(-1)[:1] if broadcast else grad_spikes).contiguous()
        compute = torch.float64 if x.dtype == torch.float64 else torch.float32
        grad_v = grad_v.to(compute).expand(x.shape[1:]).contiguous()
        beta_array, beta_stride, beta_value = parameter(beta, x)
        threshold_array, threshold_stride, threshold_value = parameter(threshold, x)
        v_reset_array, v_reset_stride, v_reset_value = parameter(v_reset, x)
        chunk = chunk_steps(steps, x.dtype)
        checkpoints = torch.empty((-(-steps // chunk), n), dtype=compute, device=x.device)
        # Without sums the kernel writes none: empty buffers of their own, never another argument.
        sum_beta, sum_threshold = sums if sums is not None else (_nothing(x), _nothing(x))
        with on_device(x):
            self.module.backward[grid(n)](
                grad_spikes, 0 if broadcast else 1, grad_v, x,
                x if v0 is None else v0.to(compute).contiguous(),
                beta_array, threshold_array, v_reset_array, checkpoints, grad_h,
                sum_beta, sum_threshold, steps, n, beta_stride, threshold_stride, v_reset_stride,
                beta_value, threshold_value, v_reset_value, *(params or [0.0]),
                HAS_V0=v0 is not None, SUMS=sums is not None, COMPUTE=compute_dtype(x.dtype),
                BLOCK=BLOCK, CHUNK=chunk, **launch_options("backward", x.dtype),
            )  # fmt: skip
        return grad_h


def _nothing(x: Tensor) -> Tensor:
    """An empty float64 buffer on ``x``'s device (allocates nothing, copies nothing)."""
    return torch.empty(0, dtype=torch.float64, device=x.device)


#: (spec, device kind, reset, interpreter on) -> the kernels or None: the checks run per call
#: of the operator, so their answer is kept (none of them changes within a process).
_chosen: dict[tuple[SurrogateSpec, str, str, bool], TritonLIF | None] = {}


def chosen_kernels() -> list[TritonLIF]:
    """The fused LIF kernels chosen so far in this process (what the benchmarks compare)."""
    return list(_built.values())


#: (spec, reset, interpreter on) -> the kernels built (kept: the selector asks again after
#: every change of the switch).
_built: dict[tuple[SurrogateSpec, str, bool], TritonLIF] = {}


def triton_lif_kernels(spec: SurrogateSpec, reset: str = "subtract") -> TritonLIF:
    """The Triton kernels of ``spec`` with ``reset`` compiled in (the caller checked that
    they can run: :func:`triton_status`)."""
    key = (spec, reset, interpreting())
    found = _built.get(key)
    if found is None:
        formula, reason = surrogate_expression(spec)
        if formula is None:
            raise ValueError(reason)
        template = lif_template(reset)
        found = _built[key] = TritonLIF(spec, template, load_kernels(template, formula))
    return found


def triton_lif(spec: SurrogateSpec, x: Tensor, reset: str = "subtract") -> TritonLIF | None:
    """The Triton kernels for ``spec`` if they can run on ``x``, else ``None``."""
    if x.dtype not in DTYPES:
        return None
    key = (spec, x.device.type, reset, interpreting())
    if key not in _chosen:
        found = None
        if triton_status(spec, x.device) == "triton":
            found = triton_lif_kernels(spec, reset)
        _chosen[key] = found
    return _chosen[key]
