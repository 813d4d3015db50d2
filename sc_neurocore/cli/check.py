"""``sc-neurocore check``: run the conformance kit (``pytest -p sc_neurocore.testing``).

Exit status: 0 when every selected check passed (or nothing was selected), 1 when a
check failed, 2 for bad arguments (unknown names come with a suggestion).
"""

from __future__ import annotations

import argparse
from typing import Any


def check_command(args: argparse.Namespace) -> int:
    try:
        import pytest
    except ImportError:  # pytest is a test-time dependency, not a runtime one
        from . import UsageError

        raise UsageError("the conformance kit needs pytest: pip install pytest") from None
    from ..testing import CONFORMANCE_MODULE, select_pairs
    from .listing import loading

    # Validate the selection here so that a typo is a one-line usage error.
    loading(lambda: select_pairs(args.surrogate or (), args.path or (), args.distribution or ()))
    argv = [str(CONFORMANCE_MODULE), "-p", "sc_neurocore.testing", "-p", "no:cacheprovider"]
    for option, values in (
        ("--sc-surrogate", args.surrogate),
        ("--sc-path", args.path),
        ("--sc-distribution", args.distribution),
        ("--sc-device", args.device),
    ):
        for value in values or ():
            argv += [option, value]
    argv += ["--sc-compile-backend", args.compile_backend]
    if args.keyword:
        argv += ["-k", args.keyword]
    argv += ["-x"] if args.exitfirst else []
    argv += ["-v"] if args.verbose else ["-q"]
    code = int(pytest.main(argv))
    return 0 if code == int(pytest.ExitCode.NO_TESTS_COLLECTED) else code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="run the conformance kit over registered (surrogate, path) pairs",
        description="Run the conformance matrix (pytest -p sc_neurocore.testing) over every "
        "registered (surrogate, path) pair, or the subset selected below.",
    )
    parser.add_argument("--surrogate", "-s", action="append", metavar="NAME", help="repeatable")
    parser.add_argument("--path", "-p", action="append", metavar="NAME", help="repeatable")
    parser.add_argument(
        "--distribution",
        "-d",
        action="append",
        metavar="DIST",
        help="pairs whose surrogate or path comes from this distribution (repeatable)",
    )
    parser.add_argument("--device", action="append", metavar="DEVICE", help="default: cpu (+cuda)")
    parser.add_argument("--compile-backend", default="aot_eager", metavar="BACKEND")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression")
    parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per check")
    parser.set_defaults(handler=check_command)
