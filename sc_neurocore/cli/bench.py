"""``sc-neurocore bench``: the benchmark suite of a source checkout.

The suite lives in the repository's ``benchmarks/``, outside the installed package: an
editable install (``pip install -e``) finds it beside the package, any install finds it in
the current directory when that is a checkout, and ``python -m benchmarks.run`` in a
checkout runs the same command.  Without a checkout the
command says so in one line (exit status 2).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from . import UsageError

#: The command that runs the suite in a checkout, named by the error without one.
CHECKOUT_COMMAND = "python -m benchmarks.run"


def checkouts() -> tuple[Path, ...]:
    """Where a checkout may be: the tree this package was installed from (editable), then
    the current directory (a checkout whose package was installed from it, not editable)."""
    return (Path(__file__).resolve().parents[2], Path.cwd())


def harness() -> ModuleType:
    """The checkout's ``benchmarks.command``, or a usage error that says where it runs."""
    if "benchmarks" not in sys.modules:  # not already run as `python -m benchmarks.run`
        found = [root for root in checkouts() if (root / "benchmarks" / "command.py").is_file()]
        if not found:
            raise UsageError(
                "the benchmarks run from a source checkout of sc-neurocore, not an installed "
                f"package: in the repository, `pip install -e '.[bench]'` then `{CHECKOUT_COMMAND}`"
            )
        if str(found[0]) not in sys.path:
            sys.path.append(str(found[0]))
    try:
        return importlib.import_module("benchmarks.command")
    except ModuleNotFoundError as error:  # a `benchmarks` module that is not this project's
        raise UsageError(f"no benchmark suite here ({error}); run `{CHECKOUT_COMMAND}`") from None


def plan(args: argparse.Namespace) -> tuple[ModuleType, Any]:
    """The suite's own plan of ``args`` (unknown sections and bad values refused there)."""
    suite = harness()
    return suite, suite.plan(args)


def execute(plan: tuple[ModuleType, Any]) -> int:
    suite, suite_plan = plan
    return int(suite.execute(suite_plan))
