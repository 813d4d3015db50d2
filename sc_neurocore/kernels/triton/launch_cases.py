"""Every way the package launches a Triton kernel, as small cases the real launch code runs.

A :class:`LaunchCase` names one kernel launch: the operator and kernel, the surrogate formula
(for the kernels it is inlined into), the dtype, and the variant that changes what Triton
binds (reset mode, parameters as a float / one-element tensor / per-neuron tensor, learned
or not, a ``v0``, the backward's chunk, a broadcast output gradient, whether the neuron count
is a multiple of 16).  :func:`run_case` runs the launch code of :mod:`.elementwise`,
:mod:`.lif` and :mod:`.leaky` with small CPU tensors built the way the operators build them,
so under :func:`~.capture.capturing` it yields exactly the bindings a GPU launch produces.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import torch

from ...core.formula import Formula, parse
from ...core.spec import SurrogateSpec
from .launch import MAX_CHUNK
from .neurons import RESETS

__all__ = ["PARAMETER_KINDS", "LaunchCase", "launch_cases", "run_case"]

DTYPES = ("float16", "bfloat16", "float32", "float64")
#: How a neuron parameter reaches the kernels: a Python float (a fixed value read on the
#: host), a one-element tensor (a learnable scalar, or any scalar already on the device) and a
#: tensor with one value per neuron.
PARAMETER_KINDS = ("float", "scalar tensor", "per-neuron")
#: Sequence lengths whose backward chunks are every power of two up to ``MAX_CHUNK``.
CHUNK_STEPS = tuple(1 << k for k in range(MAX_CHUNK.bit_length()))
#: Neuron counts with and without Triton's divisibility-by-16 hint on ``n``.
NEURONS = (48, 50)


@dataclass(frozen=True)
class LaunchCase:
    """One launch of one kernel; the fields after ``dtype`` are its variant."""

    op: str  # "surrogate", "lif", "leaky"
    kernel: str  # "spike", "backward", "forward"
    surrogate: str  # "" where no surrogate is inlined
    formula: tuple[str, tuple[str, ...]] | None
    dtype: str
    reset: str = ""
    parameters: str = ""
    learned: bool = False
    v0: bool = False
    steps: int = 3
    broadcast: bool = False
    neurons: int = NEURONS[0]

    @property
    def variant(self) -> str:
        """The variant fields that apply to this kernel, as ``name=value`` words."""
        words = []
        for field in fields(self)[5:]:
            value = getattr(self, field.name)
            if field.name == "steps":
                if self.kernel == "backward" and self.op == "lif":
                    words.append(f"chunk={_chunk(value)}")
                continue
            if value not in ("", False) and field.name != "neurons":
                words.append(field.name if value is True else f"{field.name}={value}")
        words.append(f"n%16={self.neurons % 16}")
        return " ".join(words)

    def parsed_formula(self) -> Formula | None:
        return None if self.formula is None else parse(*self.formula)


def _chunk(steps: int) -> int:
    from .launch import chunk_steps

    return chunk_steps(steps)


def _formula(spec: SurrogateSpec) -> tuple[str, tuple[str, ...]] | None:
    formula = spec.parsed_formula()
    return None if formula is None else (formula.text, formula.params)


def launch_cases(specs: Sequence[SurrogateSpec], full: bool = False) -> list[LaunchCase]:
    """The cases to compile: every surrogate with a formula, every dtype.

    ``full``: the whole grid (every fused variant for every surrogate).  Otherwise every
    structural variant of the fused kernels for the first surrogate with a formula (the
    formula is inlined in one place, ``surrogate``, that no variant changes), and every
    other surrogate in every dtype with its largest variant (the longest chunk, learned
    per-neuron parameters, a ``v0``), where registers peak.
    """
    formulas = [(spec.name, _formula(spec)) for spec in specs if _formula(spec) is not None]
    cases: list[LaunchCase] = []
    for dtype, (name, formula) in itertools.product(DTYPES, formulas):
        for broadcast, neurons in itertools.product((False, True), NEURONS):
            cases.append(LaunchCase("surrogate", "backward", name, formula, dtype, "", "", False,
                                    False, 3, broadcast, neurons))  # fmt: skip
    for dtype, neurons in itertools.product(DTYPES, NEURONS):
        cases.append(LaunchCase("surrogate", "spike", "", None, dtype, neurons=neurons))
    for index, (name, formula) in enumerate(formulas):
        cases.extend(_fused_cases(name, formula, every_variant=full or index == 0))
    cases.extend(_leaky_cases())
    return cases


def _fused_cases(
    name: str, formula: tuple[str, tuple[str, ...]], every_variant: bool
) -> Iterable[LaunchCase]:
    if not every_variant:
        for dtype, reset in itertools.product(DTYPES, RESETS):
            for kernel in ("forward", "backward"):
                yield LaunchCase("lif", kernel, name, formula, dtype, reset, "per-neuron",
                                 kernel == "backward", True, MAX_CHUNK)  # fmt: skip
        return
    axes = (DTYPES, RESETS, PARAMETER_KINDS, (False, True), NEURONS)
    for dtype, reset, kind, v0, neurons in itertools.product(*axes):
        yield LaunchCase("lif", "forward", name, formula, dtype, reset, kind, False, v0, 3,
                         False, neurons)  # fmt: skip
        for learned, steps, broadcast in itertools.product((False, True), CHUNK_STEPS, (False, True)):
            yield LaunchCase("lif", "backward", name, formula, dtype, reset, kind, learned, v0,
                             steps, broadcast, neurons)  # fmt: skip


def _leaky_cases() -> Iterable[LaunchCase]:
    axes = (DTYPES, PARAMETER_KINDS, (False, True), NEURONS)
    for dtype, kind, y0, neurons in itertools.product(*axes):
        yield LaunchCase("leaky", "forward", "", None, dtype, "", kind, False, y0, 3, False, neurons)
        for learned, broadcast in itertools.product((False, True), (False, True)):
            yield LaunchCase("leaky", "backward", "", None, dtype, "", kind, learned, y0, 3,
                             broadcast, neurons)  # fmt: skip


# --- running a case ---------------------------------------------------------------------------


def _value(kind: str, value: float, neurons: int, dtype: torch.dtype) -> float | torch.Tensor:
    """A parameter as the operator hands it to the kernels (``kernel_value``'s result)."""
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    if kind == "float":
        return value
    if kind == "scalar tensor":
        return torch.full((), value, dtype=compute)
    return torch.full((neurons,), value, dtype=compute)


def run_case(case: LaunchCase) -> None:
    """Run the launch code of ``case`` on small CPU tensors (capture it to see the binding)."""
    dtype = getattr(torch, case.dtype)
    steps = case.steps
    x = torch.rand(steps, 1, case.neurons, dtype=torch.float64).to(dtype)
    grad = torch.ones((), dtype=dtype).expand(x.shape) if case.broadcast else torch.ones_like(x)
    if case.op == "surrogate":
        _run_surrogate(case, x, grad)
    elif case.op == "lif":
        _run_lif(case, x, grad)
    else:
        _run_leaky(case, x, grad)


def _run_surrogate(case: LaunchCase, x: torch.Tensor, grad: torch.Tensor) -> None:
    from . import elementwise

    formula = case.parsed_formula()
    if case.kernel == "spike" or formula is None:
        elementwise.spike(x)
    else:
        elementwise.backward(formula, x, grad, tuple(1.0 for _ in formula.params))


def _run_lif(case: LaunchCase, x: torch.Tensor, grad: torch.Tensor) -> None:
    from .fused_source import load_kernels
    from .lif import TritonLIF
    from .neurons import lif_template

    template = lif_template(case.reset)
    kernels = TritonLIF(None, template, load_kernels(template, case.parsed_formula()),
                        _value(case.parameters, 0.0, case.neurons, x.dtype))  # fmt: skip
    beta, threshold = (_value(case.parameters, v, case.neurons, x.dtype) for v in (0.9, 1.0))
    v0 = torch.zeros_like(x[0]) if case.v0 else None
    if case.kernel == "forward":
        kernels.forward(x, v0, beta, threshold, torch.empty_like(x))
        return
    n = x[0].numel()
    sums = (torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64))
    params = [1.0] * len(case.formula[1]) if case.formula else []
    kernels.backward(grad, torch.zeros_like(x[0]), x, v0, beta, threshold, params,
                     torch.empty_like(x), sums if case.learned else None)  # fmt: skip


def _run_leaky(case: LaunchCase, x: torch.Tensor, grad: torch.Tensor) -> None:
    from .fused_source import load_kernels
    from .leaky import TritonLeaky
    from .neurons import LEAKY

    kernels = TritonLeaky(load_kernels(LEAKY))
    decay = _value(case.parameters, 0.9, case.neurons, x.dtype)
    y0 = torch.zeros_like(x[0]) if case.v0 else None
    if case.kernel == "forward":
        kernels.forward(x, y0, decay)
    else:
        kernels.backward(grad, x, y0, decay, case.learned)
