"""The compiled-kernel cache cannot be planted: attacks on it, and builds across processes.

Each attack puts code at the place a kernel is loaded from (a foreign library, a symlink,
a truncated file, a directory others can write) whose constructor would leave a marker
file if it ever ran; the tests show the marker never appears and the real kernel loads.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import stat
import subprocess
import threading
import time
import warnings
from pathlib import Path

import pytest

from sc_neurocore.kernels.native import build, cache

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

REAL = "int sc_probe(void) { return 41; }\n"
PLANTED = """
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    const char *marker = getenv("SC_PLANTED_MARKER");
    if (marker) { FILE *f = fopen(marker, "w"); if (f) fclose(f); }
}
int sc_probe(void) { return 666; }
"""


def _declare(library: ctypes.CDLL) -> None:
    library.sc_probe.restype = ctypes.c_int


def _load(stem: str = "probe") -> ctypes.CDLL | str:
    return build.load_library(stem, lambda options: REAL, _declare)


@pytest.fixture
def kernel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache" / "native"
    monkeypatch.setenv(cache.ENV_CACHE, str(directory))
    monkeypatch.setenv("SC_PLANTED_MARKER", str(tmp_path / "PLANTED_CODE_RAN"))
    monkeypatch.setattr(cache, "_warned", set())
    monkeypatch.setattr(cache, "_private", None)
    return directory


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    source = tmp_path / "planted.c"
    source.write_text(PLANTED)
    library = tmp_path / "planted.so"
    subprocess.run(["cc", "-shared", "-fPIC", str(source), "-o", str(library)], check=True)
    return library


def _built(directory: Path, stem: str = "probe") -> Path:
    (library,) = directory.glob(f"{stem}_*.so")
    return library


def _assert_real_kernel_loaded(found: ctypes.CDLL | str, tmp_path: Path) -> None:
    assert not isinstance(found, str), found
    assert found.sc_probe() == 41
    assert not (tmp_path / "PLANTED_CODE_RAN").exists(), "planted code ran"


def _record(library: Path, of: Path) -> None:
    """What an attacker would write: a record matching the planted file."""
    import hashlib

    digest = hashlib.sha256(of.read_bytes()).hexdigest()
    library.with_name(library.name + cache.HASH_SUFFIX).write_text(f"{digest}  x\n")


def test_the_cache_directory_is_created_private_with_a_hash_beside_each_library(
    kernel_cache: Path, tmp_path: Path
) -> None:
    _assert_real_kernel_loaded(_load(), tmp_path)
    assert stat.S_IMODE(kernel_cache.stat().st_mode) == 0o700
    library = _built(kernel_cache)
    recorded = library.with_name(library.name + cache.HASH_SUFFIX).read_text().split()[0]
    import hashlib

    assert recorded == hashlib.sha256(library.read_bytes()).hexdigest()


@pytest.mark.parametrize("keep_record", [True, False], ids=["stale-record", "no-record"])
def test_a_foreign_library_at_the_kernel_name_is_rebuilt_not_loaded(
    kernel_cache: Path, tmp_path: Path, planted: Path, keep_record: bool
) -> None:
    _load()
    library = _built(kernel_cache)
    shutil.copyfile(planted, library)
    if not keep_record:
        library.with_name(library.name + cache.HASH_SUFFIX).unlink()
    _assert_real_kernel_loaded(_load(), tmp_path)


def test_a_symlink_is_never_loaded_even_with_a_matching_record(
    kernel_cache: Path, tmp_path: Path, planted: Path
) -> None:
    _load()
    library = _built(kernel_cache)
    library.unlink()
    library.symlink_to(planted)
    _record(library, planted)
    with pytest.raises(PermissionError, match="symbolic link"):
        cache.verify(library)
    _assert_real_kernel_loaded(_load(), tmp_path)
    assert not library.is_symlink()
    assert planted.read_bytes() != library.read_bytes()  # the link was replaced, not followed


def test_a_truncated_library_is_rebuilt(kernel_cache: Path, tmp_path: Path) -> None:
    _load()
    library = _built(kernel_cache)
    data = library.read_bytes()
    library.write_bytes(data[: len(data) // 2])
    _assert_real_kernel_loaded(_load(), tmp_path)
    assert library.read_bytes() == data


def test_a_library_others_can_write_is_refused(kernel_cache: Path, tmp_path: Path) -> None:
    _load()
    library = _built(kernel_cache)
    library.chmod(0o666)
    with pytest.raises(PermissionError, match="writable by its group or by others"):
        cache.verify(library)
    _assert_real_kernel_loaded(_load(), tmp_path)


def _plant_everything(directory: Path, planted: Path) -> None:
    """The planted library at the kernel's name, with a record that matches it."""
    for library in directory.glob("probe_*.so"):
        shutil.copyfile(planted, library)
        _record(library, planted)


def test_a_world_writable_cache_directory_is_not_used(
    kernel_cache: Path, tmp_path: Path, planted: Path
) -> None:
    _load()
    _plant_everything(kernel_cache, planted)
    kernel_cache.chmod(0o777)
    with pytest.warns(cache.KernelFallbackWarning, match="writable by its group or by others"):
        found = _load()
    _assert_real_kernel_loaded(found, tmp_path)
    assert cache.cache_dir() != kernel_cache


def test_a_symlinked_cache_directory_is_not_used(
    kernel_cache: Path, tmp_path: Path, planted: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    kernel_cache.parent.mkdir(parents=True)
    elsewhere.mkdir(mode=0o700)
    kernel_cache.symlink_to(elsewhere)
    with pytest.warns(cache.KernelFallbackWarning, match="symbolic link"):
        _assert_real_kernel_loaded(_load(), tmp_path)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a directory's owner needs root")
def test_a_cache_directory_owned_by_someone_else_is_not_used(
    kernel_cache: Path, tmp_path: Path, planted: Path
) -> None:
    _load()
    _plant_everything(kernel_cache, planted)
    os.chown(kernel_cache, 4321, -1)
    with pytest.warns(cache.KernelFallbackWarning, match="owned by uid 4321"):
        _assert_real_kernel_loaded(_load(), tmp_path)


def test_a_world_writable_parent_without_sticky_bit_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "open"
    parent.mkdir()
    parent.chmod(0o777)
    (parent / "native").mkdir(mode=0o700)
    assert "writable by anyone" in str(cache.directory_problem(parent / "native"))
    parent.chmod(0o1777)  # like /tmp: others cannot rename what is ours
    assert cache.directory_problem(parent / "native") is None


def _wrapper(tmp_path: Path, name: str, version: str, delay: float = 0.0) -> Path:
    """A compiler wrapper that logs each compile; its --version prints ``version``."""
    script = tmp_path / f"{name}.sh"
    log = tmp_path / f"{name}.log"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi\n'
        f'echo compile >> "{log}"\n'
        f"sleep {delay}\n"
        'exec cc "$@"\n'
    )
    return script


def _compiles(tmp_path: Path, name: str) -> int:
    log = tmp_path / f"{name}.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_cc_is_split_like_a_shell_and_the_compiler_identity_is_in_the_key(
    kernel_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = []
    for version in ("wrapped cc 1.0", "wrapped cc 2.0"):
        script = _wrapper(tmp_path, version.replace(" ", "_"), version)
        monkeypatch.setenv("CC", f"sh {script}")  # a command with an argument, like "ccache gcc"
        _assert_real_kernel_loaded(_load(), tmp_path)
        assert _compiles(tmp_path, version.replace(" ", "_")) == 1
        names.append({path.name for path in kernel_cache.glob("probe_*.so")})
    assert len(names[0]) == 1 and len(names[1]) == 2, "a new compiler version must rebuild"


def _rank(barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:
    barrier.wait()
    found = _load("ranks")
    results.put(found if isinstance(found, str) else found.sc_probe())


def test_eight_processes_starting_at_once_build_once(
    kernel_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _wrapper(tmp_path, "slow", "slow cc", delay=0.5)
    monkeypatch.setenv("CC", f"sh {script}")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    ranks = [context.Process(target=_rank, args=(barrier, results)) for _ in range(8)]
    for rank in ranks:
        rank.start()
    outcomes = [results.get(timeout=120) for _ in ranks]
    for rank in ranks:
        rank.join(timeout=60)
    assert outcomes == [41] * 8
    assert _compiles(tmp_path, "slow") == 1


def test_the_registry_is_usable_while_a_kernel_compiles(
    kernel_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import sc_neurocore
    from sc_neurocore.kernels.native import neuron as native
    from sc_neurocore.kernels.native.build import KernelTable
    from sc_neurocore.neurons.fused import LIF

    monkeypatch.setattr(native, "kernels", KernelTable())
    script = _wrapper(tmp_path, "slowlif", "slow lif cc", delay=3.0)
    monkeypatch.setenv("CC", f"sh {script}")
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("superspike"))
    worker = threading.Thread(target=layer, args=(torch.ones(3, 2, 4),))
    worker.start()
    deadline = time.monotonic() + 60
    while _compiles(tmp_path, "slowlif") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _compiles(tmp_path, "slowlif") == 1
    started = time.monotonic()
    assert "atan" in sc_neurocore.list_surrogates()
    sc_neurocore.get_surrogate("sigmoid", "legacy_autograd")(torch.zeros(2))
    assert worker.is_alive() and time.monotonic() - started < 2.0, "the registry waited"
    worker.join(timeout=120)


def test_falling_back_to_torch_kernels_warns_once_per_process_with_the_reason(
    kernel_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-sc-neurocore")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert "no C compiler" in str(_load("probe_a"))
        assert "no C compiler" in str(_load("probe_b"))
    fallbacks = [w for w in caught if issubclass(w.category, cache.KernelFallbackWarning)]
    assert len(fallbacks) == 1
    assert "no C compiler found" in str(fallbacks[0].message)
    assert "torch kernels" in str(fallbacks[0].message)


def test_the_compiled_kernels_are_never_handed_memory_they_do_not_own() -> None:
    """Defence in depth behind the layer's checks: a meta tensor stops before the C call
    with an error naming the argument, as does a state of another dtype."""
    import torch

    import sc_neurocore
    from sc_neurocore.core.step_program import program_of
    from sc_neurocore.kernels.native.neuron import native_neuron

    program = program_of(sc_neurocore.get_neuron_spec("lif"))
    kernels = native_neuron(program, sc_neurocore.get_spec("atan"), (False, False), torch.float32)
    if isinstance(kernels, str):
        pytest.fail(f"the compiled kernels must build where a C compiler exists: {kernels}")
    x, params = torch.randn(4, 2, 3), {"beta": 0.9, "threshold": 1.0}
    meta = x.to("meta")
    with pytest.raises(RuntimeError, match="refusing to pass x .* on meta"):
        kernels.forward(meta, [torch.zeros(2, 3, device="meta")], params, [2.0])
    with pytest.raises(RuntimeError, match="kernels for torch.float32 were given torch.float64"):
        kernels.forward(x.double(), [torch.zeros(2, 3)], params, [2.0])
