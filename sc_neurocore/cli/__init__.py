"""The ``sc-neurocore`` command: each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

#: Modules that each add their subcommands through ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("listing", "kernels", "check", "bench", "train", "sweep")


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


class _OneLineErrors(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (``--help`` still shows usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _OneLineErrors(
        prog="sc-neurocore",
        description="Surrogate-gradient spiking networks with pluggable execution paths.",
    )
    parser.add_argument("--version", action="version", version=f"sc-neurocore {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{module}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    from ..core.errors import SurrogateLookupError

    try:
        return int(handler(args) or 0)
    except (UsageError, SurrogateLookupError) as error:
        # The project's own messages for bad arguments and unknown names: one line.
        print(f"sc-neurocore {args.command}: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
    except Exception:
        return _report_bug(args.command)
