"""Catch the kernel launches of the real launch code, bound for a chosen GPU target.

:func:`capturing` makes Triton believe the current device is ``target`` (a stand-in for its
driver answers three questions: which device, which stream, which target) and sets Triton's
``jit_cache_hook``, which every launch calls after binding its arguments and before
compiling.  The launch code then runs on CPU tensors exactly as it would on a GPU: Triton's
own binder computes each argument's type, its divisibility-by-16 hint and the constexprs,
and the hook records them (:class:`Launch`) and stops the launch there.  Nothing runs and
nothing compiles; :meth:`Launch.compile` compiles the recorded binding when asked.
"""

from __future__ import annotations

import ast
import contextlib
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .targets import Target

__all__ = ["Launch", "capturing", "stored_arguments"]


@dataclass
class Launch:
    """One launch as Triton bound it: the kernel, its signature, constexprs, hints, options."""

    function: Any  # triton.runtime.jit.JITFunction
    signature: dict[str, str]
    constants: dict[Any, Any]
    attrs: dict[Any, Any]
    options: dict[str, Any]
    #: Triton's own cache key of this binding (types, hints, constexprs, options).
    key: str
    arguments: tuple[Any, ...] = field(default=(), repr=False)
    keywords: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.function.fn.__name__)

    @property
    def identity(self) -> str:
        """Equal for two launches that compile to the same binary (source and binding)."""
        return f"{self.function.cache_key}|{self.key}"

    def compile(self, target: Target) -> Any:
        """Compile this binding for ``target``: Triton's ``CompiledKernel``."""
        import triton
        from triton.compiler import ASTSource, make_backend

        options = make_backend(target.gpu_target()).parse_options(dict(self.options))
        source = ASTSource(self.function, self.signature, self.constants, self.attrs)
        return triton.compile(source, target=target.gpu_target(), options=options.__dict__)

    def ttir(self, target: Target) -> str:
        """The kernel's Triton IR for this binding (the compiler's first stage, no codegen)."""
        from triton._C.libtriton import ir
        from triton.compiler import ASTSource, make_backend

        backend = make_backend(target.gpu_target())
        options = backend.parse_options(dict(self.options))
        context = ir.context()
        ir.load_dialects(context)
        backend.load_dialects(context)
        source = ASTSource(self.function, self.signature, self.constants, self.attrs)
        codegen = backend.get_codegen_implementation(options)
        module = source.make_ir(target.gpu_target(), options, codegen, backend.get_module_map(),
                                context)  # fmt: skip
        return str(module)

    def aliased_writes(self) -> list[str]:
        """Each tensor the kernel stores to that is also passed as another argument."""
        names = self.function.arg_names
        tensors = {
            name: value
            for name, value in zip(names, self.arguments)
            if hasattr(value, "untyped_storage") and value.numel()
        }
        problems = []
        for written in stored_arguments(self.function) & set(tensors):
            storage = tensors[written].untyped_storage().data_ptr()
            for name, value in tensors.items():
                if name != written and value.untyped_storage().data_ptr() == storage:
                    problems.append(f"{self.name}: {written} (written) is also passed as {name}")
        return problems


def stored_arguments(function: Any) -> set[str]:
    """The pointer arguments a kernel's source stores through (``tl.store`` on them or on a
    name computed from them)."""
    tree = ast.parse(textwrap.dedent(function.src))
    derived = {name: {name} for name in function.arg_names}
    for node in ast.walk(tree):  # x_ptrs = x_ptr + offs: x_ptrs stands for x_ptr
        if not isinstance(node, (ast.Assign, ast.AugAssign)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        roots = set().union(*(derived.get(n.id, set()) for n in _names(node.value)))
        for target in targets:
            if isinstance(target, ast.Name):
                derived[target.id] = derived.get(target.id, set()) | roots
    stored: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "tl.store" and node.args:
            stored |= set().union(*(derived.get(n.id, set()) for n in _names(node.args[0])))
    return stored


def _names(node: ast.AST) -> list[ast.Name]:
    return [child for child in ast.walk(node) if isinstance(child, ast.Name)]


class _TargetDriver:
    """What ``JITFunction.run`` asks Triton's active driver, answered for one target."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def get_current_device(self) -> str:
        return f"sc-neurocore-aot:{self.target.name}"  # keeps each target's binders apart

    def get_current_stream(self, device: object = None) -> int:
        return 0

    def get_current_target(self) -> Any:
        return self.target.gpu_target()


def _tuples(value: Any) -> Any:
    """JSON gave lists where Triton's options hold tuples."""
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


@contextlib.contextmanager
def capturing(target: Target) -> Iterator[list[Launch]]:
    """Within the block, kernel launches are recorded into the yielded list, not run."""
    from triton import knobs
    from triton.runtime import jit
    from triton.runtime.driver import driver

    launches: list[Launch] = []
    pending: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def hook(*, key: Any, fn: Any, compile: dict[str, Any], **_: Any) -> bool:
        data = json.loads(compile["specialization_data"])
        options = {name: _tuples(value) for name, value in data["options"].items()}
        arguments, keywords = pending.pop() if pending else ((), {})
        launches.append(
            Launch(
                fn.jit_function,
                dict(compile["signature"]),
                dict(compile["constants"]),
                dict(compile["configs"][0]),
                options,
                str(key),
                arguments,
                keywords,
            )
        )
        return True  # handled: Triton neither compiles nor launches

    original_run = jit.JITFunction.run

    def recording_run(self: Any, *args: Any, grid: Any, warmup: bool, **kwargs: Any) -> Any:
        pending.append((args, dict(kwargs)))
        try:
            return original_run(self, *args, grid=grid, warmup=warmup, **kwargs)
        finally:
            pending.clear()

    previous_hook, previous_driver = knobs.runtime.jit_cache_hook, driver._active
    knobs.runtime.jit_cache_hook = hook
    driver.set_active(_TargetDriver(target))  # type: ignore[arg-type]
    jit.JITFunction.run = recording_run  # type: ignore[method-assign]
    try:
        yield launches
    finally:
        jit.JITFunction.run = original_run  # type: ignore[method-assign]
        knobs.runtime.jit_cache_hook = previous_hook
        driver._active = previous_driver  # as it was: unset where no GPU driver was probed
