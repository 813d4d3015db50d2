"""Compiling generated C kernels into a per-user cache and loading them with ctypes.

Every compiled kernel family of sc-neurocore (the fused LIF, the element-wise surrogate
kernels) is a C template with its surrogate's expression filled in, compiled with the
system C compiler (no Python or torch headers: a build takes a second or two) and keyed
by a hash of the source, the compiler command, the compiler's identity (its ``--version``
output), the machine and the C library, so it is built once per machine and surrogate.
What makes the cache safe to load from (ownership, modes, hashes, the build lock) lives in
:mod:`.cache`.  :func:`load_library` tries :data:`BUILD_ATTEMPTS` from the fastest build down
to plain C and returns the loaded library or the reason there is none.
"""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import logging
import os
import platform
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from ...core.forksafe import after_fork_in_child
from .cache import (
    ENV_CACHE,
    build_directory,
    build_lock,
    cache_dir,
    load_verified,
    record_hash,
    scratch_directory,
    verify,
)
from .cache import warn_fallback as _warn_fallback
from .isa import DEFAULT_ISA, ENV_ISA, ISA_CHOICES, ISA_FLAGS, choose_target

__all__ = [
    "BUILD_ATTEMPTS",
    "ENV_CACHE",
    "DEFAULT_ISA",
    "ENV_ISA",
    "ISA_CHOICES",
    "ISA_FLAGS",
    "BuildOptions",
    "build_library",
    "cache_dir",
    "VECTOR_FUNCTIONS",
    "EXP_NONPOSITIVE",
    "calls_vector_math",
    "compiler_command",
    "fill_template",
    "load_library",
    "KernelTable",
]

_log = logging.getLogger(__name__)

Key = TypeVar("Key")
Loaded = TypeVar("Loaded")


class KernelTable(Generic[Key, Loaded]):
    """Loaded kernels (or the reason there are none) by key, each loaded once per process.

    The lookup of a loaded key takes no lock; a miss loads under the table's lock, which
    is never the registry's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Key, Loaded | str] = {}
        after_fork_in_child(self, KernelTable._after_fork, "kernel table")

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # a load in another thread at the fork never ends here

    def get(self, key: Key, load: Callable[[], Loaded | str]) -> Loaded | str:
        found = self._entries.get(key)
        if found is None:
            with self._lock:
                found = self._entries.get(key)
                if found is None:
                    found = self._entries[key] = load()
        return found

    def clear(self) -> None:
        """Forget every entry: the next lookup loads again (from the verified cache)."""
        with self._lock:
            self._entries.clear()


#: The includes and the thread pool every template starts with (its SC_PRELUDE line).
PRELUDE = Path(__file__).with_name("prelude.c")
#: The kernels' own exp (its SC_VECTOR_EXP line), used where isa.OWN_EXP says.
VECTOR_EXP = Path(__file__).with_name("vexp.c")
#: torch dtype name -> (C type, symbol suffix); the templates are instantiated per entry.
C_TYPES = {"float32": ("float", "f32"), "float64": ("double", "f64")}
#: libm functions whose libmvec vector forms let the compiler vectorise an expression.
VECTOR_FUNCTIONS = (
    "exp",
    "expm1",
    "log",
    "log1p",
    "cos",
    "sin",
    "cosh",
    "sinh",
    "tanh",
    "erf",
    "erfc",
    "atan",
    "pow",
)


def _vector_math_declarations() -> str:
    lines = []
    for name in VECTOR_FUNCTIONS:
        arity = 2 if name == "pow" else 1
        args_d, args_f = ", ".join(["double"] * arity), ", ".join(["float"] * arity)
        lines.append(f'__attribute__((simd("notinbranch"))) double {name}({args_d});')
        lines.append(f'__attribute__((simd("notinbranch"))) float {name}f({args_f});')
    return "\n".join(lines)


#: The templates that read and write bfloat16/float16 (``storage=True``): torch dtype name ->
#: (C compute type, C storage type, symbol suffix); half.c supplies the conversions.
STORAGE_TYPES = {
    "float32": ("float", "float", "f32"),
    "float64": ("double", "double", "f64"),
    "bfloat16": ("float", "uint16_t", "bf16"),
    "float16": ("float", "uint16_t", "f16"),
}
HALF = Path(__file__).with_name("half.c")


def fill_template(
    template: Path,
    param_names: tuple[str, ...],
    expression: str,
    vector_math: bool,
    storage: bool = False,
    placeholders: Mapping[str, str] | None = None,
    dtypes: Collection[str] | None = None,
) -> str:
    """``template`` with the prelude, the parameters and ``expression`` filled in.

    The part after the ``@@BODY@@`` comment is repeated once per C type of
    :data:`C_TYPES` (of :data:`STORAGE_TYPES` with ``storage``, which also replaces
    ``storage_t``), with ``scalar_t`` and ``DTYPE`` replaced; ``SURROGATE_PARAMS``
    declares the parameters as ``scalar_t`` locals read from ``sc_params`` and
    ``SURROGATE_GRAD`` becomes ``expression`` (in a template with ``SURROGATE_CALLS_BLOCK``,
    its exp calls go there and to ``SURROGATE_CALLS_READ``; in one with
    ``SURROGATE_CALL_COUNT``, to the rows of :func:`_calls_rows`: :func:`exp_calls`); each of
    ``placeholders`` (a generated
    template's own names) is replaced by its text everywhere first.  ``dtypes`` (torch
    dtype names) keeps only those instances: a library per dtype compiles in a fraction
    of the time of all four.
    """
    text = template.read_text()
    for name, value in (placeholders or {}).items():
        text = text.replace(name, value)
    head, body = text.split("/* @@BODY@@", 1)
    body = body.split("*/", 1)[1]
    params = " ".join(
        f"const scalar_t {name} = (scalar_t)sc_params[{index}];"
        for index, name in enumerate(param_names)
    )
    if "SURROGATE_CALLS_BLOCK" in body:
        for name, value in _calls_block(expression).items():
            body = body.replace(name, value)
    if "SURROGATE_CALL_COUNT" in text:
        rows = _calls_rows(expression)
        for name, value in rows.items():
            body = body.replace(name, value)
        head = head.replace("SURROGATE_CALL_COUNT", rows["SURROGATE_CALL_COUNT"])
    body = body.replace("SURROGATE_PARAMS", params).replace("SURROGATE_GRAD", expression)
    # the block exp's vector code needs <immintrin.h>, whose parsing costs a build 0.3-0.4 s:
    # only a source that calls it gets it (the scalar fallback has the same bits)
    blocks = "#define SC_EXP_BLOCKS 1\n" if EXP_NONPOSITIVE + "_block(" in body else ""
    prelude = (
        PRELUDE.read_text()
        .replace("VECTOR_MATH", _vector_math_declarations() if vector_math else "")
        .replace("SC_VECTOR_EXP", blocks + VECTOR_EXP.read_text())
    )
    if not storage:
        parts = [head.replace("SC_PRELUDE", prelude)]
        for c_type, suffix in C_TYPES.values():
            parts.append(body.replace("scalar_t", c_type).replace("DTYPE", suffix))
        return "\n".join(parts)
    parts = [head.replace("SC_PRELUDE", prelude + HALF.read_text())]
    for dtype, (compute, stored, suffix) in STORAGE_TYPES.items():
        if dtypes is not None and dtype not in dtypes:
            continue
        instance = body.replace("storage_t", stored).replace("scalar_t", compute)
        parts.append(instance.replace("DTYPE", suffix))
    return "\n".join(parts)


#: The exp of a non-positive argument (vexp.c), which the formulas' C emits for such calls.
EXP_NONPOSITIVE = "sc_exp_nonpositive"
#: A call of one of :data:`VECTOR_FUNCTIONS` (``exp(``, ``cosh (``, ...) or of
#: :data:`EXP_NONPOSITIVE` in an expression.
_VECTOR_CALL = re.compile(r"\b(?:" + "|".join((*VECTOR_FUNCTIONS, EXP_NONPOSITIVE)) + r")\s*\(")


_EXP_CALL = re.compile(r"\b(?:exp|" + EXP_NONPOSITIVE + r")\s*\(")


def exp_calls(expression: str) -> tuple[tuple[str, ...], str]:
    """The distinct outermost ``exp(...)`` (and :data:`EXP_NONPOSITIVE`) calls of a C
    expression, and the expression with the ``i``-th replaced by ``sc_pre<i>``: the same
    operations in two parts, for a template that computes the calls over a block of elements
    first (``elementwise.c``)."""
    calls: list[str] = []
    position = 0
    while match := _EXP_CALL.search(expression, position):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(expression)):
            depth += {"(": 1, ")": -1}.get(expression[end], 0)
            if depth == 0:
                break
        if depth:  # unbalanced parentheses (a hand-written c_grad): one loop, as written
            return (), expression
        call = expression[match.start() : end + 1]
        if call not in calls:
            calls.append(call)
        position = end + 1
    rest = expression
    for index, call in enumerate(calls):  # whole calls only (not the tail of `myexp(x)`)
        rest = re.sub(r"(?<![A-Za-z0-9_])" + re.escape(call), f"sc_pre{index}", rest)
    return tuple(calls), rest


def _nonpositive_argument(call: str) -> str | None:
    """The argument of a whole ``sc_exp_nonpositive(...)`` call (one of :func:`exp_calls`),
    else None: a template writes such arguments over a block and calls
    ``sc_exp_nonpositive_block`` on them (vexp.c), which has the same bits per element."""
    prefix = EXP_NONPOSITIVE + "("
    return call[len(prefix) : -1] if call.startswith(prefix) and call.endswith(")") else None


def _block_call(call: str, destination: str, block: str) -> tuple[str, str]:
    """(the statement storing ``call``'s value, or its argument, at ``destination``; the
    statement applying the block exp to ``block`` afterwards, or "")."""
    argument = _nonpositive_argument(call)
    if argument is None:
        return f"{destination} = (scalar_t)({call});", ""
    return f"{destination} = (scalar_t)({argument});", f"sc_exp_nonpositive_block({block});"


def _calls_block(expression: str) -> dict[str, str]:
    """``SURROGATE_CALLS_BLOCK`` (the block loop of each exp call), ``SURROGATE_CALLS_READ``
    (their values read back) and ``SURROGATE_GRAD`` (the rest) of ``expression``."""
    calls, rest = exp_calls(expression)
    parts = []
    for k, call in enumerate(calls):
        store, finish = _block_call(call, f"sc_block{k}[i - start]", f"sc_block{k}, end - start")
        parts.append(
            f"scalar_t sc_block{k}[SC_BLOCK] __attribute__((aligned(64))); "
            f"for (int64_t i = start; i < end; i++) {{ const scalar_t x = xs[i]; {store} }} "
            + finish
        )
    block = " ".join(parts)
    read = " ".join(
        f"const scalar_t sc_pre{k} = sc_block{k}[i - start];" for k in range(len(calls))
    )
    return {"SURROGATE_CALLS_BLOCK": block, "SURROGATE_CALLS_READ": read, "SURROGATE_GRAD": rest}


def _calls_rows(expression: str) -> dict[str, str]:
    """``SURROGATE_CALL_COUNT``, ``SURROGATE_CALLS_STORE`` (each exp call of ``expression``
    at ``x`` into ``calls[k * stride]``, or its argument where ``SURROGATE_CALLS_FINISH``
    then applies the block exp to the block's row), ``SURROGATE_CALLS_LOAD`` (read back as
    ``sc_pre<k>``) and ``SURROGATE_GRAD`` (the rest): a template that records the calls in
    one loop and evaluates the rest in another (``neuron.c``)."""
    calls, rest = exp_calls(expression)
    parts = [
        _block_call(call, f"calls[{k} * stride]", f"callrows + {k} * chunk + b, e - b")
        for k, call in enumerate(calls)
    ]
    stores, finishes = [store for store, _ in parts], [finish for _, finish in parts]
    load = " ".join(f"const scalar_t sc_pre{k} = calls[{k} * stride];" for k in range(len(calls)))
    return {
        "SURROGATE_CALL_COUNT": str(len(calls)),
        "SURROGATE_CALLS_STORE": " ".join(stores),
        "SURROGATE_CALLS_FINISH": " ".join(finishes),
        "SURROGATE_CALLS_LOAD": load,
        "SURROGATE_GRAD": rest,
    }


def calls_vector_math(expression: str) -> bool:
    """Whether a C expression calls a libm function that has a vector form, or the exp of a
    non-positive argument (compute-bound)."""
    return _VECTOR_CALL.search(expression) is not None


def _cpu_flags(compute_bound: bool = False) -> list[str]:
    """This machine's target flags for a kernel (see :func:`.isa.choose_target`)."""
    return list(choose_target(compute_bound).flags)


@dataclass(frozen=True)
class BuildOptions:
    """What a build links against; tried from the fastest down to plain C."""

    vector_math: bool  # glibc's libmvec: vectorised exp, cosh, ... in the expression
    openmp: bool  # run on the process's (torch's) OpenMP pool instead of new pthreads
    compute_bound: bool = False  # the expression calls vector math: widest extension (auto)


BUILD_ATTEMPTS = (BuildOptions(True, True), BuildOptions(False, True), BuildOptions(False, False))


def _compiler() -> list[str] | None:
    """``$CC`` split as a shell would (``CC="ccache gcc"``), else ``cc``; None if not found."""
    try:
        argv = shlex.split(os.environ.get("CC") or "cc")
    except ValueError:
        return None
    if not argv or shutil.which(argv[0]) is None:
        return None
    return argv


@lru_cache(maxsize=16)
def compiler_identity(compiler: tuple[str, ...]) -> str:
    """What ``<compiler> --version`` prints: a compiler upgrade changes the cache key."""
    try:
        result = subprocess.run(
            [*compiler, "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"unknown ({error})"
    return (result.stdout or result.stderr).strip()


def compiler_command(
    options: BuildOptions,
    compiler: list[str] | None = None,
    machine: str | None = None,
    cpu_flags: frozenset[str] | None = None,
) -> list[str] | None:
    """The command of one build (``SOURCE`` and ``TARGET`` to be filled in), with the target
    flags of :func:`.isa.choose_target`; by default for this machine with :func:`_compiler`
    (None if there is none), else for ``machine`` with ``compiler`` (the cross builds)."""
    compiler = compiler or _compiler()
    if compiler is None:
        return None
    target = choose_target(options.compute_bound, options.vector_math, machine, cpu_flags)
    # fp-contract=off: only the explicit fma() calls fuse, exactly as torch's kernels do;
    # no-trapping-math lets the comparisons vectorise.
    command = [
        *compiler,
        "-std=gnu11",
        "-O3",
        "-fPIC",
        "-shared",
        "-pthread",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-ffp-contract=off",
        *(["-fopenmp"] if options.openmp else []),
        *target.compiler_flags(),
    ]
    if options.vector_math:  # -z defs: a libmvec without some function fails here, not at load
        return [*command, "-Wl,-z,defs", "SOURCE", "-o", "TARGET", "-lmvec", "-lm"]
    return [*command, "SOURCE", "-o", "TARGET", "-lm"]


def cache_key(source: str, command: list[str]) -> str:
    """The hash naming a build: source, command, compiler identity, machine, C library."""
    compiler = tuple(command[: command.index("-std=gnu11")])
    parts = [
        source,
        *command,
        compiler_identity(compiler),
        platform.machine(),
        platform.system(),
        " ".join(platform.libc_ver()),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _is_valid(target: Path) -> bool:
    try:
        os.close(verify(target))
    except (OSError, ValueError) as error:
        if os.path.lexists(target):
            _log.warning("rebuilding %s: %s", target, error)
        return False
    return True


def build_library(stem: str, source: str, options: BuildOptions) -> Path:
    """Compile ``source`` (or find it verified in the cache) as ``<stem>_<hash>.so``.

    Under the build lock: a library whose recorded SHA-256 matches is reused; anything
    else at that name (a foreign file, a symlink, a truncated build) is replaced.  A
    compiler that refused this exact build (same key: source, command, compiler identity)
    is not asked again: its message is kept beside the library's name and raised from there,
    so a fallback attempt costs one failed compile per machine, not one per process (clang
    without an OpenMP runtime refused the first two attempts of every kernel at every start).
    """
    command = compiler_command(options)
    if command is None:
        raise RuntimeError("no C compiler found (set CC or install cc)")
    directory = cache_dir()
    target = directory / f"{stem}_{cache_key(source, command)}.so"
    try:  # verified needs no lock: a read-only cache serves its kernels
        os.close(verify(target))
        return target
    except (OSError, ValueError):
        pass
    target = build_directory(directory) / target.name
    directory = target.parent
    with build_lock(directory, target.name):
        if _is_valid(target):
            return target
        refused = _refusal(target)
        if refused:
            raise RuntimeError(refused)
        try:
            _compile(stem, source, command, target)
        except RuntimeError as error:
            _record_refusal(target, str(error))
            raise
    return target


def _refusal_file(target: Path) -> Path:
    return target.with_name(target.name + ".refused")


def _refusal(target: Path) -> str:
    """The compiler's recorded message for this build ('' if none, or not a file of ours)."""
    path = _refusal_file(target)
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return ""
        return path.read_text()[:4000]
    except (OSError, UnicodeDecodeError):
        return ""


def _record_refusal(target: Path, message: str) -> None:
    """Keep the compiler's refusal (atomically; a cache that cannot be written keeps none)."""
    path = _refusal_file(target)
    try:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as file:
            file.write(message)
        os.replace(file.name, path)
    except OSError:
        return


def _compile(stem: str, source: str, command: list[str], target: Path) -> None:
    directory = target.parent
    _log.info("building compiled kernels %s into %s", stem, directory)
    with scratch_directory(directory) as scratch:
        source_file = Path(scratch) / f"{stem}.c"
        source_file.write_text(source)
        built = Path(scratch) / target.name
        argv = [
            str(source_file) if a == "SOURCE" else str(built) if a == "TARGET" else a
            for a in command
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            said = " | ".join(detail[-3:]) or "no output"
            raise RuntimeError(f"{argv[0]} failed with exit status {result.returncode}: {said}")
        os.replace(built, target)  # atomic; replaces a symlink itself, never its target
    record_hash(target)


def load_library(
    stem: str,
    source_for: Callable[[BuildOptions], str],
    declare: Callable[[ctypes.CDLL], None],
    build: Callable[[BuildOptions], Path] | None = None,
    compute_bound: bool = False,
) -> ctypes.CDLL | str:
    """The first of :data:`BUILD_ATTEMPTS` that builds, loads and declares, else the reason.

    ``source_for(options)`` gives the source for one attempt; ``declare(library)`` sets
    the ctypes signatures (an AttributeError there means a symbol is missing);
    ``compute_bound`` marks every attempt (see :data:`DEFAULT_ISA`).
    """
    if not sys.platform.startswith(("linux", "darwin")):
        return f"compiled kernels are not built on {sys.platform}"
    errors = []
    for attempt in BUILD_ATTEMPTS:
        options = dataclasses.replace(attempt, compute_bound=compute_bound)
        try:
            path = build(options) if build else build_library(stem, source_for(options), options)
            library = load_verified(path)
            declare(library)
            return library
        except (
            OSError,
            RuntimeError,
            ValueError,
            subprocess.SubprocessError,
            AttributeError,
        ) as error:
            _log.info("build %s of %s failed: %s", options, stem, error)
            errors.append(str(error))
    _warn_fallback(
        f"build:{stem.split('_')[0]}",
        f"sc-neurocore: compiled kernels {stem} are unavailable ({errors[-1]}); running the "
        "torch kernels instead (same results, slower). Set SC_NEUROCORE_NATIVE=0 to choose "
        "them without this warning.",
    )
    return errors[-1]


def argtypes(
    library: ctypes.CDLL, signatures: Mapping[str, list[Any]], storage: bool = False
) -> None:
    """Declare ``name -> argument types`` (no return value) for each symbol, per C type (of
    :data:`STORAGE_TYPES` for a template filled with ``storage``)."""
    suffixes = [entry[-1] for entry in (STORAGE_TYPES if storage else C_TYPES).values()]
    for suffix in suffixes:
        for name, types in signatures.items():
            function = getattr(library, f"{name}_{suffix}")
            function.argtypes = types
            function.restype = None
