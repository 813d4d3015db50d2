"""``Neuron``: any neuron spec as a multi-step layer, fused or stepwise.

``Neuron("alif")(x)`` runs a registered (or given) :class:`~sc_neurocore.NeuronSpec` over a
time-major input ``(T, batch, *shape)`` and returns ``(spikes, final_state)``.  ``fused=True``
runs the operator generated from the spec (:mod:`.neuron_op`); ``fused=False`` steps the
same equations with torch ops and autograd (the baseline every fused kernel is checked
against); ``None`` fuses where the surrogate is a registered spec and no ``torch.func``
transform is active, and :attr:`Neuron.runs` says which and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..core.compat import transforms_active
from ..core.neuron_spec import RESET_MODES, NeuronSpec
from ..core.registry import get_neuron_spec
from ..core.step_program import program_of
from ..kernels.torch.neuron import kernels_of
from .base import check_surrogate, describe_surrogate
from .dtypes import check_state
from .fused import fused_spec
from .neuron_op import bind_neuron

__all__ = ["Neuron"]


def _spec_of(spec_or_name: object) -> NeuronSpec:
    if isinstance(spec_or_name, NeuronSpec):
        return spec_or_name
    if isinstance(spec_or_name, str):
        return get_neuron_spec(spec_or_name)
    raise TypeError(
        f"Neuron: spec_or_name must be a NeuronSpec or a registered neuron name, got "
        f"{type(spec_or_name).__name__} {spec_or_name!r}"
    )


def _param_value(spec: NeuronSpec, name: str, value: object) -> float | Tensor:
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(
                f"Neuron {spec.name!r}: param {name} must be a float or a floating tensor, "
                f"got dtype {value.dtype}"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"Neuron {spec.name!r}: param {name} must be a float or a tensor, got {value!r}"
        )
    return float(value)


class Neuron(nn.Module):
    """A neuron spec over time: ``forward(x (T, batch, ...), state=None) -> (out, final_state)``.

    ``out`` is the spike sequence (for a readout, ``fire=None``, its first state's sequence);
    ``final_state`` maps each state name to its value after the last step.  ``state`` gives
    initial states by name (missing ones start at zero).  Params are floats or per-neuron
    tensors broadcastable to one step; those named in ``learn`` become ``nn.Parameter``s
    (unconstrained).  ``reset`` replaces the first state's reset (``"zero"`` adds the param
    ``v_reset``; see :meth:`NeuronSpec.with_reset`).
    """

    def __init__(
        self,
        spec_or_name: NeuronSpec | str,
        surrogate_fn: Any = None,
        *,
        fused: bool | None = None,
        learn: Iterable[str] = (),
        reset: str = "subtract",
        **params: float | Tensor,
    ) -> None:
        super().__init__()
        spec = _spec_of(spec_or_name)
        if reset not in RESET_MODES:
            raise ValueError(
                f"Neuron {spec.name!r}: reset must be one of {RESET_MODES}, got {reset!r}"
            )
        spec = spec.with_reset(reset)
        self.spec = spec
        self.program = program_of(spec)
        from ..core.callforms import atan_surrogate

        self.surrogate_fn = check_surrogate(
            atan_surrogate if surrogate_fn is None else surrogate_fn
        )
        if fused not in (None, True, False):
            raise TypeError(
                f"Neuron {spec.name!r}: fused must be None, True or False, got {fused!r}"
            )
        unknown = sorted(set(params) - set(spec.param_names))
        if unknown:
            raise ValueError(
                f"Neuron {spec.name!r}: unknown param {unknown[0]!r}; its params are "
                f"{spec.param_names}"
            )
        learn = tuple(learn) if not isinstance(learn, str) else (learn,)
        for name in learn:
            if name not in spec.param_names:
                raise ValueError(
                    f"Neuron {spec.name!r}: learn names {name!r}, not a param of {spec.param_names}"
                )
        self.learn = learn
        values = {**spec.defaults, **params}
        self._fixed: dict[str, float] = {}
        for name in spec.param_names:
            value = _param_value(spec, name, values[name])
            if (name in learn or isinstance(value, Tensor)) and hasattr(self, name):
                raise ValueError(
                    f"Neuron {spec.name!r}: param {name!r} would replace the module's own "
                    f"attribute {name!r}; rename it in the spec to hold a tensor or learn it"
                )
            if name in learn:
                tensor = torch.as_tensor(value, dtype=torch.get_default_dtype())
                if isinstance(value, Tensor):
                    tensor = value.detach().clone()
                self.register_parameter(name, nn.Parameter(tensor))
            elif isinstance(value, Tensor):
                self.register_buffer(name, value)
            else:
                self._fixed[name] = value
        self._bind()
        self.fused = fused
        if fused and self._bound is None:
            raise ValueError(
                f"Neuron {spec.name!r}: fused=True needs a registered surrogate (a call form "
                f"or get_surrogate(...)), got {describe_surrogate(self.surrogate_fn)}"
            )

    def _bind(self) -> None:
        found = fused_spec(self.surrogate_fn)
        self._bound = None if found is None else bind_neuron(self.spec, *found)

    def __getstate__(self) -> dict[str, Any]:
        # The bound operator is process state (an OpOverload): rebuilt on unpickling.
        state = dict(self.__dict__)
        state["_bound"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind()

    def param(self, name: str) -> float | Tensor:
        """A param's current value: a float, a tensor buffer or a Parameter."""
        return self._fixed[name] if name in self._fixed else getattr(self, name)

    @property
    def runs(self) -> tuple[str, str]:
        """``("fused" | "stepwise", why)`` for a call now (no transform active)."""
        if self.fused is False:
            return "stepwise", "fused=False"
        if self._bound is None:
            return "stepwise", "the surrogate is not a registered spec (a plain callable)"
        return "fused", ""

    def extra_repr(self) -> str:
        params = ", ".join(f"{n}={self.param(n)!r}" for n in self.spec.param_names)
        return f"{self.spec.name!r}, {params}, surrogate={describe_surrogate(self.surrogate_fn)}"

    # -- running -------------------------------------------------------------------------------

    def _initial(self, x: Tensor, state: Mapping[str, Tensor] | None) -> list[Tensor | None]:
        state = {} if state is None else state
        if not isinstance(state, Mapping):
            raise TypeError(f"Neuron {self.spec.name!r}: state must be a dict, got {state!r}")
        unknown = sorted(set(state) - set(self.spec.states))
        if unknown:
            raise ValueError(
                f"Neuron {self.spec.name!r}: state names {unknown[0]!r}, not one of "
                f"{self.spec.states}"
            )
        for name, value in state.items():
            check_state(f"Neuron {self.spec.name!r}", f"state[{name!r}]", value, x[0])
        return [state.get(name) for name in self.spec.states]

    def forward(
        self, x: Tensor, state: Mapping[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() < 2:
            shown = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"Neuron {self.spec.name!r}: x must be a floating tensor (T, batch, ...), "
                f"got {shown}"
            )
        if x.shape[0] == 0:
            raise ValueError(
                f"Neuron {self.spec.name!r}: x has no time steps, shape {tuple(x.shape)}"
            )
        initial = self._initial(x, state)
        if self.runs[0] == "fused" and not transforms_active():
            out, finals = self._fused(x, initial)
        else:
            out, finals = self._stepwise(x, initial)
        return out, dict(zip(self.spec.states, finals))

    def _fused(self, x: Tensor, initial: list[Tensor | None]) -> tuple[Tensor, list[Tensor]]:
        assert self._bound is not None
        return self._bound(x, initial, [self.param(n) for n in self.spec.param_names])

    def _stepwise(self, x: Tensor, initial: list[Tensor | None]) -> tuple[Tensor, list[Tensor]]:
        kernels = kernels_of(self.program)
        params = {n: self.param(n) for n in self.spec.param_names}
        current: list[Any] = [
            torch.zeros_like(x[0]) if value is None else value for value in initial
        ]
        outs = []
        for t in range(x.shape[0]):
            env = {**params, "x": x[t], **dict(zip(self.spec.states, current))}
            out, current = kernels.step(env, self.surrogate_fn)
            outs.append(out)
        return torch.stack(outs), current
