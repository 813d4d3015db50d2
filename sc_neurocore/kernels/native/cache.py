"""The compiled-kernel cache: a directory only this user can write, libraries loaded only
when their recorded SHA-256 matches, and one build across processes.

Loading a shared library runs its code in this process, so whoever can write the cache can
run code as the user.  Hence: the directory is created ``0700`` and used only while it is
owned by this user and not writable by group or others (and no parent is writable by
anyone without the sticky bit); otherwise a warning names the problem and this process
builds into a private temporary directory.  Every library is opened without following
symbolic links, must be a regular file of this user, and is loaded only if its SHA-256
equals the one recorded beside it (``<library>.sha256``, written atomically after the
build); anything else is rebuilt.  On Linux the verified open file itself is loaded
(``/proc/self/fd``), so the bytes checked are the bytes run.  Builders of the same
library, in any number of processes, serialise on a file lock: one compiles, the others
load its result.

A cache this process cannot write (baked into a read-only image or mount) still serves
its verified kernels: verification needs no lock, and a kernel missing there is built
into the private directory instead, without a warning.  Each build compiles in its own
scratch folder, locked while it lives; one whose builder was killed is removed by the
next build.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import hmac
import os
import shutil
import stat
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...core.forksafe import after_fork_in_child

__all__ = [
    "ENV_CACHE",
    "KernelFallbackWarning",
    "build_directory",
    "build_lock",
    "cache_dir",
    "scratch_directory",
    "configured_cache_dir",
    "directory_problem",
    "load_verified",
    "record_hash",
    "verify",
    "warn_fallback",
]

ENV_CACHE = "SC_NEUROCORE_CACHE_DIR"
HASH_SUFFIX = ".sha256"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class KernelFallbackWarning(RuntimeWarning):
    """Compiled kernels could not be used (or the cache was unsafe): torch kernels run."""


_warned: set[str] = set()


def warn_fallback(topic: str, message: str) -> None:
    """Warn once per process and ``topic``: a fallback is never silent, nor repeated."""
    if topic in _warned:
        return
    _warned.add(topic)
    warnings.warn(message, KernelFallbackWarning, stacklevel=3)


def configured_cache_dir() -> Path:
    """``$SC_NEUROCORE_CACHE_DIR``, else ``sc_neurocore/native`` in the user's cache directory."""
    configured = os.environ.get(ENV_CACHE)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sc_neurocore" / "native"


def directory_problem(directory: Path) -> str | None:
    """Why ``directory`` must not hold code this process loads, or None if it may."""
    try:
        info = os.lstat(directory)
    except OSError as error:
        return f"it cannot be read: {error}"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.geteuid():
        return f"it is owned by uid {info.st_uid}, not by this user (uid {os.geteuid()})"
    if info.st_mode & 0o022:
        return f"it is writable by its group or by others (mode {stat.filemode(info.st_mode)})"
    for parent in directory.absolute().parents:
        try:
            mode = os.stat(parent).st_mode
        except OSError:
            continue
        if mode & 0o002 and not mode & stat.S_ISVTX:
            return f"its parent {parent} is writable by anyone (so the cache can be swapped)"
    return None


_private: Path | None = None


def _private_dir() -> Path:
    global _private
    if _private is None:
        _private = Path(tempfile.mkdtemp(prefix="sc-neurocore-kernels-"))  # 0700, this user
        atexit.register(shutil.rmtree, _private, ignore_errors=True)
    return _private


def cache_dir() -> Path:
    """The directory kernels are built into and loaded from, checked on every call.

    The configured one (created ``0700``) if it is safe, else a private directory for
    this process, with a :class:`KernelFallbackWarning` that says why.
    """
    directory = configured_cache_dir()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        problem: str | None = f"it cannot be created: {error}"
    else:
        problem = directory_problem(directory)
    if problem is None:
        return directory
    private = _private_dir()
    warn_fallback(
        f"cache:{directory}",
        f"sc-neurocore: not loading compiled kernels from {directory}: {problem}. This process "
        f"builds them into the private directory {private} instead; fix the directory "
        f"(chmod 700, owned by you) or set {ENV_CACHE} (see docs/trust.md).",
    )
    return private


def _open_own_file(path: Path) -> int:
    """An open descriptor on ``path`` if it is this user's regular, non-shared-writable file."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError as error:
        if os.path.islink(path):
            raise PermissionError(f"{path.name} is a symbolic link") from error
        raise
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_uid != os.geteuid():
        problem = f"is owned by uid {info.st_uid}"
    elif info.st_mode & 0o022:
        problem = "is writable by its group or by others"
    if problem is not None:
        os.close(fd)
        raise PermissionError(f"{path.name} {problem}")
    return fd


def _sha256(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, 1 << 20):
        digest.update(chunk)
    os.lseek(fd, 0, os.SEEK_SET)
    return digest.hexdigest()


def _recorded_hash(library: Path) -> str:
    fd = _open_own_file(library.with_name(library.name + HASH_SUFFIX))
    try:
        text = os.read(fd, 256).decode("ascii", "replace").split()
    finally:
        os.close(fd)
    if not text or len(text[0]) != 64:
        raise ValueError(f"{library.name}{HASH_SUFFIX} holds no SHA-256")
    return text[0]


def verify(library: Path) -> int:
    """An open descriptor on ``library`` whose SHA-256 matches its record; raise with why."""
    expected = _recorded_hash(library)
    fd = _open_own_file(library)
    actual = _sha256(fd)
    if not hmac.compare_digest(actual, expected):
        os.close(fd)
        raise ValueError(f"{library.name}: SHA-256 {actual[:12]}... is not the recorded one")
    return fd


def record_hash(library: Path) -> None:
    """Write ``<library>.sha256`` atomically (a reader sees the old record or the new one)."""
    fd = _open_own_file(library)
    try:
        digest = _sha256(fd)
    finally:
        os.close(fd)
    handle, temporary = tempfile.mkstemp(dir=library.parent, prefix=".sha256-")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(f"{digest}  {library.name}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, library.with_name(library.name + HASH_SUFFIX))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


#: Descriptors of loaded libraries, kept open for the process: the dynamic loader knows a
#: library by the name it was opened under, so a reused ``/proc/self/fd/N`` would alias.
_loaded_descriptors: list[int] = []


def _private_copy(fd: int, name: str) -> int | None:
    """The bytes behind ``fd`` copied into a sealed anonymous memory file, or None where
    the platform has none (the file itself is loaded then).

    The process then runs its own copy: a later change to the cache file, even in place
    (a truncation, a rewrite of the same inode), can neither alter nor unmap loaded code.
    """
    create = getattr(os, "memfd_create", None)
    if create is None:
        return None
    try:
        copy = create(f"sc-neurocore-{name}", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except OSError:
        return None
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, 1 << 20):
        os.write(copy, chunk)
    with contextlib.suppress(ImportError, OSError, AttributeError):
        import fcntl

        seals = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
        fcntl.fcntl(copy, fcntl.F_ADD_SEALS, seals)
    return copy


def load_verified(library: Path) -> ctypes.CDLL:
    """Load ``library`` if :func:`verify` accepts it: on Linux a sealed private copy whose
    own SHA-256 matches the record, elsewhere the verified file itself."""
    fd = verify(library)
    copy = _private_copy(fd, library.name)
    if copy is not None:
        os.close(fd)
        if not hmac.compare_digest(_sha256(copy), _recorded_hash(library)):
            os.close(copy)
            raise ValueError(f"{library.name} changed while it was being loaded")
        fd = copy
    by_descriptor = f"/proc/self/fd/{fd}"
    if not (sys.platform.startswith("linux") and os.path.exists(by_descriptor)):
        os.close(fd)
        return ctypes.CDLL(str(library))
    try:
        loaded = ctypes.CDLL(by_descriptor)
    except OSError:
        os.close(fd)
        raise
    _loaded_descriptors.append(fd)
    return loaded


#: Descriptors of the build locks this process holds now.
_held_locks: set[int] = set()


def _close_inherited_locks(module: object) -> None:
    """In a forked child: close the parent's held build locks.  A ``flock`` belongs to the
    open file, which the child's copy of the descriptor would keep locked after the parent
    lets go, for as long as the child lives (and the child itself would wait on it)."""
    for fd in _held_locks:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_locks.clear()


after_fork_in_child(sys.modules[__name__], _close_inherited_locks, "build lock")


def build_directory(directory: Path) -> Path:
    """Where a kernel missing from ``directory`` is built: there, or in the private
    directory where this process cannot write there (a read-only cache)."""
    if os.access(directory, os.W_OK | os.X_OK):
        return directory
    return _private_dir()


#: A build's scratch folder; its ``.owner`` file is locked while the builder lives.
SCRATCH_PREFIX = ".build-"
#: Scratch folders of builders before scratch folders had owners (``tempfile``'s names),
#: removed once older than a build can take.
_UNOWNED_SCRATCH = ("tmp*", 3600.0)


def _remove_abandoned(directory: Path, fcntl: Any) -> None:
    for candidate in directory.glob(SCRATCH_PREFIX + "*"):
        try:
            fd = os.open(candidate / ".owner", os.O_RDWR | _NOFOLLOW | _CLOEXEC)
        except OSError:  # being set up or removed right now
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # its builder is alive
        else:
            shutil.rmtree(candidate, ignore_errors=True)
        finally:
            os.close(fd)
    pattern, age = _UNOWNED_SCRATCH
    for candidate in directory.glob(pattern):
        with contextlib.suppress(OSError):
            if candidate.is_dir() and time.time() - candidate.stat().st_mtime > age:
                shutil.rmtree(candidate, ignore_errors=True)


@contextlib.contextmanager
def scratch_directory(directory: Path) -> Iterator[Path]:
    """A new folder in ``directory`` for one build, removed afterwards; abandoned ones of
    killed builders go first.  Its ``.owner`` is locked before it appears under that name
    (renamed into place), so no other process ever sees an unlocked live folder."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks: a killed build's folder stays
        with tempfile.TemporaryDirectory(dir=directory) as plain:
            yield Path(plain)
        return
    _remove_abandoned(directory, fcntl)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=directory))
    staging = scratch / ".owner-staging"
    fd = os.open(staging, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600)
    _held_locks.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(staging, scratch / ".owner")
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _held_locks.discard(fd)
        os.close(fd)


@contextlib.contextmanager
def build_lock(directory: Path, name: str) -> Iterator[None]:
    """Hold ``<directory>/<name>.lock`` exclusively: one builder of ``name`` at a time,
    across threads and processes (8 DDP ranks starting at once compile once)."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks: builds still end in an atomic rename
        yield
        return
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600)
    _held_locks.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        _held_locks.discard(fd)
        os.close(fd)  # closing releases the lock
