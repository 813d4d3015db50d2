"""Every generated C kernel built for other targets and checked against the host build.

A :class:`Toolchain` is a compiler, the machine it builds for and how to run that machine's
programs (``qemu-aarch64`` for aarch64).  :func:`build_all` builds kernel libraries (each
surrogate's element-wise kernels; the generated neuron kernels of :func:`neuron_kernels`)
with the project's own command for that machine (:func:`build.compiler_command`: its
flags, its exp, its build attempts, in order);
:func:`run_driver` runs ``tests/native/conformance.c`` built for the same machine on one
library; :func:`differences` compares two runs: ``exact`` lines bit for bit, ``ulp`` lines
within :data:`GRADIENT_ULPS` where the kernel calls a C-library transcendental function
other than the exps both builds take alike, bit for bit where it does not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sc_neurocore.core.neuron_spec import NeuronSpec
from sc_neurocore.core.step_program import StepProgram, program_of
from sc_neurocore.kernels.native import build as native_build
from sc_neurocore.kernels.native import elementwise
from sc_neurocore.kernels.native.isa import ENV_EXP, choose_target
from sc_neurocore.kernels.native.neuron import DTYPES, library_source
from sc_neurocore.kernels.native.neuron_source import placeholders
from sc_neurocore.testing.neurons import resets_of

DRIVER = Path(__file__).with_name("native") / "conformance.c"
NEURON_DRIVER = DRIVER.with_name("neuron_conformance.c")
AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"
#: The bound docs/paths.md states for gradients between targets (compilers, machines) that
#: call the same exp, in units in the last place of the output's largest finite magnitude:
#: the only operations that may round differently are the C library's other transcendental
#: functions (atan, cosh, erf, ...) and what a gradient sums from them.  A kernel that calls
#: none of them must be bit-identical (:func:`bound_of`).
GRADIENT_ULPS = 8
_environment_lock = threading.Lock()


@dataclass(frozen=True)
class Toolchain:
    name: str
    compiler: tuple[str, ...]
    machine: str
    runner: tuple[str, ...] = ()
    #: The CPU flags the build assumes (None: this machine's).
    cpu_flags: frozenset[str] | None = None
    #: SC_NEUROCORE_NATIVE_EXP for its builds ('': the environment's).
    exp: str = ""

    @contextlib.contextmanager
    def _exp_choice(self) -> Iterator[None]:
        with _environment_lock:
            saved = os.environ.get(ENV_EXP)
            if self.exp:
                os.environ[ENV_EXP] = self.exp
            try:
                yield
            finally:
                if saved is None:
                    os.environ.pop(ENV_EXP, None)
                else:
                    os.environ[ENV_EXP] = saved

    def command(self, options: native_build.BuildOptions) -> list[str]:
        """The project's build command for this toolchain's machine."""
        with self._exp_choice():
            command = native_build.compiler_command(
                options, list(self.compiler), self.machine, self.cpu_flags
            )
        assert command is not None
        return command

    def exps(self, options: native_build.BuildOptions) -> tuple[bool, bool]:
        """Whether a build with ``options`` calls the kernels' own exp, and their own exp of
        a non-positive argument (isa.OWN_EXP, isa.OWN_EXP_NONPOSITIVE)."""
        with self._exp_choice():
            target = choose_target(True, options.vector_math, self.machine, self.cpu_flags)
        return target.own_exp, target.own_exp_nonpositive

    def missing(self) -> str:
        """'' if the compiler and runner are installed, else what is missing."""
        for program in (self.compiler[0], *self.runner[:1]):
            if shutil.which(program) is None:
                return f"{program} is not installed (the {self.name} build needs it)"
        return ""


HOST = Toolchain("x86_64 gcc", ("gcc",), "x86_64")
AARCH64 = Toolchain(
    "aarch64 gcc",
    ("aarch64-linux-gnu-gcc",),
    "aarch64",
    ("qemu-aarch64", "-L", AARCH64_SYSROOT),
    frozenset(),
)
CLANG = Toolchain("x86_64 clang", ("clang",), "x86_64")
#: The host build with the exp of the aarch64 and clang builds: what they are compared with.
HOST_OWN_EXP = dataclasses.replace(HOST, name="x86_64 gcc, own exp", exp="own")


@dataclass(frozen=True)
class Surrogate:
    """What a C kernel takes of a surrogate spec (one registered here or in the plugin env)."""

    name: str
    param_names: tuple[str, ...]
    defaults: tuple[float, ...]
    c_grad: str


@dataclass(frozen=True)
class Kernel:
    """One kernel library: its family (the driver's first argument), name, source per build,
    the C-library transcendental functions it calls, and the driver's arguments after the
    library."""

    family: str
    name: str
    source_for: Callable[[bool], str]  # vector_math -> source
    calls: frozenset[str]
    arguments: tuple[str, ...]
    #: Those a neuron's step program calls (its states carry their rounding: docs/paths.md).
    program_calls: frozenset[str] = frozenset()

    @property
    def compute_bound(self) -> bool:
        """Built for the arithmetic-bound target (the kernel calls vector math)."""
        return bool(self.calls)


#: A call of one of the C library's transcendental functions (build.VECTOR_FUNCTIONS).
_CALL = re.compile(
    r"\b(" + "|".join((*native_build.VECTOR_FUNCTIONS, native_build.EXP_NONPOSITIVE)) + r")\s*\("
)
#: The exps whose implementation each target chooses (Toolchain.exps); the host is built
#: both ways (SC_NEUROCORE_NATIVE_EXP), so every comparison is between builds that call the
#: same ones.
EXPS = frozenset({"exp", native_build.EXP_NONPOSITIVE})


def transcendentals(c_text: str) -> frozenset[str]:
    """The C-library transcendental functions ``c_text`` calls (as build.calls_vector_math
    finds them)."""
    return frozenset(_CALL.findall(c_text))


def _numbers(values: Iterable[float]) -> tuple[str, ...]:
    return tuple(repr(float(v)) for v in values)


#: The element-wise template: family -> (source, built per surrogate, instantiated for the
#: storage dtypes bf16 and f16 too, as their loaders build them).
TEMPLATES = {
    "elementwise": (elementwise.SOURCE, True, False),
}


def kernels(surrogates: Sequence[Surrogate]) -> list[Kernel]:
    """The libraries of the element-wise template, one per surrogate."""
    found = []
    for family, (source, per_surrogate, storage) in TEMPLATES.items():
        for surrogate in surrogates if per_surrogate else (Surrogate(family, (), (), "0"),):
            found.append(
                Kernel(
                    family,
                    surrogate.name,
                    lambda vm, s=source, g=surrogate, t=storage: native_build.fill_template(
                        s, g.param_names, g.c_grad, vm, storage=t
                    ),
                    transcendentals(surrogate.c_grad),
                    _numbers(surrogate.defaults),
                )
            )
    return found


def neuron_kernel(
    program: StepProgram, surrogate: Surrogate, per_neuron: tuple[bool, ...], dtype: torch.dtype
) -> Kernel:
    """The library the loader builds for one (program, surrogate, parameter layout, dtype),
    with the driver's arguments: its dtype, states, layout, whether it spikes, whether its
    states are compared bit for bit (its step program calls no transcendental function but
    the :data:`EXPS`), the program's parameter defaults, the surrogate's."""
    source_for, bound = library_source(program, surrogate, per_neuron, dtype)  # type: ignore[arg-type]
    text = placeholders(program, per_neuron)
    own = transcendentals(" ".join(text.values()))
    calls = transcendentals(
        " ".join(text.values()) + (" " + surrogate.c_grad if program.spiking else "")
    )
    assert bound == bool(calls), (program.spec.name, surrogate.name)  # the loader's own decision
    suffix = DTYPES[dtype][1]
    layout = "".join("1" if p else "0" for p in per_neuron)
    arguments = (
        suffix,
        str(len(program.states)),
        layout,
        str(int(program.spiking)),
        str(int(own <= EXPS)),
        *_numbers(program.spec.defaults[p] for p in program.params),
        *(_numbers(surrogate.defaults) if program.spiking else ()),
    )
    name = (
        f"{program.spec.name}-{surrogate.name}-{'a' if any(per_neuron) else 's'}{layout}-{suffix}"
    )
    return Kernel("neuron", name, source_for, calls, arguments, own)


#: The surrogate every neuron program is built with: the layers' default, rational (its
#: gradients are exact across targets, so a program's backward is checked bit for bit).
REFERENCE_SURROGATE = "atan"
#: The neuron every surrogate is built with.
REFERENCE_NEURON = "lif"


@dataclass(frozen=True)
class NeuronProgram:
    """One registered neuron with one of its resets, as a step program."""

    neuron: str
    reset: str
    program: StepProgram


def neuron_programs(specs: Iterable[NeuronSpec]) -> list[NeuronProgram]:
    """Every spec with every reset it has (a readout has none to replace)."""
    return [
        NeuronProgram(spec.name, reset, program_of(spec.with_reset(reset)))
        for spec in specs
        for reset in resets_of(spec)
    ]


def neuron_kernels(
    programs: Sequence[NeuronProgram], surrogates: Sequence[Surrogate]
) -> list[Kernel]:
    """The generated neuron libraries checked across targets: of the cross product program x
    surrogate x parameter layout x dtype, a subset that meets every code path of the
    generator (docs/paths.md says why):

    * every program (neuron x reset) with :data:`REFERENCE_SURROGATE` in float32, every
      parameter a scalar (the compounds of scalars computed in double, rounded once);
    * every neuron with its own reset also in float64, and in float32 with every parameter
      a per-neuron array (a reset replaces one expression and may add ``v_reset``: the
      :data:`REFERENCE_NEURON` with the zero reset takes it as an array);
    * every surrogate with :data:`REFERENCE_NEURON` in float32 and float64: a surrogate's C
      reaches a neuron kernel only as g(fire), in the compute type;
    * bfloat16 and float16 (stored as 16 bits, computed in float32: only the loads and
      stores of the (T, n) tensors differ from float32) with :data:`REFERENCE_NEURON` and
      :data:`REFERENCE_SURROGATE` (spikes stored) and with every readout (a state stored).
    """
    by_name = {s.name: s for s in surrogates}
    reference = by_name[REFERENCE_SURROGATE]
    found: dict[str, Kernel] = {}

    def add(program: StepProgram, surrogate: Surrogate, arrays: bool, dtype: torch.dtype) -> None:
        kernel = neuron_kernel(program, surrogate, (arrays,) * len(program.params), dtype)
        found.setdefault(kernel.name, kernel)

    f32, f64, halves = torch.float32, torch.float64, (torch.bfloat16, torch.float16)
    for entry in programs:
        program, own = entry.program, entry.reset == "subtract"
        reference_neuron = entry.neuron == REFERENCE_NEURON
        add(program, reference, False, f32)
        if own:
            add(program, reference, False, f64)
        if own or (reference_neuron and entry.reset == "zero"):
            add(program, reference, True, f32)
        if (own and reference_neuron) or not program.spiking:
            for dtype in halves:
                add(program, reference, False, dtype)
    lif = next(
        p.program for p in programs if p.neuron == REFERENCE_NEURON and p.reset == "subtract"
    )
    for surrogate in surrogates:
        add(lif, surrogate, False, f32)
        add(lif, surrogate, False, f64)
    return list(found.values())


def _compile(command: list[str], source: str, directory: Path, stem: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    source_file = directory / f"{stem}.c"
    source_file.write_text(source)
    target = directory / f"{stem}.so"
    argv = [
        str(source_file) if a == "SOURCE" else str(target) if a == "TARGET" else a for a in command
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}\n{result.stderr[-2000:]}")
    return target


def build(
    toolchain: Toolchain,
    kernel: Kernel,
    directory: Path,
    attempts: tuple[native_build.BuildOptions, ...] = native_build.BUILD_ATTEMPTS,
    extra_flags: tuple[str, ...] = (),
) -> tuple[Path, native_build.BuildOptions]:
    """The first of ``attempts`` that builds, as the loader tries them; raises with every
    attempt's error if none does."""
    errors = []
    for attempt in attempts:
        options = dataclasses.replace(attempt, compute_bound=kernel.compute_bound)
        command = toolchain.command(options)
        command[command.index("SOURCE") : command.index("SOURCE")] = list(extra_flags)
        stem = f"{kernel.family}_{kernel.name}_{options.vector_math:d}{options.openmp:d}"
        try:
            return _compile(
                command, kernel.source_for(options.vector_math), directory, stem
            ), options
        except RuntimeError as error:
            errors.append(str(error))
    raise RuntimeError(
        f"{toolchain.name}: no build of {kernel.family}_{kernel.name}:\n" + "\n".join(errors)
    )


def build_all(
    toolchain: Toolchain, found: list[Kernel], directory: Path, extra_flags: tuple[str, ...] = ()
) -> tuple[list[Path], native_build.BuildOptions]:
    """Every kernel built in parallel with the first attempt that builds the first kernel
    (what the loader would settle on), and that attempt."""
    directory.mkdir(parents=True, exist_ok=True)
    _, options = build(toolchain, found[0], directory, extra_flags=extra_flags)
    attempts = (dataclasses.replace(options, compute_bound=False),)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        built = list(
            pool.map(lambda k: build(toolchain, k, directory, attempts, extra_flags)[0], found)
        )
    return built, options


def c_program(
    compiler: Sequence[str],
    target: Path,
    pieces: Sequence[Path],
    flags: Sequence[str],
    optional: Sequence[str] = (),
) -> Path:
    """A test driver: the math headers and ``pieces`` pasted into one source, compiled with
    ``flags`` (and ``optional`` ones where the compiler takes them) into ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.with_suffix(".c")
    text = "#include <math.h>\n#include <stdint.h>\n" + "".join(p.read_text() for p in pieces)
    source.write_text(text)
    argv = [*compiler, "-std=gnu11", *flags, str(source), "-o", str(target), "-lm"]
    if optional:
        built = subprocess.run([*argv, *optional], capture_output=True, text=True, timeout=300)
        if built.returncode == 0:
            return target
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=300)
    return target


def build_driver(toolchain: Toolchain, directory: Path) -> Path:
    """The conformance driver for ``toolchain``'s machine, with half.c's conversions."""
    pieces = (native_build.HALF, DRIVER, NEURON_DRIVER)
    return c_program(toolchain.compiler, directory / "conformance", pieces, ["-O1", "-ldl"])


def run_driver(toolchain: Toolchain, driver: Path, kernel: Kernel, library: Path) -> dict[str, str]:
    """``label -> hex bytes`` of every output the driver prints for one library."""
    argv = [
        *toolchain.runner,
        str(driver),
        kernel.family,
        str(library),
        *kernel.arguments,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
    lines = (line.split(" ", 1) for line in result.stdout.splitlines() if line)
    return {label: data for label, data in lines}


def decode(data: str, dtype: str) -> tuple[np.ndarray, float]:
    """An output line's values (bf16 widened to float32) and the ratio of its format's ulp to
    their array type's (2^16 for bf16, else 1)."""
    raw = bytes.fromhex(data)
    if dtype == "bf16":
        widened = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
        return widened.view(np.float32), float(1 << 16)
    types = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
    return np.frombuffer(raw, types[dtype]), 1.0


def ulps(a: np.ndarray, b: np.ndarray, coarser: float = 1.0) -> float:
    """The largest difference between two arrays in units in the last place of the array's
    largest finite magnitude (the scale of a gradient's terms: a sum that cancels is not
    judged by the ulp of its small result), ``coarser`` times the array type's ulp;
    infinite where their non-finite values differ."""
    finite = np.isfinite(a) & np.isfinite(b)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if not np.all(finite | same):
        return float("inf")
    if not finite.any():
        return 0.0
    scale = max(float(np.abs(a[finite]).max()), float(np.abs(b[finite]).max()))
    unit = float(np.spacing(a.dtype.type(scale))) * coarser if scale else 1.0
    return float(np.abs(a[finite].astype(np.float64) - b[finite]).max() / unit)


def bound_of(kernel: Kernel) -> float:
    """The ulp bound of ``kernel``'s ``ulp`` lines between two builds that call the same exp:
    0 unless it calls another C-library transcendental function."""
    return GRADIENT_ULPS if kernel.calls - EXPS else 0


def differences(
    reference: dict[str, str], other: dict[str, str], what: str, bound: float = GRADIENT_ULPS
) -> list[str]:
    """Every line of ``other`` that differs from ``reference`` beyond what its kind allows
    (``ulp`` lines: ``bound`` ulp)."""
    found = []
    if reference.keys() != other.keys():
        found.append(f"{what}: different outputs {sorted(reference.keys() ^ other.keys())}")
    for label in sorted(reference.keys() & other.keys()):
        kind, _, dtype, *_ = label.split(":")
        if kind == "exact":
            if reference[label] != other[label]:
                found.append(f"{what}: {label} is not bit-identical")
            continue
        a, coarser = decode(reference[label], dtype)
        b, _ = decode(other[label], dtype)
        worst = ulps(a, b, coarser)
        if worst > bound:
            found.append(f"{what}: {label} differs by {worst:.0f} ulp (bound {bound})")
    return found
