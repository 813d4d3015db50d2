"""The ``sc-neurocore`` command: each subcommand lives in its own module of this package."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

#: Modules that each add their subcommands through ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("listing", "check", "bench", "train")


class UsageError(Exception):
    """Bad arguments: reported on stderr in one line, exit status 2."""


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
    try:
        return int(handler(args) or 0)
    except (UsageError, LookupError, ValueError, TypeError) as error:
        print(f"sc-neurocore {args.command}: error: {error}".splitlines()[0], file=sys.stderr)
        return 2
