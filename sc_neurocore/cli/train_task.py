"""``sc-neurocore train --task NAME``: train a task's readout classifier from its preset.

Prints the configuration, a progress bar per epoch with an ETA (on stderr), the validation
accuracy per epoch, and at the end the test accuracy (evaluated once, with the weights of
the best validation epoch) beside the 1-nearest-neighbour baseline on raw spike times.
``--json`` prints one JSON object on stdout instead, and the human lines on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

import torch

from . import UsageError

#: Options of the digits demo that have no meaning for a task.
DEMO_ONLY = ("compare_paths", "fused", "timesteps")


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tasks (--task)")
    group.add_argument("--task", default=None, help="randman, digits or shd; omit for the demo")
    group.add_argument("--preset", default=None, help="randman: stork (default) or hard")
    group.add_argument(
        "--steepness",
        type=float,
        default=None,
        help="common steepness, mapped to the surrogate's scale parameter (its spec's Scale)",
    )
    group.add_argument("--time-budget", type=float, default=None, help="stop after S s of training")
    group.add_argument(
        "--data-dir", default=None, help="shd: folder with shd_train.h5, shd_test.h5"
    )
    group.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a field of the preset's data, repeatable (randman: seed=3, dim=2, ...)",
    )
    group.add_argument("--json", action="store_true", help="print one JSON object on stdout")


class ProgressBar:
    """One redrawn line per epoch on a terminal: bar, batch, ETA of the epoch and of the run."""

    def __init__(self, epochs: int, lines: TextIO, bar: TextIO) -> None:
        self.epochs, self.lines, self.stream = epochs, lines, bar
        self.tty = bar.isatty()

    def __call__(self, epoch: int, batch: int, batches: int, seconds: float) -> None:
        if not self.tty:
            return
        done = (epoch - 1) + batch / batches
        per_epoch = seconds / done
        epoch_left = per_epoch * (1 - batch / batches)
        run_left = per_epoch * (self.epochs - done)
        bar = "#" * (20 * batch // batches)
        self.stream.write(
            f"\r\x1b[2K  epoch {epoch}/{self.epochs} [{bar:<20}] {batch}/{batches}"
            f"  ETA {epoch_left:4.1f} s (run {run_left:5.1f} s)"
        )
        self.stream.flush()

    def epoch_line(self, record: Any) -> None:
        """The finished epoch, on the ``lines`` stream (the bar's line is cleared first)."""
        if self.tty:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        left = record.seconds / record.epoch * (self.epochs - record.epoch)
        self.lines.write(
            f"  epoch {record.epoch:>3}/{self.epochs}  loss {record.loss:.4f}  "
            f"val {100 * record.val_accuracy:5.1f} %  train {record.seconds:6.1f} s  "
            f"ETA {left:5.1f} s\n"
        )
        self.lines.flush()


def run_spec(args: argparse.Namespace) -> Any:
    """The :class:`RunSpec` of the command line; bad values raise naming the option."""
    from ..tasks.run import RunSpec
    from .train import parse_params

    for name in DEMO_ONLY:
        if getattr(args, name):
            raise UsageError(
                f"--{name.replace('_', '-')} belongs to the digits demo, not to --task"
            )
    for name in ("epochs", "batch_size", "hidden", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.lr is not None and not args.lr > 0:
        raise UsageError(f"--lr must be > 0, got {args.lr}")
    if args.time_budget is not None and not args.time_budget > 0:
        raise UsageError(f"--time-budget must be > 0 seconds, got {args.time_budget}")
    if args.steepness is not None and not args.steepness > 0:
        raise UsageError(f"--steepness must be > 0, got {args.steepness}")
    training = {"lr": args.lr, "batch_size": args.batch_size}
    data: dict[str, Any] = {"data_dir": args.data_dir, **parse_fields(args.data)}
    return RunSpec(
        task=args.task,
        preset=args.preset,
        surrogate=args.surrogate,
        params=parse_params(args.param),
        steepness=args.steepness,
        path=args.path or "fused",
        seed=0 if args.seed is None else args.seed,
        epochs=args.epochs,
        time_budget=args.time_budget,
        data={key: value for key, value in data.items() if value is not None},
        model={} if args.hidden is None else {"hidden": args.hidden},
        training={key: value for key, value in training.items() if value is not None},
    )


def parse_fields(items: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs; a value is an int, a float, or else kept as a string."""
    fields: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise UsageError(f"--data must look like FIELD=VALUE, got {item!r}")
        value: Any = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        fields[name.strip()] = value
    return fields


def _check_path(path: str) -> None:
    from ..core.registry import list_paths

    if path != "fused" and path not in list_paths():
        raise UsageError(
            f"--path must be 'fused' or a registered path {list_paths()}, got {path!r}"
        )


def summary(report: dict[str, Any]) -> str:
    """The closing lines of a run: accuracy beside the baseline, timings."""
    reached = report["seconds_to_target"]
    target = report["target"]
    lines = [
        f"test accuracy {100 * report['test_accuracy']:.1f} %  (1-NN on raw spike times "
        f"{100 * report['baseline_1nn']:.1f} %, chance {100 * report['chance']:.1f} %)",
        f"best validation {100 * report['best_val_accuracy']:.1f} % "
        f"at epoch {report['best_epoch']}; "
        f"training {report['train_seconds']:.1f} s, wall {report['wall_seconds']:.1f} s",
    ]
    if target is not None:
        when = "never" if reached is None else f"after {reached:.1f} s of training"
        lines.append(f"validation passed {100 * target:.1f} %: {when}")
    return "\n".join(lines)


def train_task(args: argparse.Namespace) -> int:
    from ..tasks.catalog import load_task, preset
    from ..tasks.run import resolve_surrogate, run

    began = time.perf_counter()
    spec = run_spec(args)
    _check_path(spec.path)
    try:  # bad names and values in the options: a usage error, not a bug
        chosen = preset(spec.task, spec.preset)
        name, params, steepness = resolve_surrogate(spec)
        data = load_task(spec.task, {**chosen.data, **spec.data})
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        raise UsageError(str(error)) from None
    human = sys.stderr if args.json else sys.stdout
    epochs = spec.epochs or chosen.training.epochs
    shown = ", ".join(f"{key}={value:g}" for key, value in params.items())
    human.write(
        f"{spec.task} ({spec.preset or 'default preset'}): {chosen.description}\n"
        f"surrogate {spec.surrogate or name}({shown}) steepness {steepness}  path {spec.path}  "
        f"seed {spec.seed}  epochs {epochs}\n"
    )
    bar = ProgressBar(epochs, human, sys.stderr)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or 1)
    try:
        report = run(spec, progress=bar, on_epoch=bar.epoch_line, data=data)
    finally:
        torch.set_num_threads(threads)
    report["wall_seconds"] = time.perf_counter() - began
    human.write(summary(report) + "\n")
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    return 0
