"""The kernel cache under faults: a read-only cache (a real read-only bind mount), a builder
killed mid-compile, a compiler that fails without a word."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from sc_neurocore.kernels.native import build, cache

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

SOURCES = {
    "probe": "int sc_probe(void) { return 41; }\n",
    "missing": "int sc_probe(void) { return 42; }\n",
}


def _declare(library: ctypes.CDLL) -> None:
    library.sc_probe.restype = ctypes.c_int


def _load(stem: str) -> ctypes.CDLL | str:
    return build.load_library(stem, lambda options: SOURCES[stem], _declare)


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_warned", set())
    monkeypatch.setattr(cache, "_private", None)


def _mount(*args: str) -> str:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    return "" if result.returncode == 0 else (result.stderr or result.stdout).strip()


@pytest.fixture
def read_only_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> Iterator[Path]:
    """A cache holding the verified ``probe`` kernel, then mounted read-only."""
    writable, mounted = tmp_path / "built", tmp_path / "read-only"
    monkeypatch.setenv(cache.ENV_CACHE, str(writable))
    built = _load("probe")
    assert not isinstance(built, str), built  # built and verified while writable
    mounted.mkdir(mode=0o700)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("cannot mount a read-only bind mount here: not root or no mount command")
    problem = _mount("--bind", str(writable), str(mounted))
    if problem:
        pytest.skip(f"cannot mount a read-only bind mount here: {problem}")
    try:
        problem = _mount("-o", "remount,ro,bind", str(mounted))
        if problem:
            pytest.skip(f"cannot mount a read-only bind mount here: {problem}")
        monkeypatch.setenv(cache.ENV_CACHE, str(mounted))
        monkeypatch.setattr(cache, "_warned", set())
        build.compiler_identity.cache_clear()
        yield mounted
    finally:
        subprocess.run(["umount", str(mounted)], check=False)


def test_verified_kernels_in_a_read_only_cache_load_without_a_lock_or_warning(
    read_only_cache: Path,
) -> None:
    with pytest.raises(OSError):
        (read_only_cache / "probe").touch()  # it really is read-only
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache.KernelFallbackWarning)
        loaded = _load("probe")
    assert not isinstance(loaded, str), loaded
    assert loaded.sc_probe() == 41
    assert cache._private is None  # loaded from the read-only cache itself


def test_a_kernel_missing_from_a_read_only_cache_builds_privately(read_only_cache: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", cache.KernelFallbackWarning)
        loaded = _load("missing")
    assert not isinstance(loaded, str), loaded
    assert loaded.sc_probe() == 42
    assert cache._private is not None and list(cache._private.glob("missing_*.so"))
    assert not list(read_only_cache.glob("missing_*"))


def test_a_builder_killed_mid_compile_leaves_no_scratch_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    directory = tmp_path / "cache"
    slow = tmp_path / "slow-cc.sh"
    slow.write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo slow cc; exit 0; fi\nsleep 60\n'
    )
    environment = {**os.environ, cache.ENV_CACHE: str(directory), "CC": f"sh {slow}"}
    builder = subprocess.Popen(
        [sys.executable, "-c", "import tests.test_kernel_cache_faults as t; t._load('probe')"],
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _scratch(directory):
        time.sleep(0.05)
    assert _scratch(directory), "the builder never started compiling"
    os.kill(builder.pid, signal.SIGKILL)
    builder.wait(timeout=30)
    monkeypatch.setenv(cache.ENV_CACHE, str(directory))
    loaded = _load("probe")  # the next build, with the real compiler
    assert not isinstance(loaded, str) and loaded.sc_probe() == 41
    assert _scratch(directory) == []


def _scratch(directory: Path) -> list[Path]:
    if not directory.exists():
        return []
    return [path for path in directory.iterdir() if path.is_dir()]


def test_a_compiler_failing_without_output_gives_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    monkeypatch.setenv(cache.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("CC", "false")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reason = _load("probe")
    assert isinstance(reason, str)
    assert "false" in reason and "exit status 1" in reason and "no output" in reason
    assert any("exit status 1" in str(w.message) for w in caught)
