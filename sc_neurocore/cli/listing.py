"""``sc-neurocore paths | surrogates | plugins | explain``: what is registered and why.

Each listing prints an aligned table, or with ``--json`` a list of objects.  Plugin
warnings raised while loading are printed once each on stderr, one line apiece,
instead of Python's two-line warning format.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ..core.errors import PluginWarning

GAP, COVERED, UNAVAILABLE = "-", "yes", "n/a"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1])]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return "\n".join(lines)


def loading(action: Callable[[], Any]) -> Any:
    """Run ``action`` and echo the PluginWarnings it raised as one-line messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        result = action()
    seen: set[str] = set()
    for warning in caught:
        message = str(warning.message)
        if issubclass(warning.category, PluginWarning) and message not in seen:
            seen.add(message)
            print(f"sc-neurocore: warning: {message}", file=sys.stderr)
        elif not issubclass(warning.category, PluginWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return result


def emit(args: argparse.Namespace, objects: list[dict[str, Any]], table: str) -> int:
    if args.json:
        print(json.dumps(objects, indent=2, default=str))
    else:
        print(table)
    return 0


def paths_command(args: argparse.Namespace) -> int:
    from ..core.report import path_report

    infos = [info.as_dict() for info in loading(path_report)]
    rows = []
    for info in infos:
        total = len(info["surrogates"]) + len(info["missing"])
        available = "yes" if info["available"] else f"no ({info['reason']})"
        rows.append(
            [
                info["name"],
                info["distribution"],
                info["version"],
                available,
                f"{len(info['surrogates'])}/{total}",
                info["description"],
            ]
        )
    headers = ["PATH", "DISTRIBUTION", "VERSION", "AVAILABLE", "COVERS", "DESCRIPTION"]
    return emit(args, infos, format_table(headers, rows))


def surrogates_command(args: argparse.Namespace) -> int:
    from ..core.registry import list_paths, table
    from ..core.report import surrogate_report

    infos = [info.as_dict() for info in loading(surrogate_report)]
    status = table().path_status
    paths = list_paths()
    rows, gaps = [], []
    for info in infos:
        cells = []
        for path in paths:
            if not status[path][0]:
                cells.append(UNAVAILABLE)
            elif path in info["paths"]:
                cells.append(COVERED)
            else:
                cells.append(GAP)
                gaps.append(f"{info['name']}@{path}")
        params = ",".join(f"{k}={v:g}" for k, v in info["params"].items()) or "-"
        rows.append([info["name"], params, *cells, info["distribution"]])
        info["gaps"] = [p for p in paths if status[p][0] and p not in info["paths"]]
    text = format_table(["SURROGATE", "PARAMS", *paths, "DISTRIBUTION"], rows)
    footer = f"{len(infos)} surrogates x {len(paths)} paths; "
    footer += f"{len(gaps)} gap(s): {', '.join(gaps)}" if gaps else "no gaps"
    return emit(args, infos, f"{text}\n\n{footer}")


def plugins_command(args: argparse.Namespace) -> int:
    from ..core.report import plugin_report

    records = loading(plugin_report)
    rows = []
    for record in records:
        provides = "; ".join(
            f"{kind}: {', '.join(names)}" for kind, names in record["provides"].items()
        )
        if record.get("overridden"):
            lost = ", ".join(entry.split(":")[0] for entry in record["overridden"])
            provides += f"; overridden: {lost}"
        rows.append(
            [
                record["name"],
                record["distribution"],
                record["version"],
                record["status"],
                record["error"] or provides or "-",
            ]
        )
    headers = ["PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "PROVIDES / ERROR"]
    return emit(args, records, format_table(headers, rows))


def explain_command(args: argparse.Namespace) -> int:
    from ..core.report import explain

    def run() -> Any:
        return explain(args.name, args.path)

    explanation = loading(run)
    data = explanation.as_dict()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    rows = [
        [
            "*" if c.get("chosen", c.get("chosen_spec")) else "",
            c["kind"],
            c["plugin"],
            c["distribution"],
            c["version"],
        ]
        for c in data["candidates"]
    ]
    verdict = "resolves" if data["resolved"] else "does NOT resolve"
    print(f"({data['surrogate']}, {data['path']}): {verdict}")
    print(format_table(["", "CANDIDATE", "PLUGIN", "DISTRIBUTION", "VERSION"], rows))
    if data["chosen"]:
        print(f"chosen: {data['chosen']}")
    print(f"why: {data['reason']}")
    for row in data["kernels"]:
        why = f" ({row['reason']})" if row["reason"] else ""
        print(f"kernel on {row['device']}: {row['kernel']}{why}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "paths": paths_command,
    "surrogates": surrogates_command,
    "plugins": plugins_command,
    "explain": explain_command,
}


def plan(args: argparse.Namespace) -> argparse.Namespace:
    """A listing runs as given; ``explain``'s names are checked first (with suggestions)."""
    from .names import check_path, check_surrogate

    if args.command == "explain":
        loading(lambda: check_surrogate("NAME", args.name))
        if args.path is not None:
            loading(lambda: check_path("--path", args.path, fused=False))
    return args


def execute(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
