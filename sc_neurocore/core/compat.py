"""Every private torch API the package uses, in one place, each with a fallback.

torch's private names (``torch._C._...``, ``torch._functorch``, Dynamo attributes) can
change or vanish in any release.  Each one is looked up here once, at import, and
probed: if it is missing or behaves differently from what the package relies on, a
public or slower fallback with the same results takes its place.  :func:`shim_status`
says which is in use and why; ``SC_NEUROCORE_TORCH_FALLBACKS=all`` (or a comma list of
shim names) forces fallbacks, which is how the tests check that every fallback works.

Fallbacks never change results, only speed: where the package cannot tell whether a
``torch.func`` transform or a dispatch mode is active, it assumes one is and takes the
general (slower) route.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor

from .settings import env_names

__all__ = [
    "EXPORT_DESERIALIZER",
    "FORCE_ENV",
    "OpNamespace",
    "SHIMS",
    "Shim",
    "below_autograd",
    "dispatch_modes_active",
    "export_decomposition",
    "fast_apply",
    "function_modes_active",
    "is_fake",
    "jit_tracing",
    "keep_opaque_in_inductor",
    "mark_trace_constant",
    "register_decomposition",
    "shim_status",
    "single_level_function",
    "storage_use_count",
    "transforms_active",
]

FORCE_ENV = "SC_NEUROCORE_TORCH_FALLBACKS"
_forced = env_names(FORCE_ENV)


@dataclass(frozen=True)
class Shim:
    """One private torch API: what it is, what replaces it, and which of the two runs."""

    name: str
    private: str
    fallback: str
    uses_private: bool
    reason: str = ""


#: shim name -> its state in this process, filled at import.
SHIMS: dict[str, Shim] = {}


def _choose(
    name: str, private: str, fallback_text: str, load: Callable[[], Any], fallback: Any
) -> Any:
    """``load()`` (which fetches and probes the private API), or ``fallback`` with the reason."""
    if name in _forced or "all" in _forced:
        reason = f"forced by {FORCE_ENV}"
    else:
        try:
            value = load()
        except Exception as error:  # any failure of a private API means: use the fallback
            reason = f"{type(error).__name__}: {error}"
        else:
            SHIMS[name] = Shim(name, private, fallback_text, True)
            return value
    SHIMS[name] = Shim(name, private, fallback_text, False, reason)
    return fallback


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise RuntimeError(f"behaves differently: {what}")


# --- autograd.Function.apply without the Python wrapper --------------------------------------


class _Double(torch.autograd.Function):
    """A two-line Function that probes the C++ ``apply``."""

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return x * 2

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Tensor) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad * 2


def _load_function_apply() -> Callable[[type[torch.autograd.Function]], Callable[..., Any]]:
    apply = torch._C._FunctionBase.__dict__["apply"]
    probe = torch.ones(1, requires_grad=True)
    out = apply.__get__(None, _Double)(probe)
    out.backward()
    _expect(out.item() == 2.0 and probe.grad is not None and probe.grad.item() == 2.0, "apply")
    return lambda function: apply.__get__(None, function)  # type: ignore[no-any-return]


fast_apply: Callable[[type[torch.autograd.Function]], Callable[..., Any]] = _choose(
    "function_apply",
    "torch._C._FunctionBase.apply (skips the Python wrapper's argument binding)",
    "Function.apply (public, binds arguments per call: slower on small tensors)",
    _load_function_apply,
    lambda function: function.apply,
)
fast_apply.__doc__ = "``function.apply``, through the C++ entry point where it is safe."


# --- is anything other than plain eager mode active? ----------------------------------------


def _load_flag(getter: Callable[[], Callable[[], Any]], idle: Any) -> Callable[[], bool]:
    fn = getter()
    _expect(fn() == idle, f"{fn!r}() outside any transform/mode returned {fn()!r}")
    return fn  # type: ignore[return-value]


def _always() -> bool:
    return True


transforms_active: Callable[[], bool] = _choose(
    "transforms_active",
    "torch._C._are_functorch_transforms_active",
    "assume a torch.func transform is active (general code paths, fused LIF steps)",
    lambda: _load_flag(lambda: torch._C._are_functorch_transforms_active, False),
    _always,
)
dispatch_modes_active: Callable[[], bool] = _choose(
    "dispatch_modes",
    "torch._C._len_torch_dispatch_stack",
    "assume a dispatch mode is active (custom_op goes through the dispatcher)",
    lambda: _load_flag(lambda: torch._C._len_torch_dispatch_stack, 0),
    _always,
)
function_modes_active: Callable[[], bool] = _choose(
    "function_modes",
    "torch._C._is_torch_function_mode_enabled",
    "assume a torch function mode is active (custom_op goes through the dispatcher)",
    lambda: _load_flag(lambda: torch._C._is_torch_function_mode_enabled, False),
    _always,
)


def _load_tracing() -> Callable[[], bool]:
    state = _load_flag(lambda: torch._C._get_tracing_state, None)
    return lambda: state() is not None  # type: ignore[comparison-overlap]


jit_tracing: Callable[[], bool] = _choose(
    "jit_tracing",
    "torch._C._get_tracing_state",
    "torch.jit.is_tracing (public)",
    _load_tracing,
    torch.jit.is_tracing,
)


# --- redispatching below Autograd, functorch's single-level Functions -----------------------


def _load_below_autograd() -> Callable[[], contextlib.AbstractContextManager[Any]]:
    guard = torch._C._AutoDispatchBelowAutograd
    with guard():
        pass
    return guard  # type: ignore[no-any-return]


#: A guard that makes an operator call skip its Autograd kernel, or None: then the
#: custom_op path computes the forward inline (same values; the operator is not recorded).
below_autograd: Callable[[], contextlib.AbstractContextManager[Any]] | None = _choose(
    "below_autograd",
    "torch._C._AutoDispatchBelowAutograd",
    "compute the forward inline inside the autograd.Function (no operator in a traced graph)",
    _load_below_autograd,
    None,
)


SingleLevel = Callable[[type[torch.autograd.Function]], Callable[..., Any]]


def _load_single_level() -> SingleLevel:
    from torch._functorch.utils import enable_single_level_autograd_function as allowed

    base = torch.autograd.function._SingleLevelFunction
    # torch >= 2.14 routes a Function subclass's C++ apply to functorch's
    # custom_function_call whenever a transform is active; a _SingleLevelFunction twin
    # (what functorch itself builds for its grad rule) records one node at this level.
    parts = ("forward", "setup_context", "backward")

    def single_level(function: type[torch.autograd.Function]) -> Callable[..., Any]:
        namespace = {name: function.__dict__[name] for name in parts}
        twin = type(function.__name__ + "SingleLevel", (base,), namespace)
        apply = twin.apply  # type: ignore[attr-defined]

        def run(*args: Any) -> Any:
            with allowed():
                return apply(*args)

        return run

    # Checked for presence only: running torch.func.grad here would import Dynamo (seconds)
    # at the first registry use; the torch.func tests exercise the behaviour.
    _expect(callable(getattr(base, "apply", None)), "_SingleLevelFunction has no apply")
    return single_level


#: ``single_level_function(F)``: apply an autograd.Function as one node at the current
#: torch.func level (what an operator's Autograd kernel needs under a transform), or None:
#: then the custom_op path sends calls under transforms to the public ``F.apply``.
single_level_function: SingleLevel | None = _choose(
    "single_level_function",
    "torch.autograd.function._SingleLevelFunction + enable_single_level_autograd_function",
    "Function.apply under torch.func (functorch's custom_function_call; .op itself then "
    "cannot run under a transform)",
    _load_single_level,
    None,
)


# --- fake tensors -----------------------------------------------------------------------------


def _load_fake() -> Callable[[object], bool]:
    from torch._subclasses.fake_tensor import FakeTensor

    _expect(issubclass(FakeTensor, Tensor), "FakeTensor is not a Tensor subclass")
    return lambda x: isinstance(x, FakeTensor)


def _any_subclass(x: object) -> bool:
    return isinstance(x, Tensor) and type(x) is not Tensor


is_fake: Callable[[object], bool] = _choose(
    "fake_tensor",
    "torch._subclasses.fake_tensor.FakeTensor",
    "treat every Tensor subclass as possibly fake (its dtype check is left to the kernel)",
    _load_fake,
    _any_subclass,
)


# --- storage use counts (the buffer pool) ------------------------------------------------------


def _load_use_count() -> Callable[[torch.UntypedStorage], int]:
    count = torch._C._storage_Use_Count
    storage = torch.empty(8, dtype=torch.uint8).untyped_storage()
    alone = count(storage._cdata)
    view = torch.empty(0, dtype=torch.uint8).set_(storage)
    shared = count(storage._cdata)
    del view
    _expect((alone, shared) == (1, 2), f"use counts {alone}, {shared} instead of 1, 2")
    return lambda s: count(s._cdata)  # type: ignore[no-any-return]


#: How many tensors and storages reference a storage, or None: the buffer pool is then off.
storage_use_count: Callable[[torch.UntypedStorage], int] | None = _choose(
    "storage_use_count",
    "torch._C._storage_Use_Count(storage._cdata)",
    "no buffer pooling (every fused-LIF buffer is freshly allocated)",
    _load_use_count,
    None,
)


# --- Dynamo -------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def _set_marked_constant(fn: F) -> F:
    fn._dynamo_marked_constant = True  # type: ignore[attr-defined]
    return fn


def _public_assume_constant(fn: F) -> F:
    return torch.compiler.assume_constant_result(fn)  # type: ignore[no-any-return]


def _load_mark_constant() -> Callable[[F], F]:
    import sys

    decorators = sys.modules.get("torch._dynamo.decorators")
    if decorators is not None:  # Dynamo is loaded anyway: check it still reads this flag
        probe = decorators.assume_constant_result(lambda: None)
        _expect(getattr(probe, "_dynamo_marked_constant", False), "assume_constant_result")
    return _set_marked_constant


#: Mark ``fn`` so that Dynamo calls it at trace time and bakes in its result, without
#: importing Dynamo (the private form sets the attribute the public decorator sets).
mark_trace_constant: Callable[[F], F] = _choose(
    "trace_constant",
    "the _dynamo_marked_constant attribute",
    "torch.compiler.assume_constant_result (public; imports Dynamo)",
    _load_mark_constant,
    _public_assume_constant,
)


# --- decompositions and operator namespaces (export, interchange) ---------------------------


def _load_register_decomposition() -> Callable[..., Any]:
    import torch._decomp

    register = torch._decomp.register_decomposition
    _expect(callable(register), "register_decomposition is not callable")
    return register  # type: ignore[no-any-return]


def _no_decomposition(op: Any) -> Callable[[F], F]:
    return lambda fn: fn


#: ``register_decomposition(op)(fn)``: how an exported or decomposed graph may lower ``op``;
#: the fallback registers nothing (graphs then keep the operator itself).
register_decomposition: Callable[..., Any] = _choose(
    "register_decomposition",
    "torch._decomp.register_decomposition",
    "no decomposition (exported graphs keep the operator)",
    _load_register_decomposition,
    _no_decomposition,
)


# --- Inductor keeps the project's operators opaque ---------------------------------------

_INDUCTOR_LOWERING = "torch._inductor.lowering"
#: Operators that have a decomposition (for ONNX) but that Inductor must call as they are.
_opaque_in_inductor: list[Any] = []


def _fallback_in_inductor(op: Any) -> None:
    """Register ``op`` as an Inductor fallback that may coexist with its decomposition.

    Inductor otherwise creates the fallback itself, and with ``CI`` set in the environment
    (as every CI service sets it) refuses an operator that has a decomposition; the
    decomposition exists for the ONNX exporter, which reads the same table."""
    try:
        from torch._inductor import lowering
        from torch._library.utils import get_layout_constraint_tag

        if op not in lowering.lowerings:
            constraint = lowering.tag_to_layout_constraint(
                get_layout_constraint_tag(op, with_default=True)
            )
            lowering.make_fallback(op, layout_constraint=constraint, override_decomp=True)
    except Exception:  # a changed private API: Inductor's own implicit fallback remains
        pass


class _AfterInductorLowering(importlib.abc.MetaPathFinder):
    """Registers the pending fallbacks right after ``torch._inductor.lowering`` has run, so
    that ``import sc_neurocore`` never imports Inductor (over a second) itself."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _INDUCTOR_LOWERING:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        run_module = spec.loader.exec_module

        def run_then_register(module: Any) -> None:
            run_module(module)
            for op in _opaque_in_inductor:
                _fallback_in_inductor(op)

        spec.loader.exec_module = run_then_register  # type: ignore[method-assign]
        return spec


def keep_opaque_in_inductor(op: Any) -> None:
    """Inductor calls ``op`` itself (the fused or element-wise kernels) and never trips
    over the decomposition registered for exporters."""
    _opaque_in_inductor.append(op)
    if _INDUCTOR_LOWERING in sys.modules:
        _fallback_in_inductor(op)
    elif not any(isinstance(finder, _AfterInductorLowering) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterInductorLowering())


#: The module of torch's export deserializer (a reload looks operators up from there).
EXPORT_DESERIALIZER = "torch._export.serde.serialize"


def export_decomposition(op: Any, decomposition: Callable[..., Any]) -> None:
    """``op`` in aten ops for exporters that lower it (ONNX); compiled graphs keep ``op``."""
    register_decomposition(op)(decomposition)
    keep_opaque_in_inductor(op)


def _load_op_namespace() -> type:
    from torch._ops import _OpNamespace

    _expect(isinstance(torch.ops.aten, _OpNamespace), "torch.ops.aten is no _OpNamespace")
    return _OpNamespace  # type: ignore[no-any-return]


#: The class of ``torch.ops.<namespace>`` objects (the fallback asks ``torch.ops.aten``).
OpNamespace: type = _choose(
    "op_namespace",
    "torch._ops._OpNamespace",
    "type(torch.ops.aten)",
    _load_op_namespace,
    type(torch.ops.aten),
)


def shim_status() -> list[Shim]:
    """Every shim with the API in use, for ``sc-neurocore`` listings and bug reports."""
    return list(SHIMS.values())
