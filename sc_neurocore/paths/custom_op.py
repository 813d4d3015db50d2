"""The ``custom_op`` path: one ``torch.library`` operator per surrogate spec.

Each spec becomes one :class:`SurrogateOperator`, which owns the operator (an
:class:`~sc_neurocore.kernels.operator.OperatorDef`)
``sc_neurocore::<name>(Tensor x, float p1, ...) -> Tensor`` with a forward kernel, a fake
(meta) kernel, an Autograd kernel and a vmap rule, plus a companion
``sc_neurocore::<name>_backward(Tensor grad_out, Tensor x, float p1, ...)`` computing
``grad_out * g(x)``, so ``torch.compile``, ``torch.export``, ``torch.func`` and ``opcheck``
all see operators.  Both kernels run what
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
from typing import Any

import torch
from torch import Tensor

from ..core import compat
from ..core.forksafe import reset_module_lock
from ..core.hookspecs import hookimpl
from ..core.settings import requested_kernel
from ..core.spec import ExecutionPath, SurrogateFn, SurrogateSpec, check_input
from ..kernels.autocast import ELEMENTWISE
from ..kernels.choice import ELEMENTWISE_KIND, ElementwiseDispatch
from ..kernels.operator import OperatorDef, defining
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

_lock = threading.Lock()
reset_module_lock(__name__, "custom_op definitions")
#: spec name -> (spec, its operator); an operator can be defined once per process.
_built: dict[str, tuple[SurrogateSpec, SurrogateOperator]] = {}


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


def heaviside_decomposition(args: tuple[Any, ...]) -> Tensor:
    """The operator's forward in aten ops, for exporters that lower it (ONNX: a Greater
    and a Cast); torch.export keeps the operator itself unless asked to decompose it."""
    x = args[0]
    return (x > 0).to(x.dtype)


class SurrogateOperator:
    """The ``custom_op`` path's callable for one spec, ``op(x, **params)``.

    It owns the operator ``sc_neurocore::<name>`` (:attr:`definition`, an
    :class:`~sc_neurocore.kernels.operator.OperatorDef`) with its backward companion
    ``<name>_backward``, the element-wise kernels' :attr:`dispatch` and the autograd
    :attr:`function` its Autograd kernel applies; :attr:`op` and :attr:`backward_op` are
    the two operators' overloads (what ``opcheck`` and the tests call).
    """

    def __init__(self, op_name: str, spec: SurrogateSpec) -> None:
        self.spec, self.names, self.surrogate = spec, spec.param_names, spec.name
        self.dispatch = ElementwiseDispatch(spec)
        floats = [(name, float) for name in spec.param_names]
        definition = OperatorDef(f"{NAMESPACE}::{op_name}", [("x", Tensor), *floats])
        definition.register_kernel(lambda args: self.spike(args[0]))
        definition.register_fake(self._fake)
        definition.register_vmap(lambda info, in_dims, args: (self.op(*args), in_dims[0]))
        # Under autocast the surrogate runs in its input's dtype, like torch's activations.
        definition.register_autocast(ELEMENTWISE)
        definition.register_decomposition(heaviside_decomposition)
        arguments = [("grad_out", Tensor), ("x", Tensor), *floats]
        backward = definition.define_backward(
            arguments, 1, self._backward_kernel, self._fake_backward
        )
        self.definition, self.op, self.backward_op = definition, definition.op, backward.op
        formula = spec.parsed_formula()
        self.passes_through = formula is not None and formula.constant() == 1.0
        function = surrogate_function(
            spec, self._function_forward, class_name(spec, "CustomOp"), self._function_backward
        )
        self.function = function
        self.direct_apply = fast_apply(function)
        self.level_apply = None if _single_level is None else _single_level(function)
        definition.register_kernel(self._autograd_kernel, "Autograd")
        self.__name__ = self.__qualname__ = f"{spec.name}_{NAME}"

    def __repr__(self) -> str:
        return f"<{NAME} operator {self.op}>"

    def __call__(self, x: Tensor, **params: float) -> Tensor:
        values = [params[name] for name in self.names]
        if _single_level is None and not _is_compiling() and _transforms_active():
            return self.function.apply(x, *values)  # functorch's public route (core.compat)
        if _is_compiling() or not _plain_eager(x):
            if not isinstance(x, Tensor):
                check_input(x, self.surrogate)  # the dispatcher's own error: a RuntimeError
            return self.op(x, *values)
        return self.direct_apply(x, *values)

    # --- the operator's kernels ----------------------------------------------------------------

    def spike(self, x: Tensor) -> Tensor:
        """The forward kernel: ``H(x)`` by the kernels the dispatch picks for ``x``."""
        check_input(x, self.surrogate)
        return self.dispatch.kernels(x).spike(x)

    def _fake(self, args: tuple[Any, ...]) -> Tensor:
        x = args[0]
        if not compat.is_fake(x):
            check_input(x, self.surrogate)
        # While tracing, a bad dtype is left to the real kernel: raised at trace time it
        # would surface as a Dynamo error, at run time it stays the eager TypeError.
        return torch.empty_like(x)

    def _backward_kernel(self, args: tuple[Any, ...]) -> Tensor:
        grad_out, x, *params = args
        return self.dispatch.kernels(x).backward(x, grad_out, tuple(params))

    @staticmethod
    def _fake_backward(args: tuple[Any, ...]) -> Tensor:
        return torch.empty_like(args[1])

    def _autograd_kernel(self, args: tuple[Any, ...]) -> Tensor:
        if self.level_apply is not None and _transforms_active():
            # Inside a grad/jacrev level the inputs are already wrapped for this level,
            # exactly as for an aten op: record one single-level node and redispatch.
            return self.level_apply(*args)
        return self.direct_apply(*args)

    # --- the autograd.Function's forward and backward -------------------------------------------

    def _function_forward(self, x: Tensor, *params: float) -> Tensor:
        if _plain_eager(x):
            return self.spike(x)  # the operator's own kernel, without the dispatcher
        if _below_autograd is None:
            # No way below Autograd (see core.compat): x may be a transform's wrapper
            # without storage, which only the torch kernels can take.
            check_input(x, self.surrogate)
            return self.dispatch.torch.spike(x)
        with _below_autograd():
            return self.op(x, *params)

    def _function_backward(self, x: Tensor, grad_out: Tensor, params: tuple[float, ...]) -> Tensor:
        if not _is_compiling() and _plain_eager(grad_out) and type(x) is Tensor:
            if self.passes_through and grad_out.dtype == x.dtype and requested_kernel() is None:
                return grad_out  # g = 1: nothing to compute or copy (an operator may not alias)
            return self.dispatch.kernels(x).backward(x, grad_out, params)
        return self.backward_op(grad_out, x, *params)


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
        run = SurrogateOperator(op_name, spec)
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
