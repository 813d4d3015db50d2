"""The one kernel selector: which family runs an operator's call, and why, for calls and listings.

Three kernel families run the operators: ``triton`` (generated GPU kernels), ``native``
(compiled C, CPU) and ``torch`` (torch ops, everywhere).  Each kind of operator (the
element-wise surrogates, the fused LIF, the fused leaky integrator, and whatever registers
an :class:`OperatorKind` later) says per family why it cannot run a subject on a device kind
and dtype ('' when it can) and how to build the kernels.  :meth:`KernelSelector.decide` is
the one function that turns that into a :class:`Decision`; the operators' calls (through a
:class:`Chooser`, which keeps decisions per dtype and device kind), ``sc-neurocore kernels``
and ``explain()`` all ask it, so the listing is what runs.

Unset, the fastest family that can run does: Triton on CUDA tensors, native on CPU tensors,
torch otherwise.  ``SC_NEUROCORE_KERNEL=torch|native|triton`` (read once, at import) or
:func:`~sc_neurocore.core.settings.set_kernel` / ``use_kernel`` force one family; where it
cannot run, the decision is an error and the call raises
:class:`~sc_neurocore.core.errors.KernelUnavailableError` with the reason, never a silent
fallback.  Triton runs CPU tensors only when forced under ``TRITON_INTERPRET=1`` (its
interpreter: how CI tests the Triton kernels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from ..core.errors import KernelUnavailableError
from ..core.settings import ENV_KERNEL, KERNEL_FAMILIES, KERNEL_SWITCH, KernelSwitch
from ..core.spec import SurrogateSpec
from .triton import launch

__all__ = [
    "DEVICE_KINDS",
    "KERNEL_FAMILIES",
    "LISTED_DTYPES",
    "SELECTOR",
    "Chooser",
    "Decision",
    "Family",
    "KernelChoice",
    "KernelSelector",
    "OperatorKind",
]

#: The device kinds every listing covers (a CUDA row is listed even without a GPU here).
DEVICE_KINDS = ("cpu", "cuda")
#: The families tried unforced, fastest first, per device kind; ``torch`` always comes last.
PREFERRED = {"cuda": ("triton",), "cpu": ("native",)}
#: The floating dtypes a listing probes for its input-dtypes column, and their short names.
LISTED_DTYPES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
}


@dataclass(frozen=True)
class Family:
    """One kernel family of an operator kind.

    ``reason(subject, device_kind, dtype)`` is '' when the family can run the subject on such
    tensors, else why not; ``build(subject)`` returns the kernels (called only after '').
    """

    reason: Callable[[Any, str, torch.dtype], str]
    build: Callable[[Any], Any]


@dataclass(frozen=True)
class OperatorKind:
    """A kind of operator whose calls the selector serves, e.g. the fused LIF.

    ``families`` maps family names to :class:`Family` (``torch`` must be there: it runs
    everywhere).  A *subject* is what one operator serves (a spec, a ``(spec, reset)``
    pair, ``None``); ``subjects(specs)`` gives the listing's subjects, ``op(subject)`` the
    operator's name, ``label(subject)`` its surrogate column, ``describe(subject)`` how error
    messages name it.
    """

    name: str
    families: Mapping[str, Family]
    op: Callable[[Any], str]
    subjects: Callable[[Sequence[SurrogateSpec]], Sequence[Any]]
    label: Callable[[Any], str]
    describe: Callable[[Any], str]
    #: What the listing's input-dtypes column says for the torch family.
    torch_dtypes: str = "any floating (bf16/fp16 computed in float32)"


@dataclass(frozen=True)
class Decision:
    """``family`` (``triton``/``native``/``torch``, or ``error``) runs the call, ``kernels``
    are what it runs; ``reason`` says why not a faster family ('' when the fastest runs),
    ``error`` is the message a call raises where the forced family cannot run."""

    family: str
    reason: str
    kernels: Any = None
    error: str = ""

    def require(self) -> Any:
        """The kernels, or :class:`KernelUnavailableError` with the reason."""
        if self.family == "error":
            raise KernelUnavailableError(self.error)
        return self.kernels


@dataclass(frozen=True)
class KernelChoice:
    """One listing row: ``kernel`` (``triton``/``native``/``torch``/``error``) serving ``op``
    for ``surrogate`` on ``device`` float32 tensors; ``reason`` says why a faster one does
    not run ('' when the fastest for that device does)."""

    op: str
    surrogate: str
    device: str
    kernel: str
    reason: str
    #: The input dtypes that kernel takes as they are ('' where not listed).
    dtypes: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class KernelSelector:
    """The switch, the operator kinds, and the one decision function over them."""

    def __init__(self, switch: KernelSwitch) -> None:
        self.switch = switch
        self.kinds: dict[str, OperatorKind] = {}

    def register(self, kind: OperatorKind) -> OperatorKind:
        """Add ``kind`` to the selector (and to every listing); a kind of the same name is
        replaced (a module imported again re-registers)."""
        if "torch" not in kind.families:
            raise ValueError(f"operator kind {kind.name!r} needs a 'torch' family")
        unknown = set(kind.families) - set(KERNEL_FAMILIES)
        if unknown:
            raise ValueError(f"operator kind {kind.name!r}: unknown families {sorted(unknown)}")
        self.kinds[kind.name] = kind
        self.forget()
        return kind

    def forget(self) -> None:
        """Drop every decision kept so far (the next call of each operator decides again)."""
        self.switch.generation += 1

    def cuda_available(self) -> bool:
        """The one probe of a usable CUDA device (tests replace it to decide CUDA cases)."""
        return torch.cuda.is_available()

    def triton_reason(self, device_kind: str, exact_fma: bool = False) -> str:
        """'' if Triton kernels can run on ``device_kind`` tensors here, else why not;
        ``exact_fma``: the kernels need ``tl.fma`` rounded once (the fused neurons)."""
        interpret = self.switch.interpret
        if device_kind not in DEVICE_KINDS:
            return f"no Triton kernels for {device_kind} tensors"
        if device_kind == "cpu" and not interpret:
            return "Triton kernels run on CUDA tensors (CPU tensors only under TRITON_INTERPRET=1)"
        if device_kind == "cuda" and interpret:
            return "TRITON_INTERPRET=1 runs Triton on CPU tensors only"
        missing = launch.triton_missing()
        if missing:
            return missing
        if device_kind == "cpu" and exact_fma:
            return launch.interpreter_fma_problem() or ""
        if device_kind == "cuda" and not self.cuda_available():
            return "CUDA is not available"
        return ""

    def decide(
        self, kind: OperatorKind, subject: Any, device_kind: str, dtype: torch.dtype
    ) -> Decision:
        """Which family runs ``kind``'s operator for ``subject`` on a ``device_kind`` tensor
        of ``dtype``, and why: the answer of calls and listings alike."""
        forced = self.switch.forced
        order = (forced,) if forced else (*PREFERRED.get(device_kind, ()), "torch")
        skipped: list[str] = []
        for family in order:
            rule = kind.families.get(family)
            why = (
                rule.reason(subject, device_kind, dtype)
                if rule is not None
                else f"{kind.name} has no {family} kernels"
            )
            if rule is not None and not why:
                reason = f"forced by {ENV_KERNEL}={forced}" if forced else "; ".join(skipped)
                return Decision(family, reason, rule.build(subject))
            if forced:
                return Decision(
                    "error",
                    f"{ENV_KERNEL}={forced} cannot run here: {why}",
                    error=(
                        f"{ENV_KERNEL}={forced}: {kind.describe(subject)} cannot run {forced} "
                        f"kernels on a {device_kind} {dtype} tensor: {why}"
                    ),
                )
            skipped.append(why)
        raise AssertionError(f"{kind.name}: its torch family refused {device_kind} {dtype}")

    def chooser(self, kind: OperatorKind, subject: Any) -> Chooser:
        """A :class:`Chooser` for one operator's calls (it keeps its decisions)."""
        return Chooser(self, kind, subject)

    def dtypes(self, kind: OperatorKind, subject: Any, device_kind: str, family: str) -> str:
        """The listed input dtypes ``family`` takes for ``subject`` on ``device_kind``."""
        if family == "torch":
            return kind.torch_dtypes
        rule = kind.families.get(family)
        if rule is None:
            return ""
        taken = [name for dtype, name in LISTED_DTYPES.items()
                 if not rule.reason(subject, device_kind, dtype)]  # fmt: skip
        return ", ".join(taken)

    def listing(
        self, specs: Sequence[SurrogateSpec], device_kinds: Sequence[str] = DEVICE_KINDS
    ) -> list[KernelChoice]:
        """One row per operator kind, subject and device kind: what a float32 call decides.

        A kind whose listing fails shows as one ``error`` row (the other rows still print).
        """
        rows: list[KernelChoice] = []
        for kind in list(self.kinds.values()):
            try:
                rows.extend(self.rows(kind, specs, device_kinds))
            except Exception as error:  # a broken kind must not hide the other rows
                why = f"{type(error).__name__}: {error}"
                rows.append(KernelChoice(kind.name, "", "", "error", why))
        return rows

    def rows(
        self, kind: OperatorKind, specs: Sequence[SurrogateSpec], device_kinds: Sequence[str]
    ) -> list[KernelChoice]:
        """``kind``'s listing rows for ``specs`` (see :meth:`listing`)."""
        rows = []
        for subject in kind.subjects(specs):
            for device in device_kinds:
                found = self.decide(kind, subject, device, torch.float32)
                dtypes = self.dtypes(kind, subject, device, found.family)
                op, label = kind.op(subject), kind.label(subject)
                rows.append(KernelChoice(op, label, device, found.family, found.reason, dtypes))
        return rows


class Chooser:
    """The decisions of one operator (kind and subject), kept per (dtype, device kind) until
    the switch changes: what the operator's calls ask, without reading any environment."""

    __slots__ = ("_cache", "_generation", "kind", "selector", "subject")

    def __init__(self, selector: KernelSelector, kind: OperatorKind, subject: Any) -> None:
        self.selector, self.kind, self.subject = selector, kind, subject
        self._cache: dict[tuple[torch.dtype, bool, bool], Decision] = {}
        self._generation = -1

    def decision(self, x: Tensor) -> Decision:
        """The decision for a call on ``x``."""
        switch = self.selector.switch
        if self._generation != switch.generation:
            self._cache = {}
            self._generation = switch.generation
        # The key avoids building a torch.device per call (the hot path of small tensors);
        # other device kinds are rare and decided per call.
        if not (x.is_cpu or x.is_cuda):
            return self.selector.decide(self.kind, self.subject, x.device.type, x.dtype)
        key = (x.dtype, x.is_cpu, x.is_cuda)
        found = self._cache.get(key)
        if found is None:
            device = "cpu" if x.is_cpu else "cuda"
            found = self.selector.decide(self.kind, self.subject, device, x.dtype)
            self._cache[key] = found
        return found

    def kernels(self, x: Tensor) -> Any:
        """The kernels for ``x``; raises :class:`KernelUnavailableError` where forced can't run."""
        return self.decision(x).require()


#: The selector of this process: it holds the one kernel switch of core/settings.py.
SELECTOR = KernelSelector(KERNEL_SWITCH)
