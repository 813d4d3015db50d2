"""Every generated C kernel built for other targets and checked against the host build.

A :class:`Toolchain` is a compiler, the machine it builds for and how to run that machine's
programs (``qemu-aarch64`` for aarch64).  :func:`build_all` builds every kernel library
(each surrogate's fused LIF and element-wise kernels, the leaky integrator; every dtype
the templates are instantiated for: float32, float64, and bfloat16/float16 for the fused
ones) with the project's own command for that machine (:func:`build.compiler_command`: its
flags, its exp, its build attempts, in order);
:func:`run_driver` runs ``tests/native/conformance.c`` built for the same machine on one
library; :func:`differences` compares two runs: ``exact`` lines bit for bit, ``ulp`` lines
within :data:`GRADIENT_ULPS`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sc_neurocore.kernels.native import build as native_build
from sc_neurocore.kernels.native import elementwise, leaky, lif

DRIVER = Path(__file__).with_name("native") / "conformance.c"
AARCH64_SYSROOT = "/usr/aarch64-linux-gnu"
#: The bound docs/paths.md states for gradients between targets (compilers, machines), in
#: units in the last place of the output's largest finite magnitude: the only operations
#: that may round differently are the C library's transcendental functions (atan, cosh,
#: erf, ... and exp where a target takes libmvec's) and what a gradient sums from them.
GRADIENT_ULPS = 8


@dataclass(frozen=True)
class Toolchain:
    name: str
    compiler: tuple[str, ...]
    machine: str
    runner: tuple[str, ...] = ()
    #: The CPU flags the build assumes (None: this machine's).
    cpu_flags: frozenset[str] | None = None

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


@dataclass(frozen=True)
class Kernel:
    """One kernel library: its family (the driver's argument), name and source per build."""

    family: str
    name: str
    source_for: Callable[[bool], str]  # vector_math -> source
    compute_bound: bool
    params: tuple[float, ...]


def kernels(specs: Iterable[tuple[str, tuple[str, ...], tuple[float, ...], str]]) -> list[Kernel]:
    """The libraries of every ``(name, param_names, defaults, c_grad)``, and the leaky one."""
    found = [
        Kernel(
            "leaky",
            "leaky",
            lambda vm: native_build.fill_template(leaky.SOURCE, (), "0", vm, storage=True),
            False,
            (),
        )
    ]
    for name, names, defaults, c_grad in specs:
        bound = native_build.calls_vector_math(c_grad)
        # the fused templates take the storage dtypes (bf16, f16) too, as lif.py builds them
        for family, source, storage in (
            ("lif", lif.SOURCE, True),
            ("elementwise", elementwise.SOURCE, False),
        ):
            found.append(
                Kernel(
                    family,
                    name,
                    lambda vm, s=source, n=names, c=c_grad, t=storage: native_build.fill_template(
                        s, n, c, vm, storage=t
                    ),
                    bound,
                    tuple(defaults),
                )
            )
    return found


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
        command = native_build.compiler_command(
            options, list(toolchain.compiler), toolchain.machine, toolchain.cpu_flags
        )
        assert command is not None
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
    """Every kernel built in parallel with the first attempt that builds the leaky kernel
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
    pieces = (native_build.HALF, DRIVER)
    return c_program(toolchain.compiler, directory / "conformance", pieces, ["-O1", "-ldl"])


def run_driver(toolchain: Toolchain, driver: Path, kernel: Kernel, library: Path) -> dict[str, str]:
    """``label -> hex bytes`` of every output the driver prints for one library."""
    argv = [
        *toolchain.runner,
        str(driver),
        kernel.family,
        str(library),
        *(repr(float(p)) for p in kernel.params),
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


def differences(reference: dict[str, str], other: dict[str, str], what: str) -> list[str]:
    """Every line of ``other`` that differs from ``reference`` beyond what its kind allows."""
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
        if worst > GRADIENT_ULPS:
            found.append(f"{what}: {label} differs by {worst:.0f} ulp (bound {GRADIENT_ULPS})")
    return found
