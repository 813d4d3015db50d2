"""``sc-neurocore sweep``: train a task over surrogates x steepness x paths x seeds (and the
controls), appending one JSON line per finished run; ``--report FILES...`` merges shards.

Examples::

    sc-neurocore sweep --task randman --preset hard --out sweep.jsonl --heatmap sweep.png
    sc-neurocore sweep ... --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT   # one node each
    sc-neurocore sweep --report shard-*.jsonl --heatmap sweep.png                  # merge
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from . import UsageError


def _title(args: argparse.Namespace) -> str:
    """``task preset`` of the report's heading; an unknown task is a usage error."""
    from ..tasks.sweep import sweep_preset

    try:
        return f"{args.task} {sweep_preset(args.task, args.preset)}"
    except ValueError as error:
        raise UsageError(str(error)) from None


# Every subcommand module registers its parser the same way (see cli/train.py).
def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "sweep",
        help="train a task over surrogates x steepness x paths x seeds, plus controls",
        description="Every registered surrogate (plugins included) at a log grid of a common "
        "steepness, each path and seed, plus the controls true_gradient and constant. One JSON "
        "line per finished run is appended to --out; runs already there are skipped (resume).",
    )
    parser.add_argument("--task", default="randman")
    parser.add_argument(
        "--preset", default=None, help="default: the task's hard preset if any, else its first"
    )
    parser.add_argument("--surrogates", default=None, help="comma-separated; default: all")
    parser.add_argument("--steepness", default=None, help="comma-separated common steepness grid")
    parser.add_argument("--paths", default="fused", help="comma-separated: fused and/or paths")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    parser.add_argument("--no-controls", action="store_true", help="skip true_gradient, constant")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--time-budget", type=float, default=None, help="seconds of training")
    parser.add_argument("--data", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--hidden", type=int, default=None, help="hidden neurons")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--shard", default="0/1", metavar="K/N", help="every N-th run from K (0-based)"
    )
    parser.add_argument("--out", default="sweep.jsonl", help="JSON lines, appended")
    parser.add_argument("--heatmap", default=None, metavar="PNG", help="draw the heatmap here")
    parser.add_argument("--report", nargs="+", default=None, metavar="FILE", help="merge, no runs")
    parser.add_argument("--json", action="store_true", help="print the merged report as JSON")
    parser.set_defaults(handler=main)


def _numbers(text: str | None, kind: type, option: str) -> tuple[Any, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{option} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise UsageError(f"{option} is empty")
    return values


def config_of(args: argparse.Namespace) -> Any:
    from ..core.registry import list_paths
    from ..tasks.sweep import DEFAULT_STEEPNESS, SweepConfig
    from .train_task import parse_fields

    steepness = _numbers(args.steepness, float, "--steepness") or DEFAULT_STEEPNESS
    if any(not value > 0 for value in steepness):
        raise UsageError(f"--steepness values must be > 0, got {args.steepness!r}")
    paths = tuple(part for part in args.paths.split(",") if part)
    for path in paths:
        if path != "fused" and path not in list_paths():
            raise UsageError(f"--paths: {path!r} is neither 'fused' nor a path {list_paths()}")
    for name in ("epochs", "processes", "hidden"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be >= 1, got {value}")
    surrogates = None if args.surrogates is None else tuple(args.surrogates.split(","))
    return SweepConfig(
        task=args.task,
        preset=args.preset,
        surrogates=surrogates,
        steepness=steepness,
        paths=paths,
        seeds=_numbers(args.seeds, int, "--seeds") or (0,),
        controls=not args.no_controls,
        epochs=args.epochs,
        time_budget=args.time_budget,
        data=parse_fields(args.data),
        model={} if args.hidden is None else {"hidden": args.hidden},
    )


def _clock(seconds: float) -> str:
    if math.isnan(seconds):
        return "--:--"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def _progress(done: int, total: int, seconds: float, row: dict[str, Any]) -> None:
    from ..tasks.sweep import eta

    scale = "-" if row.get("scale") is None else f"{row['scale']:g}"
    sys.stderr.write(
        f"[{done}/{total}] {row['surrogate']} steepness {scale} {row['path']} seed {row['seed']}: "
        f"{100 * row['test_accuracy']:.1f} %  elapsed {_clock(seconds)}  "
        f"ETA {_clock(eta(done, total, seconds))}\n"
    )
    sys.stderr.flush()


def _skipped(lines: list[str]) -> str:
    shown = "; ".join(lines[:10]) + ("; ..." if len(lines) > 10 else "")
    return f"{len(lines)} lines skipped: {shown}"


def _report(files: list[str], heatmap: str | None, as_json: bool, title: str) -> int:
    from ..tasks.sweep_key import differing_fields
    from ..tasks.sweep_report import by_configuration, checks, merged, table
    from ..tasks.sweep_report import heatmap as draw

    lines = merged(files)
    if not lines.rows:
        also = "; " + _skipped(lines.skipped) if lines.skipped else ""
        raise UsageError(f"no sweep lines in {files}{also}")
    if lines.skipped:
        print(f"sweep: {_skipped(lines.skipped)}", file=sys.stderr)
    groups = by_configuration(lines.rows)
    differs = differing_fields(configuration for configuration, _ in groups)
    if heatmap is not None and len(groups) > 1:
        raise UsageError(
            f"--heatmap draws one configuration; {files} mix {len(groups)}, differing in "
            f"{', '.join(differs)}: report them from separate files"
        )
    reports: list[dict[str, Any]] = [
        {
            "settings": {name: values[index] for name, values in differs.items()},
            "runs": len(rows),
            "checks": checks(rows),
        }
        for index, (_, rows) in enumerate(groups)
    ]
    if as_json:
        print(json.dumps({
            "runs": len(lines.rows),
            "skipped": lines.skipped,
            "differs": list(differs),
            "configurations": [
                {**report, "checks": [vars(c) for c in report["checks"]]} for report in reports
            ],
            "checks": [vars(c) for c in reports[0]["checks"]] if len(reports) == 1 else None,
        }))  # fmt: skip
    else:
        if len(groups) > 1:
            print(
                f"The files mix {len(groups)} configurations, differing in "
                f"{', '.join(differs)}: each is reported alone."
            )
        for report, (_, rows) in zip(reports, groups):
            if len(groups) > 1:
                settings = ", ".join(f"{k}={v}" for k, v in report["settings"].items())
                print(f"\nconfiguration {settings} ({report['runs']} runs)")
            print(table(rows))
            for check in report["checks"]:
                verdict = {True: "PASS", False: "FAIL", None: "n/a"}[check.passed]
                print(f"{verdict:<4}  {check.claim}: {check.detail}")
    if heatmap is not None:
        draw(lines.rows, heatmap, title)
        print(f"heatmap: {heatmap}", file=sys.stderr)
    return 0


def main(args: argparse.Namespace) -> int:
    from ..tasks.run import resolve_surrogate
    from ..tasks.sweep import parse_shard, pending_runs, run_sweep
    from ..tasks.sweep_file import read_sweep

    if args.report is not None:
        return _report(args.report, args.heatmap, args.json, _title(args))
    config = config_of(args)
    try:  # bad names and values in the options: a usage error, not a bug
        k, n = parse_shard(args.shard)
        planned, pending = pending_runs(config, args.out, (k, n))
        for spec in planned:
            resolve_surrogate(spec)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    skipped = read_sweep(args.out).skipped
    sys.stderr.write(
        f"sweep: {len(planned)} runs in shard {k}/{n}, {len(planned) - len(pending)} done, "
        f"{len(pending)} to run -> {args.out}"
        + (f" ({_skipped(skipped)})" if skipped else "")
        + "\n"
    )
    try:
        run_sweep(config, args.out, processes=args.processes, shard_of=(k, n), progress=_progress)
    except KeyboardInterrupt:
        left = len(pending_runs(config, args.out, (k, n))[1])
        sys.stderr.write(
            f"sweep: interrupted; {len(planned) - left} of {len(planned)} runs are saved in "
            f"{args.out}; the same command resumes the {left} left\n"
        )
        return 130
    return _report([args.out], args.heatmap, args.json, _title(args))
