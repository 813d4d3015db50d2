"""The ``legacy_autograd`` path: one ``torch.autograd.Function`` per surrogate spec.

The historical baseline, kept so parity tests catch drift in newer paths.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..core.compat import transforms_active as _transforms_active
from ..core.hookspecs import hookimpl
from ..core.spec import ExecutionPath, SurrogateFn, SurrogateSpec, check_input
from ..kernels.torch.surrogate import heaviside
from ._function import class_name, fast_apply, surrogate_function

NAME = "legacy_autograd"
_is_compiling = torch.compiler.is_compiling


def build(spec: SurrogateSpec) -> SurrogateFn:
    surrogate = spec.name

    def forward(x: Tensor, *params: float) -> Tensor:
        check_input(x, surrogate)
        return heaviside(x)

    function = surrogate_function(spec, forward, class_name(spec, "Legacy"))
    apply, direct_apply = function.apply, fast_apply(function)
    names = spec.param_names

    def run(x: Tensor, **params: float) -> Tensor:
        values = [params[name] for name in names]
        if _is_compiling():
            if not (getattr(x, "requires_grad", False) and torch.is_grad_enabled()):
                # Nothing to record, so the forward alone is the result; Dynamo before 2.6
                # would call this setup_context-style Function's forward as forward(ctx, x).
                return forward(x, *values)
            return apply(x, *values)
        if _transforms_active():
            return apply(x, *values)
        return direct_apply(x, *values)

    run.__name__ = run.__qualname__ = f"{surrogate}_{NAME}"
    run.function = function  # type: ignore[attr-defined]
    return run


PATH = ExecutionPath(
    name=NAME,
    description="torch.autograd.Function per surrogate; the reference baseline",
    build=build,
)


@hookimpl
def sc_neurocore_register_paths() -> tuple[ExecutionPath, ...]:
    return (PATH,)
