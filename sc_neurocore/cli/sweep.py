"""``sc-neurocore sweep``: train a task over surrogates x steepness x paths x seeds (and the
controls), appending one JSON line per finished run; ``--report FILES...`` merges shards.

The options are in :mod:`sc_neurocore_cli.commands` (``sc-neurocore sweep --help``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from . import UsageError
from .values import at_least_one, parse_fields, positive


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


def plan(args: argparse.Namespace) -> argparse.Namespace:
    """The runs of this shard (or the files to merge), every name and value checked first."""
    if args.mode == "report":
        return argparse.Namespace(
            mode="report", files=args.report, heatmap=args.heatmap, json=args.json
        )
    from ..tasks.run import CONTROLS, resolve_surrogate
    from ..tasks.sweep import configurations, parse_shard, shard
    from .listing import loading
    from .names import check_path, check_surrogate, check_task

    config = config_of(args)
    check_task("--task", args.task, args.preset)

    def check_names() -> None:
        for path in config.paths:
            check_path("--paths", path, fused=True)
        for name in config.surrogates or ():
            check_surrogate("--surrogates", name, controls=CONTROLS)

    loading(check_names)
    try:  # bad values in the options: a usage error, not a bug
        k, n = parse_shard(args.shard)
        planned = shard(configurations(config), k, n)
        for spec in planned:
            resolve_surrogate(spec)
    except (ValueError, TypeError) as error:
        raise UsageError(str(error)) from None
    return argparse.Namespace(
        mode="run",
        config=config,
        runs=len(planned),
        shard=(k, n),
        processes=args.processes,
        out=args.out,
        heatmap=args.heatmap,
        json=args.json,
    )


def config_of(args: argparse.Namespace) -> Any:
    from ..tasks.sweep import DEFAULT_STEEPNESS, SweepConfig

    steepness = _numbers(args.steepness, float, "--steepness") or DEFAULT_STEEPNESS
    if any(not value > 0 for value in steepness):
        raise UsageError(f"--steepness values must be > 0, got {args.steepness!r}")
    at_least_one({name: getattr(args, name) for name in ("epochs", "processes", "hidden")})
    positive({"time_budget": args.time_budget})
    if args.neuron is not None:
        from .names import check_neuron

        check_neuron("--neuron", args.neuron)
    surrogates = None if args.surrogates is None else tuple(args.surrogates.split(","))
    return SweepConfig(
        task=args.task,
        preset=args.preset,
        surrogates=surrogates,
        steepness=steepness,
        paths=tuple(part for part in args.paths.split(",") if part),
        seeds=_numbers(args.seeds, int, "--seeds") or (0,),
        controls=not args.no_controls,
        epochs=args.epochs,
        time_budget=args.time_budget,
        data=parse_fields(args.data),
        model={
            key: value
            for key, value in (("hidden", args.hidden), ("neuron", args.neuron))
            if value is not None
        },
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


def _title(rows: list[dict[str, Any]]) -> str:
    """``task preset`` of the merged runs (the heatmap's heading)."""
    return ", ".join(sorted({f"{row['task']} {row.get('preset', '')}".strip() for row in rows}))


def _report(files: list[str], heatmap: str | None, as_json: bool) -> int:
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
        draw(lines.rows, heatmap, _title(lines.rows))
        print(f"heatmap: {heatmap}", file=sys.stderr)
    return 0


def execute(plan: argparse.Namespace) -> int:
    from ..tasks.sweep import pending_runs, run_sweep
    from ..tasks.sweep_file import read_sweep

    if plan.mode == "report":
        return _report(plan.files, plan.heatmap, plan.json)
    k, n = plan.shard
    planned, pending = pending_runs(plan.config, plan.out, plan.shard)
    skipped = read_sweep(plan.out).skipped
    sys.stderr.write(
        f"sweep: {len(planned)} runs in shard {k}/{n}, {len(planned) - len(pending)} done, "
        f"{len(pending)} to run -> {plan.out}"
        + (f" ({_skipped(skipped)})" if skipped else "")
        + "\n"
    )
    try:
        run_sweep(
            plan.config,
            plan.out,
            processes=plan.processes,
            shard_of=plan.shard,
            progress=_progress,
        )
    except KeyboardInterrupt:
        left = len(pending_runs(plan.config, plan.out, plan.shard)[1])
        sys.stderr.write(
            f"sweep: interrupted; {len(planned) - left} of {len(planned)} runs are saved in "
            f"{plan.out}; the same command resumes the {left} left\n"
        )
        return 130
    return _report([plan.out], plan.heatmap, plan.json)
