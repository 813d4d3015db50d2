"""Which instruction set a compiled kernel is built for, and which ``exp`` it calls there.

One decision per build, made here and nowhere else: :func:`choose_target` gives the
:class:`Target` (its name, compiler flags and exp) for a machine, its CPU flags and whether
the kernel is bound by arithmetic (its expression calls vector math) or by memory.

* x86-64: the widest extension of :data:`ISA_FLAGS` the CPU has, up to the cap
  ``SC_NEUROCORE_NATIVE_ISA`` (``auto``: ``avx512`` for arithmetic-bound kernels, ``avx2``
  for the others).
* aarch64: the base ARMv8-A, no flag at all.  AdvSIMD (NEON) and the fused multiply-add are
  part of that base, so ``fma()`` is one instruction and the loops vectorise at 128 bits on
  every aarch64 CPU; SVE is left out because Apple's cores and older Graviton/Ampere ones lack
  it, and one build must run on all of them.
* anything else: the compiler's defaults.

:data:`OWN_EXP` says per target whether ``exp()`` in an expression is the kernels' own
vector exp (``vexp.c``) or the C library's (libmvec's vector form where it is linked), and
:data:`OWN_EXP_NONPOSITIVE` the same for ``sc_exp_nonpositive()``, the exp of an argument that
is non-positive by its form (a surrogate's ``exp(-abs(...))``).  ``SC_NEUROCORE_NATIVE_EXP``
(``auto``, ``own``, ``library``) overrides both, for measuring one against the other.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from ...core.settings import env_text

__all__ = [
    "DEFAULT_ISA",
    "ENV_EXP",
    "ENV_ISA",
    "EXP_CHOICES",
    "ISA_CHOICES",
    "ISA_FLAGS",
    "OWN_EXP",
    "OWN_EXP_NONPOSITIVE",
    "Target",
    "choose_target",
    "describe_host",
    "host_cpu_flags",
]

#: ``SC_NEUROCORE_NATIVE_ISA``: the widest x86-64 vector extension the kernels may use.
ENV_ISA = "SC_NEUROCORE_NATIVE_ISA"
#: Each choice's compiler flags, widest first, and the CPU flags it needs.
ISA_FLAGS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "avx512": (
        (
            "-mavx2",
            "-mfma",
            "-mavx512f",
            "-mavx512vl",
            "-mavx512bw",
            "-mavx512dq",
            "-mprefer-vector-width=512",
        ),
        frozenset({"avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq"}),
    ),
    "avx2": (("-mavx2", "-mfma"), frozenset({"avx2", "fma"})),
    "generic": ((), frozenset()),
}
#: The default, ``auto``: a kernel whose expression calls a vector-math function is bound by
#: that arithmetic and gets the widest extension (on the development machine's AVX-512 CPU
#: the sigmoid backward loop ran 1.08-1.12x a multiply loop at 512 bits, 1.31-2.02x at 256);
#: the other, memory-bound loops stay at AVX2 (the fused LIF ran 4-6 % slower at 512 bits).
DEFAULT_ISA = "auto"
ISA_CHOICES = (DEFAULT_ISA, *ISA_FLAGS)
#: Targets other than x86-64 extensions, by ``platform.machine()`` name: their flags.
MACHINE_FLAGS: dict[str, tuple[str, ...]] = {"aarch64": ()}

#: ``SC_NEUROCORE_NATIVE_EXP``: ``auto`` (:data:`OWN_EXP`), ``own`` or ``library``.
ENV_EXP = "SC_NEUROCORE_NATIVE_EXP"
EXP_CHOICES = ("auto", "own", "library")
#: Per target, whether the kernels' own exp replaces the C library's vector exp.  Measured
#: on the development machine (AMD EPYC, Zen 4, shared by several jobs; docs/paths.md has
#: the tables): a bare loop of expf ran level with libmvec's at AVX2 (0.396 against 0.408 ns
#: per element) and at AVX-512 (minima 0.282 and 0.278 ns), but inside the kernels libmvec's
#: was ahead or level (benchmarks/exp_ab.py, AVX2, interleaved: element-wise sigmoid backward
#: own/library 0.95 and 1.05 in two runs, fused LIF 1.14 and 1.16, the inlined polynomial
#: costing the LIF loop its registers), and at SSE2 ("generic", no fused multiply-add) far
#: ahead (1.29 against 0.84 ns).  So x86-64 with glibc keeps libmvec.  aarch64's glibc before
#: 2.38 has no libmvec: the C library's exp is a scalar call per element there and the loop
#: does not vectorise; a build without libmvec (the fallback attempts, other C libraries)
#: has the same problem.  Those take the own exp.
OWN_EXP = {"avx512": False, "avx2": False, "generic": False, "aarch64": True, "other": True}
#: Per target, whether ``sc_exp_nonpositive()`` (float) is the own exp of a non-positive argument
#: (``vexp.c``: no overflow path, a table of 2^(j/8), a degree-3 polynomial, 1.16 ulp; before it a
#: degree-5 polynomial without table, 2.31 ulp, whose figures follow) rather than the C library's
#: exp.  The table version measured 22 against 25 us (AVX2) and 20 against 24 (AVX-512) over 65,536
#: floats, and at SSE2, where its table read is scalar, 77 against libmvec's 82 (docs/paths.md).
#: Measured on the development machine (AMD EPYC, Zen 4, one thread, minimum of 200 calls;
#: docs/paths.md has the tables): the element-wise sigmoid backward over 1e6 floats took 468 us
#: with it against 546 with libmvec's at AVX2, 366 against 481 at AVX-512 (one loop each; 372 and
#: 335 with the exp calls over a block first), and even at SSE2, without a fused multiply-add
#: (where the general own exp was 1.5x slower than libmvec's), 1325 against 1515 (1085 over a block
#: first).
OWN_EXP_NONPOSITIVE = {
    "avx512": True,
    "avx2": True,
    "generic": True,
    "aarch64": True,
    "other": True,
}


@dataclass(frozen=True)
class Target:
    """What one build is compiled for."""

    name: str  # a key of ISA_FLAGS, MACHINE_FLAGS or "other"
    flags: tuple[str, ...]
    own_exp: bool
    own_exp_nonpositive: bool = False

    def compiler_flags(self) -> list[str]:
        return [
            *self.flags,
            f"-DSC_OWN_EXP={int(self.own_exp)}",
            f"-DSC_OWN_EXP_NONPOSITIVE={int(self.own_exp_nonpositive)}",
        ]


def _cpuinfo(*keys: str) -> str:
    """The first /proc/cpuinfo value of any of ``keys`` ('' where there is none)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            return value.strip()
    return ""


def host_cpu_flags() -> frozenset[str]:
    """The flags of the first CPU in /proc/cpuinfo (empty where they cannot be read)."""
    return frozenset(_cpuinfo("flags", "Features").split())


#: CPU flags that name vector extensions (x86 and aarch64), as /proc/cpuinfo spells them.
VECTOR_FLAGS = (
    *("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq"),
    *("asimd", "sve", "sve2"),
)


def describe_host() -> dict[str, object]:
    """The CPU and what the kernels are built for on it, for a benchmark's record: the
    model, its vector extensions, the cap and the target (with its exp) of each kind of
    kernel under the current environment."""
    flags = host_cpu_flags()
    chosen = {}
    for kind, bound in (("arithmetic_bound", True), ("memory_bound", False)):
        target = choose_target(bound)
        chosen[kind] = {
            "isa": target.name,
            "exp": "own" if target.own_exp else "library",
            "exp_nonpositive": "own" if target.own_exp_nonpositive else "library",
        }
    return {
        "cpu_model": _cpuinfo("model name", "Model", "CPU part") or platform.processor(),
        "machine": platform.machine(),
        "vector_extensions": [flag for flag in VECTOR_FLAGS if flag in flags],
        ENV_ISA: env_text(ENV_ISA) or DEFAULT_ISA,
        ENV_EXP: env_text(ENV_EXP) or "auto",
        **chosen,
    }


def _cap(compute_bound: bool) -> str:
    cap = env_text(ENV_ISA).lower() or DEFAULT_ISA
    if cap not in ISA_CHOICES:
        raise ValueError(f"{ENV_ISA} must be one of {sorted(ISA_CHOICES)}, got {cap!r}")
    if cap == DEFAULT_ISA:
        cap = "avx512" if compute_bound else "avx2"
    return cap


def _own_exp(table: dict[str, bool], name: str, vector_math: bool) -> bool:
    choice = env_text(ENV_EXP).lower() or "auto"
    if choice not in EXP_CHOICES:
        raise ValueError(f"{ENV_EXP} must be one of {list(EXP_CHOICES)}, got {choice!r}")
    if choice != "auto":
        return choice == "own"
    return table[name] or not vector_math


def _target(name: str, flags: tuple[str, ...], vector_math: bool) -> Target:
    return Target(
        name,
        flags,
        _own_exp(OWN_EXP, name, vector_math),
        _own_exp(OWN_EXP_NONPOSITIVE, name, vector_math),
    )


def choose_target(
    compute_bound: bool,
    vector_math: bool = True,
    machine: str | None = None,
    cpu_flags: frozenset[str] | None = None,
) -> Target:
    """The target of a build on ``machine`` (default: this one) with ``cpu_flags`` (default:
    this CPU's); ``vector_math``: libmvec is linked.  A bad environment value raises naming it."""
    machine = (machine or platform.machine()).lower()
    cap = _cap(compute_bound)
    if machine in ("x86_64", "amd64"):
        flags = host_cpu_flags() if cpu_flags is None else cpu_flags
        names = list(ISA_FLAGS)
        for name in names[names.index(cap) :]:
            options, needed = ISA_FLAGS[name]
            if needed <= flags:
                return _target(name, options, vector_math)
    name = machine if machine in MACHINE_FLAGS else "other"
    return _target(name, MACHINE_FLAGS.get(name, ()), vector_math)
