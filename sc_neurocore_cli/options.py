"""What the ``sc-neurocore`` command line accepts: commands, their modes and their options.

Plain data, standard library only: the parser, the help text, the check that refuses an
option outside its mode, the defaults each mode fills in and the tests' flag combinations
are all computed from these tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The one mode of a command that has no modes.
ONLY = "only"


@dataclass(frozen=True)
class Option:
    """One option (or positional) of a command.

    ``default`` is one value, or a value per mode; ``None`` shown as ``unset`` (what that
    means is said in ``help``).  ``sample`` is the argv after the flag that gives a value
    other than the default (empty for a switch): the tests give it to prove that the
    option changes what the command does.  ``modes`` are the modes it applies to (``None``:
    every mode); given in any other mode it is a usage error.
    """

    flags: tuple[str, ...]
    help: str
    sample: tuple[str, ...] | Mapping[str, tuple[str, ...]] = ()
    default: Any = None
    modes: tuple[str, ...] | None = None
    unset: str = ""
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        if "dest" in self.kwargs:
            return str(self.kwargs["dest"])
        longest = max(self.flags, key=len)
        return longest.lstrip("-").replace("-", "_")

    @property
    def positional(self) -> bool:
        return not self.flags[0].startswith("-")

    @property
    def switch(self) -> bool:
        return self.kwargs.get("action") == "store_true"

    def default_in(self, mode: str) -> Any:
        if isinstance(self.default, dict):
            return self.default.get(mode)
        if self.switch:
            return False
        if self.kwargs.get("action") == "append":
            return [] if self.default is None else list(self.default)
        return self.default

    def sample_in(self, mode: str) -> tuple[str, ...]:
        if isinstance(self.sample, Mapping):
            return tuple(self.sample.get(mode, next(iter(self.sample.values()))))
        return tuple(self.sample)

    def applies_to(self, mode: str) -> bool:
        return self.modes is None or mode in self.modes


@dataclass(frozen=True)
class Command:
    """A subcommand: its options, its modes and the module that runs it.

    ``module`` (under ``sc_neurocore.cli``) has ``plan(args)``, which checks the arguments
    and returns everything the run will use, and ``execute(plan)``, which does the work.
    ``modes`` maps each mode to the words a message uses for it; ``mode_of`` picks the mode
    from the options given (a dict of dest -> value).
    """

    name: str
    help: str
    description: str
    module: str
    options: tuple[Option, ...]
    modes: Mapping[str, str] = field(default_factory=lambda: {ONLY: ""})
    mode_of: Callable[[Mapping[str, Any]], str] = lambda given: ONLY
    epilog: str = ""
    #: Short names of the modes in help texts (default: ``modes``).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: The shortest argv that selects each mode (and gives the required positionals).
    base: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def base_argv(self, mode: str) -> list[str]:
        return [self.name, *self.base.get(mode, ())]

    def option(self, dest: str) -> Option:
        return next(option for option in self.options if option.dest == dest)


def _help_json(what: str) -> Option:
    return Option(
        ("--json",),
        f"print {what} as JSON on stdout (and nothing else there)",
        (),
        kwargs={"action": "store_true"},
    )


def _listing(name: str, help_text: str, *extra: Option) -> Command:
    return Command(name, help_text, help_text, "listing", (*extra, _help_json("a list of objects")))


LISTINGS = (
    _listing("paths", "list execution paths, where they come from, coverage"),
    _listing(
        "surrogates",
        "list surrogates and the surrogate x path coverage matrix (gaps shown as '-')",
    ),
    _listing("plugins", "list plugin entry points and their status"),
    Command(
        "explain",
        "show how (NAME, PATH) resolves and why",
        "show how (NAME, PATH) resolves and why",
        "listing",
        (
            Option(("name",), "surrogate name", ("superspike",), kwargs={"metavar": "NAME"}),
            Option(
                ("--path", "-p"),
                "execution path",
                ("legacy_autograd",),
                unset="the default path",
                kwargs={"metavar": "NAME"},
            ),
            _help_json("the explanation"),
        ),
        base={ONLY: ("atan",)},
    ),
)

NEURONS = Command(
    "neurons",
    "list neuron models: provenance, states, params, and the kernels that fuse them",
    "List every registered neuron (built-in and from plugins): the distribution it comes "
    "from, its states, params with defaults, whether it spikes, and the kernel family that "
    "runs it fused on CPU and CUDA tensors. --json adds its equations.",
    "neurons",
    (_help_json("a list of objects"),),
)

KERNELS = Command(
    "kernels",
    "list which kernel (triton, native C, torch) serves each operator, and why",
    "list which kernel (triton, native C, torch) serves each operator, and why",
    "kernels",
    (
        _help_json("a list of objects"),
        Option(
            ("--device",),
            "one device kind",
            ("cpu",),
            unset="every kind",
            kwargs={"choices": ("cpu", "cuda")},
            modes=("list",),
        ),
        Option(
            ("--compile",),
            "compile every Triton kernel for TARGET (cuda:90, cuda:80, hip:gfx942), no GPU needed",
            ("cuda:80",),
            unset="list instead",
            kwargs={"metavar": "TARGET"},
        ),
        Option(
            ("--full",),
            "every fused variant of every surrogate (thousands of kernels, hours)",
            (),
            kwargs={"action": "store_true"},
            modes=("compile",),
        ),
        Option(
            ("--op",),
            "only the kernels of this operator family (surrogate, lif, leaky) or neuron",
            ("surrogate",),
            unset="every family",
            kwargs={"metavar": "OP"},
            modes=("compile",),
        ),
        Option(
            ("--dtype",),
            "only the kernels of this input dtype",
            ("float32",),
            unset="every dtype",
            kwargs={"choices": ("float16", "bfloat16", "float32", "float64")},
            modes=("compile",),
        ),
        Option(
            ("--workers",),
            "compiling processes",
            ("1",),
            unset="one per core",
            kwargs={"type": int, "metavar": "N"},
            modes=("compile",),
        ),
    ),
    modes={"list": "the listing (no --compile)", "compile": "--compile"},
    mode_of=lambda given: "compile" if given.get("compile") is not None else "list",
    labels={"list": "listing", "compile": "--compile"},
    base={"compile": ("--compile", "cuda:90")},
)

CHECK = Command(
    "check",
    "run the conformance kit over registered (surrogate, path) pairs and neurons",
    "Run the conformance matrix (pytest -p sc_neurocore.testing) over every registered "
    "(surrogate, path) pair and every neuron (fused against stepwise, per surrogate and "
    "reset), or the subset selected below.",
    "check",
    (
        Option(
            ("--surrogate", "-s"),
            "only this surrogate (repeatable)",
            ("atan",),
            kwargs={"action": "append", "metavar": "NAME"},
        ),
        Option(
            ("--path", "-p"),
            "only this path (repeatable)",
            ("custom_op",),
            kwargs={"action": "append", "metavar": "NAME"},
        ),
        Option(
            ("--neuron",),
            "only this neuron, fused against stepwise (repeatable; alone, no pairs)",
            ("lif",),
            kwargs={"action": "append", "metavar": "NAME"},
        ),
        Option(
            ("--distribution", "-d"),
            "pairs whose surrogate or path, and neurons that come from this distribution "
            "(repeatable)",
            ("sc-neurocore",),
            kwargs={"action": "append", "metavar": "DIST"},
        ),
        Option(
            ("--device",),
            "run the checks on this device (repeatable)",
            ("cpu",),
            unset="cpu, and cuda where available",
            kwargs={"action": "append", "metavar": "DEVICE"},
        ),
        Option(
            ("--compile-backend",),
            "torch.compile backend of the compile checks",
            ("eager",),
            default="aot_eager",
            kwargs={"metavar": "BACKEND"},
        ),
        Option(
            ("-k",),
            "pytest -k expression",
            ("atan",),
            kwargs={"dest": "keyword", "metavar": "EXPR"},
        ),
        Option(
            ("-x", "--exitfirst"), "stop at the first failure", (), kwargs={"action": "store_true"}
        ),
        Option(("-v", "--verbose"), "one line per check", (), kwargs={"action": "store_true"}),
    ),
)
