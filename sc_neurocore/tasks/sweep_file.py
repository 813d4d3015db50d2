"""A sweep's JSON-lines file: reading it (a corrupt line is counted and named, never
guessed at), appending one result, and claims through which several sweeps writing one
file share its runs instead of each doing all of them.

A claim is a file ``<out>.claims/<hash of the run key>`` that its sweep holds an exclusive
``flock`` on while the run trains; the kernel drops the lock when that process ends in
any way, so a claim of a killed sweep is free again at once (no timeouts, no PIDs).  A
claimer re-reads the results after winning a claim, so a run finished meanwhile is never
repeated.  Where ``fcntl`` is missing every claim succeeds (each sweep runs everything).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sweep_key import REQUIRED, run_key

__all__ = ["Claims", "SweepLines", "append", "completed_keys", "read_lines", "read_sweep"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass
class SweepLines:
    """The result lines of sweep files, and ``file:line: why`` for each line skipped."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _problem(text: str) -> tuple[dict[str, Any] | None, str]:
    if "\0" in text:
        return None, "NUL bytes (a torn write)"
    try:
        row = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"not JSON ({error.msg}; a line cut short?)"
    if not isinstance(row, dict):
        return None, f"a JSON {type(row).__name__}, not an object"
    missing = [name for name in REQUIRED if name not in row]
    if missing:
        return None, f"lacks {', '.join(missing)}"
    return row, ""


def read_sweep(*paths: str | Path) -> SweepLines:
    """Every complete result line of ``paths`` (missing files hold none), and the skipped."""
    lines = SweepLines()
    for path in map(Path, paths):
        if not path.exists():
            continue
        with path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
                text = raw.decode("utf-8", "replace").strip()
                if not text:
                    continue
                row, why = _problem(text)
                if row is None:
                    lines.skipped.append(f"{path.name}:{number}: {why}")
                else:
                    lines.rows.append(row)
    return lines


def read_lines(path: str | Path) -> Iterator[dict[str, Any]]:
    """The complete result lines of one sweep file (see :func:`read_sweep` for the rest)."""
    yield from read_sweep(path).rows


def completed_keys(path: str | Path) -> set[str]:
    return {run_key(row) for row in read_lines(path)}


def _ends_mid_line(path: Path) -> bool:
    """Whether an interrupted write left a partial last line (the next line must not join it)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) != b"\n"


def append(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` as one line in one write, flushed to disk."""
    start = "\n" if _ends_mid_line(path) else ""
    with path.open("a", encoding="utf-8") as file:
        file.write(start + json.dumps(row) + "\n")
        file.flush()
        os.fsync(file.fileno())


class Claims:
    """This process's claims on runs of the sweep file ``out`` (see the module docstring)."""

    def __init__(self, out: Path) -> None:
        self.directory = out.with_name(out.name + ".claims")
        self._held: dict[str, int] = {}

    def _path(self, key: str) -> Path:
        return self.directory / hashlib.sha256(key.encode()).hexdigest()[:32]

    def claim(self, key: str) -> bool:
        """Take the claim on ``key`` unless a live sweep holds it (never waits)."""
        try:
            import fcntl
        except ImportError:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o600)
            except FileNotFoundError:  # another sweep removed the emptied directory
                self.directory.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the holder may have finished and unlinked it between our open and lock
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._held[key] = fd
                return True
            os.close(fd)

    def release(self, key: str) -> None:
        fd = self._held.pop(key, None)
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self._path(key))
        os.close(fd)  # unlinked while still locked: a waiting claimer sees a stale inode
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # only when no other claim is left in it

    def release_all(self) -> None:
        for key in list(self._held):
            self.release(key)
