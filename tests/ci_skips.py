"""Under ``CI=true`` a test may not pass by skipping what CI is supposed to have.

CI installs the ``dev`` and ``examples`` extras, has a C compiler and runs as root (so it
can mount), so a skip whose reason is a missing compiler, a mount that cannot be made or a
module from those extras means the fast path or the feature went untested: the report is
turned into a failure.  GPU-only skips stay skips
(CI has no GPU: the reason must say a CUDA device is what is missing, see GPU_ONLY), as
do skips that say a case does not apply.

A pytest plugin: ``tests/conftest.py`` imports its hook; ``-p tests.ci_skips`` loads it
elsewhere.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The extras .ci/run installs.
CI_EXTRAS = ("dev", "examples")
COMPILER = re.compile(r"compil|\bC compiler\b|\bcc\b", re.IGNORECASE)
#: A reason that says a CUDA device is what is missing (needs one, has none, runs only on
#: one), not one that merely mentions a GPU: "triton is not installed (needed for the GPU
#: kernels)" names a CI extra, and fails.
GPU_ONLY = re.compile(
    r"\bneeds?\b[^.;:]*\b(CUDA|GPU)\b"
    r"|\b(CUDA|GPU)\b( device)? is not available"
    r"|\bno (CUDA|GPU)\b"
    r"|\bwithout (a )?(CUDA|GPU)\b"
    r"|\bruns? on CUDA tensors\b",
    re.IGNORECASE,
)
#: A test that needs a mount (the read-only kernel cache): CI runs as root on a machine
#: where ``mount --bind`` and a read-only remount work, so such a skip hides a failure.
MOUNT = re.compile(r"\bcannot mount\b", re.IGNORECASE)
#: A case that does not apply to this surrogate (nothing is missing from the machine).
NOT_APPLICABLE = re.compile(r"has no (c_grad|formula|grad_mul)\b")
WORD = re.compile(r"[A-Za-z_][\w.\-]*")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower()


@lru_cache(maxsize=1)
def ci_modules() -> frozenset[str]:
    """Distribution and import names of everything the CI extras install."""
    if sys.version_info >= (3, 11):
        import tomllib

        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        extras = project.get("optional-dependencies", {})
        distributions = {_requirement_name(r) for e in CI_EXTRAS for r in extras.get(e, [])}
    else:  # pragma: no cover - CI runs 3.11
        distributions = set()
    names = set()
    for distribution in distributions:
        names |= {distribution, distribution.replace("-", "_")}
    for module, owners in metadata.packages_distributions().items():
        if any(owner.lower() in distributions for owner in owners):
            names.add(module.lower())
    return frozenset(names)


def must_run_in_ci(reason: str, modules: frozenset[str] | None = None) -> str | None:
    """What CI has that this skip says is missing, or None if the skip is legitimate."""
    if GPU_ONLY.search(reason) or NOT_APPLICABLE.search(reason):
        return None
    if COMPILER.search(reason):
        return "a C compiler"
    if MOUNT.search(reason):
        return "root and mount (CI runs as root)"
    modules = ci_modules() if modules is None else modules
    for word in WORD.findall(reason):
        if word.lower().strip(".-") in modules:
            return f"{word} (installed by the {'/'.join(CI_EXTRAS)} extras)"
    return None


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    missing = must_run_in_ci(reason)
    if missing is not None:
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under CI=true, but CI must have {missing}: {reason}\n"
            "(a skip of what CI is supposed to have hides a failure; see tests/ci_skips.py)"
        )
