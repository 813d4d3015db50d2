"""What both built-in paths share: an autograd.Function generated from a spec.

The Function is written in the ``setup_context`` style so that ``torch.func``
transforms accept it, and it carries a generated vmap rule.  Its backward closes over
plain functions and a tuple of names only (never a spec object) so Dynamo can trace it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..core import compat
from ..core.spec import SurrogateSpec
from ..kernels.torch.surrogate import surrogate_backward


def surrogate_function(
    spec: SurrogateSpec,
    forward: Callable[..., Tensor],
    class_name: str,
    backward_kernel: Callable[[Tensor, Tensor, tuple[float, ...]], Tensor] | None = None,
) -> type[torch.autograd.Function]:
    """Generate the autograd.Function for ``spec`` whose forward is ``forward(x, *params)``.

    Its backward is ``backward_kernel(x, grad_out, params)`` when one is given and no
    graph of the backward is recorded (the kernel is not differentiable), else
    ``grad_out * g(x)`` in torch ops.
    """
    grad, grad_mul, names = spec.grad, spec.grad_mul, spec.param_names
    no_param_grads = (None,) * len(names)
    transforms_active = compat.transforms_active

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.values = inputs[1:]

    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        (x,) = ctx.saved_tensors
        if backward_kernel is not None and not torch.is_grad_enabled() and not transforms_active():
            return (backward_kernel(x, grad_out, ctx.values), *no_param_grads)
        params = dict(zip(names, ctx.values))
        return (surrogate_backward(grad, grad_mul, x, grad_out, params), *no_param_grads)

    namespace = {
        "__module__": __name__,
        "__doc__": f"Heaviside forward with the {spec.name!r} surrogate gradient.",
        "forward": staticmethod(forward),
        "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward),
        "generate_vmap_rule": True,
    }
    return type(class_name, (torch.autograd.Function,), namespace)


def fast_apply(function: type[torch.autograd.Function]) -> Callable[..., Tensor]:
    """``function.apply`` without the per-call signature binding of the Python wrapper.

    ``Function.apply`` binds arguments with ``inspect`` for setup_context-style
    Functions, which costs microseconds on small tensors.  Outside functorch
    transforms the C++ apply is equivalent, so it is called directly (see core.compat).
    """
    return compat.fast_apply(function)


def class_name(spec: SurrogateSpec, suffix: str) -> str:
    return "".join(part.capitalize() for part in spec.name.split("_")) + suffix
