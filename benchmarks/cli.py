"""Section ``cli``: how long the command line takes to answer, in fresh processes.

``sc-neurocore --help`` and each subcommand's ``--help`` (answered by the torch-free
parser, issue 26: <= 0.3 s wall), and the listings ``paths``, ``surrogates``, ``plugins``
and ``kernels`` (they import torch and discover the plugins: <= 1.5 s).  Each command
line runs as the installed ``sc-neurocore`` script (``python -m sc_neurocore_cli`` where
the script is not beside the interpreter); rounds are interleaved in a new random order
each round, and a row is the median wall time over the rounds.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import BenchConfig
from .progress import Progress

LISTINGS = ("paths", "surrogates", "plugins", "kernels")


def _launcher() -> list[str]:
    script = Path(sys.executable).with_name("sc-neurocore")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sc_neurocore_cli"]


#: The floor under every listing: a fresh interpreter that imports torch and nothing else.
REFERENCE = "python -c 'import torch' (reference)"


def command_lines(quick: bool) -> dict[str, tuple[str, list[str]]]:
    """Label -> (kind, argv) of every measured command line (quick: one of each kind)."""
    from sc_neurocore_cli import COMMANDS

    launcher = _launcher()
    lines = {"sc-neurocore --help": ("help", [*launcher, "--help"])}
    for command in COMMANDS:
        lines[f"sc-neurocore {command.name} --help"] = ("help", [*launcher, command.name, "--help"])
    for name in LISTINGS:
        lines[f"sc-neurocore {name}"] = ("listing", [*launcher, name])
    lines[REFERENCE] = ("reference", [sys.executable, "-c", "import torch"])
    if quick:
        keep = ("sc-neurocore --help", "sc-neurocore paths", REFERENCE)
        return {label: lines[label] for label in keep}
    return lines


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, timeout=300)
    return time.perf_counter() - start


def run_cli(config: BenchConfig, progress: Progress, installed: Any = None) -> dict[str, Any]:
    lines = command_lines(config.quick)
    rounds = 1 if config.quick else config.cli_rounds
    samples: dict[str, list[float]] = {label: [] for label in lines}
    if not config.quick:  # uncounted: bytecode compiled, files in the page cache
        for _, argv in lines.values():
            _wall(argv)
    order = list(lines)
    for index in range(rounds):
        progress.step(f"command lines, round {index + 1}/{rounds}")
        random.shuffle(order)
        for label in order:
            samples[label].append(_wall(lines[label][1]))
    rows = [
        {"name": label, "kind": lines[label][0], "value": statistics.median(values), "unit": "s"}
        for label, values in samples.items()
    ]
    return {
        "title": "Command line: wall time to answer (fresh process)",
        "rows": rows,
        "notes": [
            f"median of {rounds} interleaved rounds; launcher {' '.join(_launcher())}",
            "a listing imports torch: the reference row is the floor under it",
        ],
    }
