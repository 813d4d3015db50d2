"""The ``sc-neurocore`` commands' work: one module per command, each with ``plan(args)``
(check everything, name what will run) and ``execute(plan)`` (run it).

The command line itself (options, modes, ``--help``, usage errors) is parsed and checked by
:mod:`sc_neurocore_cli`, which imports no torch; :func:`run` takes its namespace from there.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from sc_neurocore_cli import main as cli_main
from sc_neurocore_cli.parser import command_named


class UsageError(Exception):
    """Bad arguments: reported on stderr in one line, exit status 2."""


#: Exit status of a command that failed with an unexpected error (a traceback is shown).
BUG_STATUS = 1


def _report_bug(command: str) -> int:
    """Anything but a usage or lookup error is a bug here or in a plugin: show all of it."""
    import platform

    import torch

    from .. import __version__

    traceback.print_exc()
    print(
        f"\nsc-neurocore {command}: unexpected error (above). This is a bug in sc-neurocore or "
        f"in a plugin; please report it with the traceback and: sc-neurocore {__version__}, "
        f"torch {torch.__version__}, Python {platform.python_version()}, {platform.platform()}. "
        "`sc-neurocore plugins` lists the installed plugins.",
        file=sys.stderr,
    )
    return BUG_STATUS


def command_module(args: argparse.Namespace) -> Any:
    """The module of this package that plans and executes ``args.command``."""
    return importlib.import_module(f"{__name__}.{command_named(args.command).module}")


def plan(args: argparse.Namespace) -> Any:
    """What ``args`` will run, every name and value checked (usage errors raise here)."""
    return command_module(args).plan(args)


def run(args: argparse.Namespace) -> int:
    """Plan and execute a checked namespace; usage and lookup errors become one line."""
    from ..core.errors import SurrogateLookupError

    try:
        module = command_module(args)
        return int(module.execute(module.plan(args)) or 0)
    except (UsageError, SurrogateLookupError) as error:
        # The project's own messages for bad arguments and unknown names: one line.
        print(f"sc-neurocore {args.command}: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader (`| head`) left: nothing more to say, and no bug
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (Python's own advice)
        return 0
    except Exception:
        return _report_bug(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    """``sc-neurocore`` (the same as :func:`sc_neurocore_cli.main`)."""
    return cli_main(argv)
