"""The ``composite`` execution path: a surrogate spike from standard aten ops only.

For a spec with primitive p (p' = g, the surrogate gradient) the spike is

    out = heaviside(x) + (p(x) - p(x).detach())

The bracket is exactly 0 in the forward pass, so ``out`` is bit-identical to
``(x > 0).to(x.dtype)``; its derivative is p'(x) = g(x), so autograd produces the
surrogate gradient.  No custom operator and no autograd.Function are involved, so
``torch.export``, ``torch.compile`` and exporters that only know aten ops handle it.

Specs without a primitive are a gap: ``build`` raises NotImplementedError and the
registry lists the pair as uncovered.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sc_neurocore import ExecutionPath, SurrogateSpec, check_input, hookimpl

#: The sc-neurocore plugin API this package is written for.
SC_NEUROCORE_PLUGIN_API = 1

__version__ = "0.1.0"

NAME = "composite"


def _zero_with_gradient(primitive_values: Tensor) -> Tensor:
    """``p - p.detach()``: exactly +0 where p is finite, carrying p's gradient.

    Where p overflowed (an infinite or NaN x, or a primitive that saturates badly)
    the difference is NaN; it is replaced by 0 so the forward stays the exact step,
    and that element gets no gradient instead of a NaN.
    """
    difference = primitive_values - primitive_values.detach()
    return torch.nan_to_num(difference, nan=0.0, posinf=0.0, neginf=0.0)


def build(spec: SurrogateSpec):  # noqa: ANN201 - returns fn(x, **params)
    """Turn a spec with a primitive into ``fn(x, **params)``; no primitive is a gap."""
    primitive = spec.primitive
    if primitive is None:
        raise NotImplementedError(
            f"surrogate {spec.name!r} has no primitive; the composite path needs p with p' = g"
        )
    surrogate = spec.name

    def run(x: Tensor, **params: float) -> Tensor:
        check_input(x, surrogate)
        step = (x > 0).to(x.dtype)
        if not (x.requires_grad and torch.is_grad_enabled()):
            return step  # nothing will differentiate: skip evaluating p
        # Evaluate p only where it is finite, so overflowing elements cannot send NaN
        # into the backward through 0 * inf.  (detach(), not no_grad(): a grad-mode
        # context would appear in exported graphs as a higher-order op.)
        finite = torch.isfinite(primitive(x.detach(), **params))
        safe_x = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
        return step + _zero_with_gradient(primitive(safe_x, **params))

    run.__name__ = run.__qualname__ = f"{surrogate}_{NAME}"
    return run


# The contract's usual tail, as every path module has it (compare sc_neurocore.paths): a
# plugin is its own distribution and reaches core through the public API only.
PATH = ExecutionPath(
    name=NAME,
    description="heaviside(x) + (p(x) - p(x).detach()) with the spec's primitive p; aten ops only",
    build=build,
)


@hookimpl
def sc_neurocore_register_paths() -> tuple[ExecutionPath, ...]:
    return (PATH,)
