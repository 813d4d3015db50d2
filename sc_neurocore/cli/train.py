"""``sc-neurocore train``: train a SpikingNet on scikit-learn's digits with a chosen
surrogate and path (the demo of :mod:`sc_neurocore.tasks.demo`), or once per path
(``--compare-paths``) to show they agree.

With ``--task`` it trains a task's readout classifier instead (see :mod:`.train_task`).
The options and their defaults are in :mod:`sc_neurocore_cli.commands`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import torch

from . import UsageError, train_task
from .values import at_least_one, parse_params, positive, show_params


@dataclass
class Run:
    """What one training run produced."""

    path: str
    surrogate: str
    losses: list[float] = field(default_factory=list)
    accuracy: float = 0.0
    correct: int = 0
    total: int = 0
    seconds: float = 0.0


def plan(args: argparse.Namespace) -> argparse.Namespace:
    """Everything the run uses, checked before any data loads (names with suggestions)."""
    if args.mode == "task":
        return train_task.plan(args)
    at_least_one({name: getattr(args, name) for name in COUNTS})
    positive({"lr": args.lr})
    if args.compare_paths and args.path is not None:
        raise UsageError("--compare-paths runs every available path; drop --path")
    try:
        device = torch.device(args.device)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as error:
        raise UsageError(f"--device {args.device!r} is not usable here: {error}") from None
    params = parse_params(args.param)
    paths = _paths(args)
    for path in paths:
        _surrogate(args.surrogate, path, params)
    names = (*COUNTS, "seed", "lr", "surrogate", "fused", "json")
    chosen = {name: getattr(args, name) for name in names}
    return argparse.Namespace(
        mode="digits",
        **chosen,
        params=params,
        paths=paths,
        device=str(device),
        compare_paths=args.compare_paths,
    )


COUNTS = ("epochs", "timesteps", "hidden", "batch_size", "threads")
#: The plan's fields that make a :class:`~sc_neurocore.tasks.demo.DemoConfig`.
DEMO_FIELDS = ("epochs", "timesteps", "hidden", "batch_size", "lr", "seed", "fused", "device")


def _surrogate(name: str, path: str, params: dict[str, float]) -> Any:
    """The bound surrogate; an unknown name or a bad --param is a usage error."""
    from ..core.registry import get_surrogate
    from .listing import loading
    from .names import check_path, check_surrogate

    loading(lambda: (check_surrogate("--surrogate", name), check_path("--path", path, fused=False)))
    try:
        return get_surrogate(name, path, **params)
    except (TypeError, ValueError) as error:
        raise UsageError(f"--param: {error}") from None


def _paths(args: argparse.Namespace) -> list[str]:
    from ..core.registry import coverage, get_default_path, list_paths

    if not args.compare_paths:
        return [args.path or get_default_path()]
    paths = [path for path in list_paths() if coverage(args.surrogate, path)[0]]
    if len(paths) < 2:
        raise UsageError(f"--compare-paths needs two paths for {args.surrogate!r}, found {paths}")
    return paths


def train_once(args: argparse.Namespace, path: str, digits: Any, out: TextIO = sys.stdout) -> Run:
    """One run of the digits demo on ``path``, its epochs printed to ``out``."""
    from ..tasks.demo import DemoConfig, train_demo
    from ..tasks.loops import EpochRecord

    surrogate = _surrogate(args.surrogate, path, args.params)
    config = DemoConfig(**{name: getattr(args, name) for name in DEMO_FIELDS})
    run = Run(path=path, surrogate=f"{surrogate.name}({show_params(surrogate.params)})")
    bar = train_task.ProgressBar(args.epochs, out, sys.stderr)

    def epoch_line(record: EpochRecord) -> None:
        run.losses.append(record.loss)
        clear = "\x1b[2K\r" if bar.tty else ""
        print(
            f"{clear}  [{path}] epoch {record.epoch:>2}/{args.epochs}  loss {record.loss:.4f}  "
            f"{record.seconds:5.1f} s",
            file=out,
        )

    try:
        result = train_demo(digits, surrogate, config, progress=bar, on_epoch=epoch_line)
    except ImportError as error:
        raise UsageError(f"--fused is not available: {error}") from None
    run.seconds, run.accuracy, run.total = result.seconds, result.test.accuracy, len(digits.y_test)
    run.correct = round(run.accuracy * run.total)
    return run


def _report(run: Run, out: TextIO) -> None:
    print(
        f"test accuracy {100 * run.accuracy:.1f} % ({run.correct}/{run.total})  "
        f"wall {run.seconds:.1f} s  surrogate {run.surrogate}  path {run.path}",
        file=out,
    )


def _largest_difference(runs: list[Run]) -> float:
    reference = runs[0].losses
    differences = [abs(a - b) for run in runs[1:] for a, b in zip(reference, run.losses)]
    return max(differences, default=0.0)


def execute(plan: argparse.Namespace) -> int:
    if plan.mode == "task":
        return train_task.execute(plan)
    began = time.perf_counter()
    out = sys.stderr if plan.json else sys.stdout
    from ..tasks.digits import load_digits

    try:
        digits = load_digits()
    except ImportError as error:
        raise UsageError(str(error)) from None
    print(
        f"digits: {len(digits.y_train)} train / {len(digits.y_test)} test images; "
        f"SpikingNet 64-{plan.hidden}-10, T={plan.timesteps}, seed {plan.seed}"
        + (", fused" if plan.fused else ""),
        file=out,
    )
    runs = []
    with train_task.torch_threads(plan.threads):
        for path in plan.paths:
            runs.append(train_once(plan, path, digits, out))
            _report(runs[-1], out)
    report: dict[str, Any] = {"task": "digits demo", "runs": [asdict(run) for run in runs]}
    if plan.compare_paths:
        largest = _largest_difference(runs)
        verdict = "identical" if largest == 0.0 else "NOT identical"
        names = " vs ".join(run.path for run in runs)
        print(
            f"per-epoch losses {verdict} across paths ({names}); largest difference {largest:.3g}",
            file=out,
        )
        report["largest_loss_difference"] = largest
    report["total_seconds"] = time.perf_counter() - began
    print(f"total {report['total_seconds']:.1f} s, loading the data included", file=out)
    if plan.json:
        sys.stdout.write(json.dumps(report) + "\n")
    return 0
