"""``sc-neurocore check``: run the conformance kit (``pytest -p sc_neurocore.testing``).

Exit status: 0 when every selected check passed (or nothing was selected), 1 when a
check failed, 2 for bad arguments (unknown names come with a suggestion).
"""

from __future__ import annotations

import argparse


def plan(args: argparse.Namespace) -> list[str]:
    """The pytest command line of the selection, checked (a typo is a one-line usage error)."""
    from ..testing import CONFORMANCE_MODULE, select_neuron_cases, select_pairs
    from .listing import loading

    loading(lambda: select_pairs(args.surrogate, args.path, args.distribution))
    loading(lambda: select_neuron_cases(args.neuron, args.surrogate, args.distribution))
    argv = [str(CONFORMANCE_MODULE), "-p", "sc_neurocore.testing", "-p", "no:cacheprovider"]
    for option, values in (
        ("--sc-surrogate", args.surrogate),
        ("--sc-path", args.path),
        ("--sc-neuron", args.neuron),
        ("--sc-distribution", args.distribution),
        ("--sc-device", args.device),
    ):
        for value in values:
            argv += [option, value]
    argv += ["--sc-compile-backend", args.compile_backend]
    if args.keyword is not None:
        argv += ["-k", args.keyword]
    argv += ["-x"] if args.exitfirst else []
    argv += ["-v"] if args.verbose else ["-q"]
    return argv


def execute(argv: list[str]) -> int:
    try:
        import pytest
    except ImportError:  # pytest is a test-time dependency, not a runtime one
        from . import UsageError

        raise UsageError("the conformance kit needs pytest: pip install pytest") from None
    code = int(pytest.main(argv))
    return 0 if code == int(pytest.ExitCode.NO_TESTS_COLLECTED) else code
