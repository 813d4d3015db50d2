"""The one argument parser of ``sc-neurocore``, built from :mod:`.commands`, without torch.

``--help`` and every usage error are answered here, before the library (and torch) is
imported: the whole command line is checked first, an option given outside its command's
mode is refused naming the option and the mode, and the namespace handed on holds exactly
the options of that mode, each with its value or the mode's default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .commands import COMMANDS
from .options import ONLY, Command, Option

#: The library module that plans and runs a parsed command (imported only then).
RUNNER = "sc_neurocore.cli"


class OneLineErrors(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (``--help`` still shows usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Version(argparse.Action):
    """``--version``: read from the package's version file, without importing the package."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str = argparse.SUPPRESS,
        default: Any = argparse.SUPPRESS,
        help: str | None = None,
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: Any,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.exit(0, f"sc-neurocore {version()}\n")


def version() -> str:
    """``sc_neurocore.__version__``, read from ``core/version.py`` (the one place it is set)."""
    import importlib.util
    import runpy

    spec = importlib.util.find_spec("sc_neurocore")
    if spec is None or not spec.submodule_search_locations:
        return "unknown"
    path = Path(next(iter(spec.submodule_search_locations))) / "core" / "version.py"
    return str(runpy.run_path(str(path))["__version__"])


def _shown(value: Any, option: Option) -> str:
    if value is None:
        return option.unset
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _help(command: Command, option: Option) -> str:
    """The option's help and its default; per mode where the modes' defaults differ."""
    if option.switch or option.positional or option.kwargs.get("action") == "append":
        return option.help
    modes = [mode for mode in command.modes if option.applies_to(mode)]
    shown = {mode: _shown(option.default_in(mode), option) for mode in modes}
    if not any(shown.values()):
        return option.help
    if len(set(shown.values())) == 1:
        return f"{option.help} (default: {next(iter(shown.values()))})"
    labels = {**command.modes, **command.labels}
    per_mode = "; ".join(f"{labels[mode]}: {text}" for mode, text in shown.items())
    return f"{option.help} (default: {per_mode})"


def _add_command(subparsers: Any, command: Command) -> None:
    parser = subparsers.add_parser(
        command.name,
        help=command.help,
        description=textwrap.fill(command.description, 88),
        epilog=command.epilog or None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups: dict[tuple[str, ...] | None, Any] = {}
    for option in command.options:
        modes = None if option.modes == tuple(command.modes) else option.modes
        if modes not in groups:
            groups[modes] = (
                parser
                if modes is None
                else parser.add_argument_group(
                    "only for " + " and ".join(command.modes[mode] for mode in modes)
                )
            )
        extra = {} if option.positional else {"default": argparse.SUPPRESS}
        groups[modes].add_argument(
            *option.flags, help=_help(command, option), **extra, **option.kwargs
        )
    parser.set_defaults(command=command.name)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; options left out are absent from its namespace."""
    parser = OneLineErrors(
        prog="sc-neurocore",
        description="Surrogate-gradient spiking networks with pluggable execution paths.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = False
    for command in COMMANDS:
        _add_command(subparsers, command)
    return parser


def command_named(name: str) -> Command:
    return next(command for command in COMMANDS if command.name == name)


def subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name`` (for its prog and its usage errors)."""
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]  # type: ignore[no-any-return]
    raise KeyError(name)


def mode_error(command: Command, option: Option, mode: str) -> str:
    """The one message for an option given in a mode it does not apply to."""
    others = [command.modes[other] for other in command.modes if option.applies_to(other)]
    return f"{option.flags[0]} does not apply to {command.modes[mode]}; it applies to " + (
        " and ".join(others)
    )


def complete(command: Command, given: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    """``(mode, every option of the mode with its value)``, or the usage error's message."""
    mode = command.mode_of(given)
    for option in command.options:
        if option.dest in given and not option.applies_to(mode):
            return mode_error(command, option, mode)
    values = {
        option.dest: given.get(option.dest, option.default_in(mode))
        for option in command.options
        if option.applies_to(mode)
    }
    return mode, values


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace | None:
    """The checked namespace of ``argv`` (``None``: no command); exits 2 on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return None
    command = command_named(args.command)
    given = {key: value for key, value in vars(args).items() if key != "command"}
    checked = complete(command, given)
    if isinstance(checked, str):
        subparser(parser, command.name).error(checked)
    mode, values = checked
    return argparse.Namespace(command=command.name, mode=mode, **values)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sc-neurocore``: parse and check here, then run in the library."""
    try:
        args = parse(argv)
    except SystemExit as done:  # --help, --version, a usage error: argparse's exit status
        return done.code if isinstance(done.code, int) else 1
    if args is None:
        return 0
    runner = importlib.import_module(RUNNER)
    return int(runner.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["ONLY", "OneLineErrors", "build_parser", "complete", "main", "mode_error", "parse"]
