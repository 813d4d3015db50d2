"""The ``sc-neurocore`` command line: its commands, options and checks, without torch.

Everything that answers ``--help`` or refuses a command line lives here, outside the
``sc_neurocore`` package (whose import pulls in torch); a checked command is then planned
and run by :mod:`sc_neurocore.cli`.
"""

from .commands import COMMANDS
from .options import Command, Option
from .parser import build_parser, complete, main, mode_error, parse

__all__ = [
    "COMMANDS",
    "Command",
    "Option",
    "build_parser",
    "complete",
    "main",
    "mode_error",
    "parse",
]
