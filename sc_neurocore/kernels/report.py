"""Which kernel serves each operator on each kind of device, and why not a faster one.

Operators add their rows through providers: ``register_kernel_report(provider)``
where ``provider(specs)`` yields one :class:`KernelChoice` per (operator, device kind)
for the given surrogate specs.  The element-wise ``custom_op`` operators register one
(:mod:`sc_neurocore.paths.custom_op`); the fused neurons register theirs the same way.
``sc-neurocore kernels`` and :func:`sc_neurocore.kernel_report` print what they yield.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

from ..core.spec import SurrogateSpec

__all__ = ["DEVICE_KINDS", "KernelChoice", "collect", "register_kernel_report"]

#: The device kinds every listing covers (a CUDA row is listed even without a GPU here).
DEVICE_KINDS = ("cpu", "cuda")


@dataclass(frozen=True)
class KernelChoice:
    """One row: ``kernel`` (``triton``/``native``/``torch``/``error``) serving ``op`` for
    ``surrogate`` on ``device`` float32 tensors; ``reason`` says why a faster one does not
    run ('' when the fastest for that device does)."""

    op: str
    surrogate: str
    device: str
    kernel: str
    reason: str
    #: The input dtypes that kernel takes as they are ('' where not listed).
    dtypes: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


Provider = Callable[[Sequence[SurrogateSpec]], Iterable[KernelChoice]]
_providers: list[Provider] = []


def register_kernel_report(provider: Provider) -> Provider:
    """Add ``provider`` to every kernel listing (idempotent; usable as a decorator)."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def collect(specs: Sequence[SurrogateSpec]) -> list[KernelChoice]:
    """Every provider's rows for ``specs``; a failing provider shows as an ``error`` row."""
    rows: list[KernelChoice] = []
    for provider in list(_providers):
        try:
            rows.extend(provider(specs))
        except Exception as error:  # a broken provider must not hide the other rows
            name = getattr(provider, "__qualname__", repr(provider))
            rows.append(KernelChoice(name, "", "", "error", f"{type(error).__name__}: {error}"))
    return rows
