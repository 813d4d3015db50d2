"""A forked child (a DataLoader worker, a multiprocessing ``fork`` pool) never inherits a
lock another thread held at the fork: each case forks with the lock held, in its own
process, and the child must finish its work within seconds (tests/fork_probe.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sc_neurocore.core import forksafe

from .fork_probe import CASES

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")


def _probe(case: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.fork_probe", case],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def lock_cases() -> dict[str, dict[str, Any]]:
    """Every lock case, forked one after another in one fresh process."""
    return {result["case"]: result for result in _probe("locks")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_child_forked_while_a_thread_holds_the_lock_does_not_deadlock(
    case: str, lock_cases: dict[str, dict[str, Any]]
) -> None:
    result = lock_cases[case]
    assert result["child"] == 0, result
    assert result.get("parent relocks", True), result  # nor keeps the parent's build lock


def test_fork_dataloader_workers_while_the_parent_refreshes_plugins() -> None:
    assert _probe("dataloader")[0]["batches"] == 6 * 8


def test_every_lock_reset_at_fork_is_probed() -> None:
    """What the package registers for a reset is what tests/fork_probe.py forks under."""
    probed = {"registry", "kernel table", "buffer pool", "custom_op definitions", "build lock"}
    assert set(CASES) == probed
    assert {reset.kind for reset in forksafe.registered()} <= probed | {"triton kernels"}
