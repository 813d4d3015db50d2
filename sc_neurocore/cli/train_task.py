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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import torch

from . import UsageError
from .values import at_least_one, parse_fields, parse_params, positive, show_params


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``count`` while a run trains, then restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def plan(args: argparse.Namespace) -> argparse.Namespace:
    """The :class:`RunSpec` of the command line, every name and value checked before any
    data loads; a bad one raises naming the option."""
    from ..core.registry import get_spec
    from ..tasks.catalog import preset
    from ..tasks.run import CONTROLS, RunSpec, resolve_surrogate
    from .listing import loading
    from .names import check_neuron, check_path, check_surrogate, check_task

    at_least_one({name: getattr(args, name) for name in ("epochs", "batch_size", "hidden")})
    at_least_one({"threads": args.threads})
    positive({"lr": args.lr, "time_budget": args.time_budget, "steepness": args.steepness})
    check_task("--task", args.task, args.preset)
    loading(lambda: check_path("--path", args.path, fused=True))
    if args.neuron is not None:
        loading(lambda: check_neuron("--neuron", args.neuron))
    if args.surrogate is not None:
        loading(lambda: check_surrogate("--surrogate", args.surrogate, controls=CONTROLS))
    training = {"lr": args.lr, "batch_size": args.batch_size}
    data: dict[str, Any] = {"data_dir": args.data_dir, **parse_fields(args.data)}
    spec = RunSpec(
        task=args.task,
        preset=args.preset,
        surrogate=args.surrogate,
        params=parse_params(args.param),
        steepness=args.steepness,
        path=args.path,
        seed=args.seed,
        epochs=args.epochs,
        time_budget=args.time_budget,
        data={key: value for key, value in data.items() if value is not None},
        model={
            key: value
            for key, value in (("hidden", args.hidden), ("neuron", args.neuron))
            if value is not None
        },
        training={key: value for key, value in training.items() if value is not None},
    )
    name = spec.surrogate or preset(spec.task, spec.preset).surrogate[0]
    if spec.params and name not in CONTROLS:
        try:  # the --param names and values, as the digits demo checks them
            get_spec(name).bind((), spec.params)
        except (TypeError, ValueError) as error:
            raise UsageError(f"--param: {error}") from None
    try:  # the steepness, and parameters given to a control: checked with the preset's
        resolve_surrogate(spec)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    return argparse.Namespace(mode="task", spec=spec, threads=args.threads, json=args.json)


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


def execute(plan: argparse.Namespace) -> int:
    from ..tasks.catalog import load_task
    from ..tasks.run import resolve, resolve_surrogate, run

    began = time.perf_counter()
    spec = plan.spec
    resolved = resolve(spec)
    chosen = resolved.preset
    name, params, steepness = resolve_surrogate(spec)
    try:  # the data fields and files: a usage error, not a bug
        data = load_task(spec.task, resolved.data)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        raise UsageError(str(error)) from None
    human = sys.stderr if plan.json else sys.stdout
    epochs = resolved.training.epochs
    shown = show_params(params)
    human.write(
        f"{spec.task} ({spec.preset or 'default preset'}): {chosen.description}\n"
        f"surrogate {spec.surrogate or name}({shown}) steepness {steepness}  path {spec.path}  "
        f"seed {spec.seed}  epochs {epochs}\n"
    )
    bar = ProgressBar(epochs, human, sys.stderr)
    with torch_threads(plan.threads):
        report = run(spec, progress=bar, on_epoch=bar.epoch_line, data=data)
    report["wall_seconds"] = time.perf_counter() - began
    human.write(summary(report) + "\n")
    if plan.json:
        sys.stdout.write(json.dumps(report) + "\n")
    return 0
