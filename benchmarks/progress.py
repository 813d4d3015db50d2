"""A one-line progress indication on stderr (a rewritten line on a terminal)."""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """``[lif 3/10] snnTorch Leaky``: which section and step the benchmark is on."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.tty = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.section = ""
        self.total = 0
        self.done = 0
        self._width = 0

    def start(self, section: str, total: int) -> None:
        self.section, self.total, self.done = section, max(total, 1), 0

    def step(self, label: str) -> None:
        self.done += 1
        self._write(f"[{self.section} {self.done}/{self.total}] {label}")

    def note(self, message: str) -> None:
        self._write(f"[{self.section}] {message}")

    def _write(self, line: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            padding = " " * max(0, self._width - len(line))
            self.stream.write("\r" + line + padding)
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
