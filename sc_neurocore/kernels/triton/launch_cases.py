"""Every way the package launches a Triton kernel, as small cases the real launch code runs.

A :class:`LaunchCase` names one kernel launch: the operator and kernel, the surrogate formula
(for the kernels it is inlined into), the dtype, and the variant that changes what Triton
binds (reset mode, parameters as a float / one-element tensor / per-neuron tensor, learned
or not, a broadcast output gradient, whether the neuron count is a multiple of 16).
:func:`run_case` runs the launch code of :mod:`.elementwise` and :mod:`.neuron` with small
CPU tensors built the way the operators build them, so under :func:`~.capture.capturing` it
yields exactly the bindings a GPU launch produces.  A neuron spec's generated kernels are the
op ``neuron:<name>``, for every registered neuron (a plugin's included: :func:`neuron_cases`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from ...core.formula import Formula, parse
from ...core.neuron_spec import RESET_MODES, NeuronSpec
from ...core.spec import SurrogateSpec

__all__ = [
    "NEURON_OP",
    "PARAMETER_KINDS",
    "LaunchCase",
    "equations",
    "launch_cases",
    "neuron_cases",
    "run_case",
]

DTYPES = ("float16", "bfloat16", "float32", "float64")
#: How a neuron parameter reaches the kernels: a Python float (a fixed value read on the
#: host), a one-element tensor (a learnable scalar, or any scalar already on the device) and a
#: tensor with one value per neuron.
PARAMETER_KINDS = ("float", "scalar tensor", "per-neuron")
#: Neuron counts with and without Triton's divisibility-by-16 hint on ``n``.
NEURONS = (48, 50)


@dataclass(frozen=True)
class LaunchCase:
    """One launch of one kernel; the fields after ``dtype`` are its variant."""

    op: str  # "surrogate", "neuron:<neuron name>"
    kernel: str  # "spike", "backward", "forward"
    surrogate: str  # "" where no surrogate is inlined
    formula: tuple[str, tuple[str, ...]] | None
    dtype: str
    reset: str = ""
    parameters: str = ""
    learned: bool = False
    steps: int = 3
    broadcast: bool = False
    neurons: int = NEURONS[0]
    #: A neuron kernel's spec as plain data (:func:`equations`): workers rebuild it.
    neuron: tuple[Any, ...] | None = None

    @property
    def variant(self) -> str:
        """The variant fields that apply to this kernel, as ``name=value`` words."""
        words = []
        for field in fields(self)[5:]:
            value = getattr(self, field.name)
            if value not in ("", False, None) and field.name not in ("steps", "neurons", "neuron"):
                words.append(field.name if value is True else f"{field.name}={value}")
        words.append(f"n%16={self.neurons % 16}")
        return " ".join(words)

    def parsed_formula(self) -> Formula | None:
        return None if self.formula is None else parse(*self.formula)


def _formula(spec: SurrogateSpec) -> tuple[str, tuple[str, ...]] | None:
    formula = spec.parsed_formula()
    return None if formula is None else (formula.text, formula.params)


#: The values each variant field of a neuron kernel takes.
_AXES: dict[str, tuple[object, ...]] = {
    "reset": RESET_MODES,
    "parameters": PARAMETER_KINDS,
    "learned": (False, True),
    "broadcast": (False, True),
    "neurons": NEURONS,
}


def launch_cases(
    specs: Sequence[SurrogateSpec], full: bool = False, neuron_specs: Sequence[NeuronSpec] = ()
) -> list[LaunchCase]:
    """The launches to compile for every surrogate with a formula (plugins' included).

    Element-wise: every surrogate x dtype x broadcast ``grad_out`` (x neuron count, for the
    first surrogate or ``full``).  Then the fused neurons, :func:`neuron_cases` of
    ``neuron_specs`` (the CLI and CI pass every registered one, the built-in LIF, LI and
    CuBa-LIF that the LIF, LeakyIntegrator and SynapticLIF layers run included).
    """
    formulas = [(spec.name, _formula(spec)) for spec in specs if _formula(spec) is not None]
    cases: list[LaunchCase] = []
    for index, ((name, formula), dtype) in enumerate(itertools.product(formulas, DTYPES)):
        counts = NEURONS if full or index < len(DTYPES) else NEURONS[:1]
        for broadcast, count in itertools.product((False, True), counts):
            cases.append(LaunchCase("surrogate", "backward", name, formula, dtype,
                                    broadcast=broadcast, neurons=count))  # fmt: skip
    for dtype, count in itertools.product(DTYPES, NEURONS):
        cases.append(LaunchCase("surrogate", "spike", "", None, dtype, neurons=count))
    cases.extend(neuron_cases(specs, neuron_specs, full))
    every = (launch for case in cases for launch in (case, _forward_of(case)) if launch)
    return list(dict.fromkeys(every))  # in order, each once


#: The op of a neuron spec's generated kernels is this prefix and the neuron's name.
NEURON_OP = "neuron:"
#: The dtypes the neuron kernels take x in (the operator hands half inputs over as float32).
NEURON_DTYPES = ("float32", "float64")
#: The neuron whose kernels CI compiles with every surrogate, reset and variant.
_FULLY = "lif"


def equations(spec: NeuronSpec) -> tuple[Any, ...]:
    """A neuron spec as plain, picklable data (the compile workers rebuild it)."""
    return (spec.name, spec.states, spec.params, tuple(spec.update.items()), spec.fire,
            tuple(spec.reset.items()))  # fmt: skip


def neuron_cases(
    specs: Sequence[SurrogateSpec], neuron_specs: Sequence[NeuronSpec], full: bool = False
) -> list[LaunchCase]:
    """The launches of the kernels generated for ``neuron_specs`` (the CLI and CI pass every
    registered neuron, a plugin's included), backward and forward.

    Default (what CI compiles): every neuron x dtype in its largest variant (per-neuron
    learned parameters, the spec's own reset) with the first surrogate that has a formula;
    the LIF also with every surrogate, and each variant field changed one at a time
    (reset, parameter kind, learned, broadcast output gradient, neuron count).  ``full``:
    every neuron x surrogate x dtype x every variant.
    """
    formulas = [(spec.name, _formula(spec)) for spec in specs if _formula(spec) is not None]
    cases: list[LaunchCase] = []
    for neuron in neuron_specs:
        name, spiking = neuron.name, neuron.spiking
        chosen = formulas if full or name == _FULLY else formulas[:1]
        for index, ((surrogate, formula), dtype) in enumerate(
            itertools.product(chosen if spiking else [("", None)], NEURON_DTYPES)
        ):
            base = LaunchCase(NEURON_OP + name, "backward", surrogate, formula, dtype,
                              "subtract" if spiking else "", "per-neuron", True,
                              neuron=equations(neuron))  # fmt: skip
            if full:
                cases.extend(_every(base))
            elif name == _FULLY and index < len(NEURON_DTYPES):
                cases.extend(_one_at_a_time(base))
            else:
                cases.append(base)
    return cases


def _applies(case: LaunchCase, name: str) -> bool:
    return name != "reset" or case.reset != ""  # a readout has no reset


def _one_at_a_time(base: LaunchCase) -> Iterable[LaunchCase]:
    """``base`` and, for each variant field, ``base`` with each other value of it."""
    yield base
    for name, values in _AXES.items():
        if _applies(base, name):
            others = (value for value in values if value != getattr(base, name))
            yield from (replace(base, **{name: value}) for value in others)  # type: ignore[arg-type]


def _every(base: LaunchCase) -> Iterable[LaunchCase]:
    names = [name for name in _AXES if _applies(base, name)]
    for values in itertools.product(*(_AXES[name] for name in names)):
        yield replace(base, **dict(zip(names, values)))  # type: ignore[arg-type]


def _forward_of(case: LaunchCase) -> LaunchCase | None:
    """The forward launch of a fused backward case (the fields a forward has no say in
    normalised, so equal forwards are one case)."""
    if case.op == "surrogate" or case.kernel != "backward":
        return None
    return replace(case, kernel="forward", learned=False, steps=3, broadcast=False)


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
    else:
        _run_neuron(case, x, grad)


def _run_surrogate(case: LaunchCase, x: torch.Tensor, grad: torch.Tensor) -> None:
    from . import elementwise

    formula = case.parsed_formula()
    if case.kernel == "spike" or formula is None:
        elementwise.spike(x)
    else:
        elementwise.backward(formula, x, grad, tuple(1.0 for _ in formula.params))


def _run_neuron(case: LaunchCase, x: torch.Tensor, grad: torch.Tensor) -> None:
    from ...core.step_program import program_of
    from .neuron import TritonNeuron
    from .neuron_source import load_neuron_kernels

    assert case.neuron is not None, case
    name, states, params, update, fire, reset = case.neuron
    spec = NeuronSpec(name, states, params, dict(update), fire, dict(reset))
    spec = spec.with_reset(case.reset) if case.reset else spec
    program, formula = program_of(spec), case.parsed_formula()
    kernels = TritonNeuron(program, formula, load_neuron_kernels(program, formula))
    params = {p: _value(case.parameters, v, case.neurons, x.dtype) for p, v in spec.params}
    states = [torch.zeros_like(x[0]) for _ in spec.states]
    surrogate_params = [1.0] * len(formula.params) if formula else []
    if case.kernel == "forward":
        kernels.forward(x, states, params, surrogate_params)
    else:
        kernels.backward(grad, states, x, states, params, surrogate_params, case.learned)
