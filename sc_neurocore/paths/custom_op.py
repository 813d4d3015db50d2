"""The ``custom_op`` path: one ``torch.library`` operator per surrogate spec.

Each spec becomes ``sc_neurocore::<name>(Tensor x, float p1, ...) -> Tensor`` with a
forward kernel, a fake (meta) kernel, an Autograd kernel and a vmap rule, plus a
companion ``sc_neurocore::<name>_backward(Tensor grad_out, Tensor x, float p1, ...)``
computing ``grad_out * g(x)``, so ``torch.compile``, ``torch.export``, ``torch.func``
and ``opcheck`` all see operators.  Both kernels run what
the kernel selector (:mod:`sc_neurocore.kernels.selector`) picks per tensor: the
native (compiled C) kernels on CPU float32/float64, the Triton kernels on CUDA, the torch
kernels otherwise (and whenever ``SC_NEUROCORE_KERNEL``/``set_kernel`` forces them).
The Autograd kernel applies a setup_context-style autograd.Function (the same
generated class shape as ``legacy_autograd``, which stays on torch ops), which is what
makes the operator work under ``torch.func`` where ``torch.library.register_autograd``
does not; where a graph of the backward is recorded (double backward, transforms) its
backward is the differentiable torch form.

In plain eager mode (a real tensor, no compile, no transform, no dispatch or
function mode, no JIT trace) the path applies that Function directly and it calls the
operator's kernels directly instead of entering the dispatcher: the kernels are the
same, and it saves the Python-kernel round trips that make a textbook custom op ~1.5x
slower than an autograd.Function on small tensors.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import torch
from torch import Tensor

from ..core import compat
from ..core.forksafe import reset_module_lock
from ..core.hookspecs import hookimpl
from ..core.settings import requested_kernel
from ..core.spec import ExecutionPath, SurrogateFn, SurrogateSpec, check_input
from ..kernels.autocast import ELEMENTWISE, register_autocast_policy
from ..kernels.choice import ELEMENTWISE_KIND, ElementwiseDispatch
from ..kernels.operator import defining
from ..kernels.selector import DEVICE_KINDS, SELECTOR, KernelChoice
from ._function import class_name, fast_apply, surrogate_function

NAME = "custom_op"
NAMESPACE = "sc_neurocore"

_transforms_active = compat.transforms_active
_is_compiling = torch.compiler.is_compiling
_dispatch_modes = compat.dispatch_modes_active
_function_mode = compat.function_modes_active
_jit_tracing = compat.jit_tracing
_below_autograd = compat.below_autograd
_single_level = compat.single_level_function

_library: torch.library.Library | None = None
_lock = threading.Lock()
reset_module_lock(__name__, "custom_op definitions")
#: spec name -> (spec, built callable); an operator can be defined once per process.
_built: dict[str, tuple[SurrogateSpec, SurrogateFn]] = {}


def available() -> tuple[bool, str]:
    if not hasattr(torch.library, "register_fake") or not hasattr(torch.library, "register_vmap"):
        return False, f"torch {torch.__version__} lacks torch.library.register_fake/register_vmap"
    return True, ""


def _plain_eager(x: object) -> bool:
    return (
        type(x) is Tensor
        and not _transforms_active()
        and not _dispatch_modes()
        and not _function_mode()
        and not _jit_tracing()
    )


def provider_of(spec: SurrogateSpec) -> str:
    """Where a spec's math comes from: the module and name of its gradient function."""
    grad = spec.grad
    return f"{getattr(grad, '__module__', '?')}.{getattr(grad, '__qualname__', repr(grad))}"


def _operator_name(spec: SurrogateSpec) -> str:
    """``spec.name``: the operator's name depends on the registry name only, so a program
    exported in one process loads in any other.  A different spec under a name already
    defined in this process is an error (an operator cannot be redefined)."""
    existing = _built.get(spec.name)
    if existing is not None and existing[0] != spec:
        raise RuntimeError(
            f"operator {NAMESPACE}::{spec.name} is already defined in this process by "
            f"surrogate {spec.name!r} from {provider_of(existing[0])}; a second, different "
            f"spec of that name from {provider_of(spec)} cannot define it again (restart the "
            "process after changing which plugin provides it)"
        )
    return spec.name


def heaviside_decomposition(x: Tensor, *params: float) -> Tensor:
    """The operator's forward in aten ops, for exporters that lower it (ONNX: a Greater
    and a Cast); torch.export keeps the operator itself unless asked to decompose it."""
    return (x > 0).to(x.dtype)


def _define(op_name: str, spec: SurrogateSpec) -> SurrogateFn:
    global _library
    if _library is None:
        _library = torch.library.Library(NAMESPACE, "FRAGMENT")
    lib, qualname, surrogate = _library, f"{NAMESPACE}::{op_name}", spec.name
    params = "".join(f", float {name}" for name in spec.param_names)
    lib.define(f"{op_name}(Tensor x{params}) -> Tensor")
    lib.define(f"{op_name}_backward(Tensor grad_out, Tensor x{params}) -> Tensor")
    namespace = getattr(torch.ops, NAMESPACE)
    op = getattr(namespace, op_name).default
    backward_op = getattr(namespace, f"{op_name}_backward").default
    compat.export_decomposition(op, heaviside_decomposition)
    dispatch = ElementwiseDispatch(spec)

    def forward_kernel(x: Tensor, *params: float) -> Tensor:
        check_input(x, surrogate)
        return dispatch.kernels(x).spike(x)

    def backward_kernel(grad_out: Tensor, x: Tensor, *params: float) -> Tensor:
        return dispatch.kernels(x).backward(x, grad_out, params)

    def fake_backward(grad_out: Tensor, x: Tensor, *params: float) -> Tensor:
        return torch.empty_like(x)

    def fake_kernel(x: Tensor, *params: float) -> Tensor:
        if not compat.is_fake(x):
            check_input(x, surrogate)
        # While tracing, a bad dtype is left to the real kernel: raised at trace time it
        # would surface as a Dynamo error, at run time it stays the eager TypeError.
        return torch.empty_like(x)

    def function_forward(x: Tensor, *params: float) -> Tensor:
        if _plain_eager(x):
            return forward_kernel(x)  # the operator's own kernel, without the dispatcher
        if _below_autograd is None:
            # No way below Autograd (see core.compat): x may be a transform's wrapper
            # without storage, which only the torch kernels can take.
            check_input(x, surrogate)
            return dispatch.torch.spike(x)
        with _below_autograd():
            return op(x, *params)

    formula = spec.parsed_formula()
    passes_through = formula is not None and formula.constant() == 1.0

    def function_backward(x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
        if not _is_compiling() and _plain_eager(grad_out) and type(x) is Tensor:
            if passes_through and grad_out.dtype == x.dtype and requested_kernel() is None:
                return grad_out  # g = 1: nothing to compute or copy (an operator may not alias)
            return dispatch.kernels(x).backward(x, grad_out, params)
        return backward_op(grad_out, x, *params)

    function = surrogate_function(
        spec, function_forward, class_name(spec, "CustomOp"), function_backward
    )
    direct_apply = fast_apply(function)
    level_apply = None if _single_level is None else _single_level(function)

    def autograd_kernel(x: Tensor, *params: float) -> Tensor:
        if level_apply is not None and _transforms_active():
            # Inside a grad/jacrev level the inputs are already wrapped for this level,
            # exactly as for an aten op: record one single-level node and redispatch.
            return level_apply(x, *params)
        return direct_apply(x, *params)

    def vmap_rule(info: object, in_dims: tuple[int | None, ...], x: Tensor, *params: float):
        return op(x, *params), in_dims[0]

    lib.impl(op_name, forward_kernel, "CompositeExplicitAutograd")
    lib.impl(op_name, autograd_kernel, "Autograd")
    lib.impl(f"{op_name}_backward", backward_kernel, "CompositeExplicitAutograd")
    torch.library.register_fake(qualname, fake_kernel, lib=lib)
    torch.library.register_fake(f"{qualname}_backward", fake_backward, lib=lib)
    torch.library.register_vmap(qualname, vmap_rule, lib=lib)
    # Under autocast the surrogate runs in its input's dtype, like torch's activations.
    register_autocast_policy(lib, op_name, ELEMENTWISE)
    register_autocast_policy(lib, f"{op_name}_backward", ELEMENTWISE)
    names = spec.param_names

    def run(x: Tensor, **params: float) -> Tensor:
        values = [params[name] for name in names]
        if _single_level is None and not _is_compiling() and _transforms_active():
            return function.apply(x, *values)  # functorch's public route (see core.compat)
        if _is_compiling() or not _plain_eager(x):
            if not isinstance(x, Tensor):
                check_input(x, surrogate)  # the dispatcher's own error would be a RuntimeError
            return op(x, *values)
        return direct_apply(x, *values)

    run.__name__ = run.__qualname__ = f"{surrogate}_{NAME}"
    run.op = op  # type: ignore[attr-defined]
    run.backward_op = backward_op  # type: ignore[attr-defined]
    run.dispatch = dispatch  # type: ignore[attr-defined]
    run.function = function  # type: ignore[attr-defined]
    return run


def operator_name(spec: SurrogateSpec) -> str:
    """The qualified name of the operator that serves ``spec`` (or will, once built)."""
    return f"{NAMESPACE}::{spec.name}"


def kernel_rows(specs: Sequence[SurrogateSpec]) -> list[KernelChoice]:
    """One row per surrogate and device kind: the element-wise kernels of its operator
    (the kernel selector's listing of its element-wise kind)."""
    return SELECTOR.rows(ELEMENTWISE_KIND, specs, DEVICE_KINDS)


def spec_kernels(spec: SurrogateSpec) -> list[dict[str, str]]:
    """The rows of :func:`kernel_rows` for one spec, as dicts (for ``explain``)."""
    return [row.as_dict() for row in kernel_rows([spec])]


def build(spec: SurrogateSpec) -> SurrogateFn:
    with _lock, defining():
        op_name = _operator_name(spec)
        if op_name in _built:
            return _built[op_name][1]
        run = _define(op_name, spec)
        _built[op_name] = (spec, run)
        return run


PATH = ExecutionPath(
    name=NAME,
    description="torch.library custom operator per surrogate; compile/export/func aware",
    build=build,
    available=available,
    kernels=spec_kernels,
)


@hookimpl
def sc_neurocore_register_paths() -> tuple[ExecutionPath, ...]:
    return (PATH,)
