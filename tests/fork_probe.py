"""Fork while another thread holds one of the package's locks; run by tests/test_fork_safety.py
as ``python -m tests.fork_probe CASE...`` (``locks``: every lock case) in its own process, so
a deadlocked child cannot hang pytest. Prints one JSON line per case:
``{"case": ..., "child": exit status or signal}``.

The child runs what needs the lock under ``alarm``: a deadlock ends it by SIGALRM.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch

import sc_neurocore
from sc_neurocore.core.registry import default_registry
from sc_neurocore.kernels import buffers
from sc_neurocore.kernels.native import cache
from sc_neurocore.kernels.native.neuron import kernels as neuron_kernels
from sc_neurocore.paths import custom_op

CHILD_SECONDS = 10
BUILD_DIRECTORY = Path(tempfile.mkdtemp(prefix="fork-probe-"))


def _in_child_registry() -> None:
    sc_neurocore.refresh_plugins()
    x = torch.linspace(-1, 1, 5, requires_grad=True)
    sc_neurocore.get_surrogate("atan", "legacy_autograd", alpha=3.0)(x).sum().backward()


def _in_child_custom_op() -> None:
    x = torch.linspace(-1, 1, 5, requires_grad=True)
    sc_neurocore.get_surrogate("triangular", "custom_op")(x).sum().backward()


def _in_child_build_lock() -> None:
    while not (BUILD_DIRECTORY / "checked").exists():  # the parent let go and relocked
        time.sleep(0.01)
    with cache.build_lock(BUILD_DIRECTORY, "probe"):
        pass


#: case -> (what the parent's thread holds, what the child then does)
CASES: dict[str, tuple[Callable[[], AbstractContextManager[Any]], Callable[[], None]]] = {
    "registry": (lambda: default_registry._lock, _in_child_registry),
    "kernel table": (
        lambda: neuron_kernels._lock,
        lambda: neuron_kernels.get(("probe", "probe"), lambda: "not built"),
    ),
    "buffer pool": (
        lambda: buffers.pool._lock,
        lambda: buffers.sequence_buffer(torch.empty(16, 8, 4096)).fill_(1.0),
    ),
    "custom_op definitions": (lambda: custom_op._lock, _in_child_custom_op),
    "build lock": (lambda: cache.build_lock(BUILD_DIRECTORY, "probe"), _in_child_build_lock),
}


def probe(case: str) -> dict[str, Any]:
    hold, in_child = CASES[case]
    sc_neurocore.list_surrogates()  # discovered before the fork, as in a training script
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with hold():
            held.set()
            release.wait()

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    started = BUILD_DIRECTORY / f"started {case}"
    pid = os.fork()
    if pid == 0:
        import signal

        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(CHILD_SECONDS)
        started.touch()  # the after-fork resets have run by now
        try:
            in_child()
        except BaseException as error:  # noqa: BLE001 - report, never hang
            print(f"child failed: {error!r}", file=sys.stderr)
            os._exit(3)
        os._exit(0)
    deadline = time.monotonic() + CHILD_SECONDS
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # the parent lets go only once the child runs
    release.set()
    thread.join()
    result: dict[str, Any] = {"case": case}
    if case == "build lock":  # the child must not keep the parent's lock after its release
        import fcntl

        fd = os.open(BUILD_DIRECTORY / "probe.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            result["parent relocks"] = True
        except BlockingIOError:
            result["parent relocks"] = False
        finally:
            os.close(fd)
            (BUILD_DIRECTORY / "checked").touch()
    _, status = os.waitpid(pid, 0)
    result["child"] = (
        os.WEXITSTATUS(status) if os.WIFEXITED(status) else f"signal {os.WTERMSIG(status)}"
    )
    return result


class _Surrogates(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Each item resolves a (surrogate, path) pair: a worker builds pairs under the lock."""

    def __init__(self) -> None:
        names = sc_neurocore.list_surrogates()
        self.pairs = [(name, path) for name in names for path in ("custom_op", "legacy_autograd")]

    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> torch.Tensor:
        name, path = self.pairs[index % len(self.pairs)]
        x = torch.linspace(-1, 1, 4, requires_grad=True)
        sc_neurocore.get_surrogate(name, path)(x).sum().backward()
        assert x.grad is not None
        return x.grad


def dataloader(epochs: int = 6) -> dict[str, Any]:
    """``fork`` DataLoader workers started while another thread refreshes the plugins."""
    stop = threading.Event()

    def refresher() -> None:
        while not stop.is_set():
            sc_neurocore.refresh_plugins()

    thread = threading.Thread(target=refresher)
    thread.start()
    loader = torch.utils.data.DataLoader(
        _Surrogates(), batch_size=8, num_workers=2, multiprocessing_context="fork", timeout=30
    )
    try:
        batches = sum(1 for _ in range(epochs) for _ in loader)
    finally:
        stop.set()
        thread.join()
    return {"case": "dataloader", "batches": batches}


if __name__ == "__main__":
    for case in sorted(CASES) if sys.argv[1:] == ["locks"] else sys.argv[1:]:
        print(json.dumps(dataloader() if case == "dataloader" else probe(case)), flush=True)
