"""One ``torch.library`` operator as one object: :class:`OperatorDef`.

Modelled on torch's ``CustomOpDef`` (``torch/_library/custom_ops.py``): the object owns its
library, its schema, its kernels per dispatch key, its fake kernel, its autograd formula,
its vmap rule, its autocast policy, its export decomposition and its backward companion.
Unlike ``torch.library.custom_op`` it takes the signature as a :class:`typing.NamedTuple`
of the operator's arguments, written once::

    class LeakyArguments(NamedTuple):
        x: Tensor
        y0: Tensor | None
        decay: Tensor

    leaky = OperatorDef("sc_neurocore_fused::leaky", LeakyArguments, returns=1)

From it come both the schema (``leaky(Tensor x, Tensor? y0, Tensor decay) -> Tensor``) and
the unpacking of every call: each function registered here receives the arguments as one
``LeakyArguments`` (``args.x``, ``args.decay``), and an autograd backward returns its
gradients by argument name.  The operator is defined when the object is built; its
registrations follow as method calls, each at most once per dispatch key.
"""

from __future__ import annotations

import threading
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from ..core import compat
from .autocast import register_autocast_policy

__all__ = ["OperatorDef", "defining", "is_defining", "schema_type"]

_busy = threading.local()


@contextmanager
def defining() -> Iterator[None]:
    """Mark this thread as defining operators: its lookups of missing names (torch's
    ``define`` checks whether the name exists) must not start another definition
    (see :mod:`sc_neurocore.interchange.operators`)."""
    previous = getattr(_busy, "active", False)
    _busy.active = True
    try:
        yield
    finally:
        _busy.active = previous


def is_defining() -> bool:
    """Whether this thread is inside :func:`defining`."""
    return bool(getattr(_busy, "active", False))


#: Python annotation -> schema type, for the argument types the project's operators use.
_SCHEMA_TYPES: dict[Any, str] = {
    Tensor: "Tensor",
    float: "float",
    int: "int",
    bool: "bool",
    str: "str",
    list[float]: "float[]",
    list[int]: "int[]",
    list[Tensor]: "Tensor[]",
}


def schema_type(annotation: Any) -> str:
    """The schema type of one argument annotation (``Tensor | None`` -> ``Tensor?``)."""
    arguments = typing.get_args(annotation)
    if type(None) in arguments and len(arguments) == 2:
        (inner,) = (argument for argument in arguments if argument is not type(None))
        return schema_type(inner) + "?"
    found = _SCHEMA_TYPES.get(annotation)
    if found is None:
        raise TypeError(f"OperatorDef: no schema type for the annotation {annotation!r}")
    return found


def _returns(count: int) -> str:
    if count < 1:
        raise ValueError(f"OperatorDef: returns must be at least 1, got {count}")
    return "Tensor" if count == 1 else "(" + ", ".join(["Tensor"] * count) + ")"


class OperatorDef:
    """The operator ``qualname`` with the arguments of ``arguments`` and ``returns`` tensors.

    ``arguments`` is a :class:`typing.NamedTuple` class, or its ``(name, annotation)`` pairs
    for a schema made at run time; the annotations give the schema (:func:`schema_type`).
    Every function registered through the methods below is called with the arguments packed
    into one ``arguments`` instance.
    """

    def __init__(
        self, qualname: str, arguments: type[tuple] | Sequence[tuple[str, Any]], returns: int = 1
    ) -> None:
        namespace, _, name = qualname.partition("::")
        if not namespace or not name:
            raise ValueError(f"OperatorDef: qualname must be 'namespace::name', got {qualname!r}")
        if isinstance(arguments, type):
            packed: type[tuple] = arguments
        else:  # (name, annotation) pairs: a schema made at run time
            title = "".join(part.capitalize() for part in name.split("_")) + "Arguments"
            packed = typing.NamedTuple(title, list(arguments))  # type: ignore[misc,no-redef]
        self.namespace, self.name, self.qualname = namespace, name, qualname
        self.arguments = packed
        self.names: tuple[str, ...] = packed._fields  # type: ignore[attr-defined]
        hints = typing.get_type_hints(packed)
        listed = ", ".join(f"{schema_type(hints[field])} {field}" for field in self.names)
        self.returns = returns
        self.schema = f"{name}({listed}) -> {_returns(returns)}"
        self.library = torch.library.Library(namespace, "FRAGMENT")
        with defining():
            self.library.define(self.schema)
        self.op: Any = getattr(getattr(torch.ops, namespace), name).default  # an OpOverload
        self.policy: str | None = None
        self.backward: OperatorDef | None = None

    def __repr__(self) -> str:
        return f"<OperatorDef({self.qualname}: {self.schema})>"

    def __call__(self, *args: Any) -> Any:
        return self.op(*args)

    def bind(self, args: tuple[Any, ...]) -> Any:
        """``args`` (positional, in schema order) as one ``arguments`` instance."""
        return self.arguments._make(args)  # type: ignore[attr-defined]

    def _packed(self, fn: Callable[[Any], Any]) -> Callable[..., Any]:
        make = self.arguments._make  # type: ignore[attr-defined]

        def kernel(*args: Any) -> Any:
            return fn(make(args))

        kernel.__name__ = kernel.__qualname__ = getattr(fn, "__name__", "kernel")
        return kernel

    # --- registrations, as torch's CustomOpDef names them ------------------------------------

    def register_kernel(self, fn: Callable[[Any], Any], key: str = "CompositeExplicitAutograd"):
        """``fn(args)`` runs the operator for dispatch key ``key`` (default: every device)."""
        self.library.impl(self.name, self._packed(fn), key)
        return fn

    def register_fake(self, fn: Callable[[Any], Any]):
        """``fn(args)`` returns empty outputs of the right shape and dtype (meta, tracing)."""
        torch.library.register_fake(self.qualname, self._packed(fn), lib=self.library)
        return fn

    def register_autograd(
        self,
        backward: Callable[..., Mapping[str, Tensor | None]],
        setup_context: Callable[[Any, Any, Any], None],
    ) -> None:
        """``setup_context(ctx, args, output)`` saves what ``backward(ctx, *grads)`` needs;
        ``backward`` returns the gradients by argument name (missing names get ``None``);
        :meth:`needs` reads ``ctx.needs_input_grad`` by name."""
        make, names = self.arguments._make, self.names  # type: ignore[attr-defined]

        def setup(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
            setup_context(ctx, make(inputs), output)

        def run_backward(ctx: Any, *grads: Any) -> tuple[Tensor | None, ...]:
            found = backward(ctx, *grads)
            return tuple(found.get(name) for name in names)

        torch.library.register_autograd(
            self.qualname, run_backward, setup_context=setup, lib=self.library
        )

    def needs(self, ctx: Any) -> Any:
        """``ctx.needs_input_grad`` as one ``arguments`` instance of booleans."""
        return self.bind(ctx.needs_input_grad)

    def register_vmap(self, rule: Callable[[Any, Any, Any], tuple[Any, Any]]) -> None:
        """``rule(info, in_dims, args)`` (``in_dims`` packed like ``args``) returns
        ``(outputs, out_dims)``, as ``torch.library.register_vmap`` rules do."""
        make = self.arguments._make  # type: ignore[attr-defined]

        def run(info: Any, in_dims: tuple[int | None, ...], *args: Any) -> tuple[Any, Any]:
            return rule(info, make(in_dims), make(args))

        torch.library.register_vmap(self.qualname, run, lib=self.library)

    def register_autocast(self, policy: str) -> None:
        """The operator's behaviour under ``torch.autocast`` (see :mod:`.autocast`)."""
        register_autocast_policy(self.library, self.name, policy)
        self.policy = policy
        if self.backward is not None:
            self.backward.register_autocast(policy)

    def register_decomposition(self, fn: Callable[[Any], Any]) -> None:
        """``fn(args)`` is the forward in aten ops, for exporters that lower the operator
        (ONNX); ``torch.export`` and compiled graphs keep the operator itself."""
        compat.export_decomposition(self.op, self._packed(fn))

    def define_backward(
        self,
        arguments: type[tuple] | Sequence[tuple[str, Any]],
        returns: int,
        kernel: Callable[[Any], Any],
        fake: Callable[[Any], Any],
        *,
        no_double_backward: str | None = None,
    ) -> OperatorDef:
        """The companion ``<name>_backward`` that this operator's autograd formula calls:
        defined with its kernel (every device), fake kernel and this operator's autocast
        policy.  With ``no_double_backward`` its own backward refuses with that message
        (a closed-form backward with no second derivative)."""
        companion = OperatorDef(f"{self.qualname}_backward", arguments, returns)
        companion.register_kernel(kernel)
        companion.register_fake(fake)
        if no_double_backward is not None:
            message = no_double_backward

            def refuse(ctx: Any, *grads: Tensor | None) -> Mapping[str, Tensor | None]:
                raise RuntimeError(message)

            companion.register_autograd(refuse, lambda ctx, args, output: None)
        if self.policy is not None:
            companion.register_autocast(self.policy)
        self.backward = companion
        return companion
