"""The commands that run something (train, sweep, bench), and every command in help order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .options import CHECK, KERNELS, LISTINGS, NEURONS, Command, Option

DIGITS, TASK = "digits", "task"
RUN, REPORT = "run", "report"
CPU, CUDA = "cpu", "cuda"
PRESET = "the preset's"


def _int(flags: str, help_text: str, sample: str, default: Any = None, **more: Any) -> Option:
    return Option(
        (flags,), help_text, (sample,), default, kwargs={"type": int, "metavar": "N"}, **more
    )


def _switch(flags: tuple[str, ...], help_text: str, **more: Any) -> Option:
    return Option(flags, help_text, (), kwargs={"action": "store_true"}, **more)


def _train_mode(given: Mapping[str, Any]) -> str:
    return TASK if given.get("task") is not None else DIGITS


TRAIN = Command(
    "train",
    "train a spiking network on the digits, or on a task (--task)",
    "Without --task: train SpikingNet (64-hidden-10, rate-encoded) on scikit-learn's 1,797 "
    "8x8 handwritten digits (fixed 80/20 split) and report the test accuracy. With --task: "
    "train the current-based LIF classifier on that task's preset (options left out take the "
    "preset's values). An option of the other mode is refused.",
    "train",
    (
        Option(
            ("--surrogate",),
            "registered surrogate name",
            ("superspike",),
            {DIGITS: "atan", TASK: None},
            unset=PRESET,
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--path",),
            "registered path ('fused' with --task: the fused layers)",
            ("legacy_autograd",),
            {DIGITS: None, TASK: "fused"},
            unset="the default path",
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--param",),
            "surrogate parameter, repeatable (e.g. --param alpha=3)",
            {DIGITS: ("alpha=3",), TASK: ("beta=5",)},
            unset="the spec's",
            kwargs={"action": "append", "metavar": "NAME=VALUE"},
        ),
        _int(
            "--epochs", "passes over the training data", "2", {DIGITS: 10, TASK: None}, unset=PRESET
        ),
        _int("--timesteps", "time steps per image (rate encoding)", "5", 20, modes=(DIGITS,)),
        _int("--hidden", "hidden LIF neurons", "16", {DIGITS: 128, TASK: None}, unset=PRESET),
        _int("--seed", "seed of weights, shuffling and spike encoding", "3", 0),
        _int(
            "--batch-size",
            "samples per optimizer step",
            "32",
            {DIGITS: 64, TASK: None},
            unset=PRESET,
        ),
        _int(
            "--threads",
            "CPU threads for torch; the layers are small, so more mostly add "
            "overhead (docs: Performance tips)",
            "2",
            1,
        ),
        Option(
            ("--lr",),
            "initial Adam learning rate",
            ("0.05",),
            {DIGITS: 1e-2, TASK: None},
            unset=PRESET,
            kwargs={"type": float, "metavar": "X"},
        ),
        Option(
            ("--device",),
            "torch device, e.g. cpu or cuda",
            ("cpu:0",),
            "cpu",
            modes=(DIGITS,),
            kwargs={"metavar": "DEVICE"},
        ),
        _switch(
            ("--compare-paths",),
            "train once per available path with the same seed and compare the losses",
            modes=(DIGITS,),
        ),
        _switch(("--fused",), "fused multi-step LIF layers", modes=(DIGITS,)),
        Option(
            ("--task",),
            "randman, digits or shd",
            ("digits",),
            modes=(TASK,),
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--neuron",),
            "registered neuron of the hidden layer (sc-neurocore neurons)",
            ("alif",),
            modes=(TASK,),
            unset="current-based LIF",
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--preset",),
            "the task's preset (randman: stork or hard)",
            ("hard",),
            modes=(TASK,),
            unset="the task's first",
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--steepness",),
            "common steepness, mapped to the surrogate's scale parameter (its spec's Scale)",
            ("5",),
            modes=(TASK,),
            unset="the surrogate's",
            kwargs={"type": float, "metavar": "S"},
        ),
        Option(
            ("--time-budget",),
            "stop after S seconds of training",
            ("0.5",),
            modes=(TASK,),
            unset="none",
            kwargs={"type": float, "metavar": "S"},
        ),
        Option(
            ("--data-dir",),
            "shd: folder with shd_train.h5, shd_test.h5",
            ("data",),
            modes=(TASK,),
            unset="none",
            kwargs={"metavar": "DIR"},
        ),
        Option(
            ("--data",),
            "override a field of the preset's data, repeatable (randman: seed=3, dim=2, ...)",
            ("seed=3",),
            modes=(TASK,),
            kwargs={"action": "append", "metavar": "FIELD=VALUE"},
        ),
        _switch(("--json",), "print one JSON object on stdout (the human lines go to stderr)"),
    ),
    modes={DIGITS: "the digits demo (no --task)", TASK: "--task runs"},
    mode_of=_train_mode,
    labels={DIGITS: "demo", TASK: "--task"},
    base={TASK: ("--task", "randman")},
)

_SWEEP_RUN = (RUN,)

SWEEP = Command(
    "sweep",
    "train a task over surrogates x steepness x paths x seeds, plus controls",
    "Every registered surrogate (plugins included) at a log grid of a common steepness, each "
    "path and seed, plus the controls true_gradient and constant. One JSON line per finished "
    "run is appended to --out; runs already there are skipped (resume). --report FILES merges "
    "finished sweeps (shards) without running anything.",
    "sweep",
    (
        Option(
            ("--task",),
            "the task to train",
            ("digits",),
            "randman",
            modes=_SWEEP_RUN,
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--preset",),
            "the task's preset",
            ("stork",),
            modes=_SWEEP_RUN,
            unset="the task's hard preset if any, else its first",
            kwargs={"metavar": "NAME"},
        ),
        Option(
            ("--surrogates",),
            "comma-separated surrogate names",
            ("atan",),
            modes=_SWEEP_RUN,
            unset="every registered one",
            kwargs={"metavar": "NAMES"},
        ),
        Option(
            ("--steepness",),
            "comma-separated common steepness grid",
            ("1,10",),
            modes=_SWEEP_RUN,
            unset="a log grid from 0.32 to 316",
            kwargs={"metavar": "VALUES"},
        ),
        Option(
            ("--paths",),
            "comma-separated: 'fused' and/or registered paths",
            ("fused,custom_op",),
            "fused",
            modes=_SWEEP_RUN,
            kwargs={"metavar": "PATHS"},
        ),
        Option(
            ("--seeds",),
            "comma-separated training seeds",
            ("0",),
            "0,1,2",
            modes=_SWEEP_RUN,
            kwargs={"metavar": "SEEDS"},
        ),
        _switch(
            ("--no-controls",), "skip the controls true_gradient and constant", modes=_SWEEP_RUN
        ),
        _int("--epochs", "passes over the training data", "1", modes=_SWEEP_RUN, unset=PRESET),
        Option(
            ("--time-budget",),
            "seconds of training per run",
            ("1",),
            modes=_SWEEP_RUN,
            unset="none",
            kwargs={"type": float, "metavar": "S"},
        ),
        Option(
            ("--data",),
            "override a field of the preset's data, repeatable",
            ("seed=3",),
            modes=_SWEEP_RUN,
            kwargs={"action": "append", "metavar": "FIELD=VALUE"},
        ),
        _int("--hidden", "hidden neurons", "8", modes=_SWEEP_RUN, unset=PRESET),
        Option(
            ("--neuron",),
            "registered neuron of the hidden layer",
            ("alif",),
            modes=_SWEEP_RUN,
            unset="current-based LIF",
            kwargs={"metavar": "NAME"},
        ),
        _int(
            "--processes",
            "worker processes",
            str((os.cpu_count() or 1) + 1),
            os.cpu_count() or 1,
            modes=_SWEEP_RUN,
        ),
        Option(
            ("--shard",),
            "run every N-th run from K (0-based)",
            ("1/2",),
            "0/1",
            modes=_SWEEP_RUN,
            kwargs={"metavar": "K/N"},
        ),
        Option(
            ("--out",),
            "JSON lines file, appended",
            ("other.jsonl",),
            "sweep.jsonl",
            modes=_SWEEP_RUN,
            kwargs={"metavar": "FILE"},
        ),
        Option(
            ("--report",),
            "merge these JSON lines files and report; runs nothing",
            ("a.jsonl",),
            modes=(REPORT,),
            kwargs={"nargs": "+", "metavar": "FILE"},
        ),
        Option(
            ("--heatmap",),
            "draw the heatmap into this PNG",
            ("map.png",),
            unset="none",
            kwargs={"metavar": "PNG"},
        ),
        _switch(("--json",), "print the merged report as JSON on stdout (progress on stderr)"),
    ),
    modes={RUN: "sweep runs (no --report)", REPORT: "--report (merging finished sweeps)"},
    mode_of=lambda given: REPORT if given.get("report") is not None else RUN,
    base={REPORT: ("--report", "runs.jsonl")},
    epilog="examples:\n"
    "  sc-neurocore sweep --task randman --preset hard --out sweep.jsonl --heatmap sweep.png\n"
    "  sc-neurocore sweep ... --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT\n"
    "  sc-neurocore sweep --report shard-*.jsonl --heatmap sweep.png",
)

BENCH = Command(
    "bench",
    "benchmark the surrogate paths, LIF layers and registry against the peers (from a checkout)",
    "Run the source checkout's benchmarks/ (python -m benchmarks.run there). Measure in one "
    "process: every surrogate on every path, the same surrogates in snnTorch "
    "and SpikingJelly (if installed), a LIF layer, a SpikingNet training step, the registry "
    "costs and the command line's response times; print a table and the performance targets.",
    "bench",
    (
        _switch(("--quick",), "tiny sizes, few rounds: seconds, not representative"),
        Option(
            ("--json",),
            "also write the results as JSON to PATH ('-': JSON on stdout instead of the table)",
            ("-",),
            unset="none",
            kwargs={"metavar": "PATH"},
        ),
        Option(
            ("--only",),
            "run only these sections (see docs/benchmarks.md)",
            {CPU: ("registry",), CUDA: ("lif",)},
            unset="every section",
            kwargs={"nargs": "+", "metavar": "SECTION"},
        ),
        _switch(("--no-compile",), "skip torch.compile (network section, compiled peers)"),
        _int(
            "--threads",
            "torch threads for the run (1 gives steadier figures on a machine "
            "whose cores are oversubscribed)",
            "2",
            modes=(CPU,),
            unset="torch's",
        ),
        _switch(("--no-progress",), "no progress line on stderr", modes=(CPU,)),
        Option(
            ("--device",),
            "cuda: the GPU sections (needs a CUDA GPU)",
            ("cuda",),
            "cpu",
            kwargs={"choices": ("cpu", "cuda")},
        ),
    ),
    modes={CPU: "CPU runs (--device cpu)", CUDA: "--device cuda"},
    mode_of=lambda given: CUDA if given.get("device") == "cuda" else CPU,
    base={CUDA: ("--device", "cuda")},
)

#: Every command, in the order ``sc-neurocore --help`` lists them.
COMMANDS: tuple[Command, ...] = (*LISTINGS, NEURONS, KERNELS, CHECK, BENCH, TRAIN, SWEEP)
