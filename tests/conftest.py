"""Shared fixtures: a clean plugin environment and parametrization over the registry."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import torch

# The suite must not depend on the developer's shell: clear every knob first.
for _variable in [v for v in os.environ if v.startswith("SC_NEUROCORE_")]:
    del os.environ[_variable]
# Compiled kernels are built afresh for the run (child processes inherit the folder).  Under
# pytest-xdist the workers take the controller's folder, so each distinct kernel is compiled
# once per run, not once per worker (the cache's own file locks make sharing it safe).
_RUN_CACHE = "SCN_TESTS_KERNEL_CACHE"
_inherited = os.environ.get(_RUN_CACHE) if os.environ.get("PYTEST_XDIST_WORKER") else None
if _inherited and os.path.isdir(_inherited):
    os.environ["SC_NEUROCORE_CACHE_DIR"] = _inherited
else:
    os.environ["SC_NEUROCORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="sc-neurocore-kernels-")
    os.environ[_RUN_CACHE] = os.environ["SC_NEUROCORE_CACHE_DIR"]
    atexit.register(shutil.rmtree, os.environ["SC_NEUROCORE_CACHE_DIR"], ignore_errors=True)
# Triton fixes at import whether @triton.jit kernels run compiled or in its CPU interpreter;
# without CUDA the Triton tests use the interpreter, so it is on before anything (such as
# torch.compile) imports triton.  CPU tensors still reach Triton only when a test forces it.
if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

import sc_neurocore  # noqa: E402
from sc_neurocore.core.registry import coverage  # noqa: E402
from sc_neurocore.core.settings import KERNEL_SWITCH  # noqa: E402

KERNEL_SWITCH.read_environment()  # the knobs as set above, whoever imported the package first

# Under CI=true a skip for a missing compiler or CI extra fails (see tests/ci_skips.py).
from .ci_skips import pytest_runtest_makereport  # noqa: E402, F401


def registered_pairs() -> list[tuple[str, str]]:
    """Every (surrogate, path) pair the registry can run here."""
    return [
        (surrogate, path)
        for surrogate in sc_neurocore.list_surrogates()
        for path in sc_neurocore.list_paths()
        if coverage(surrogate, path)[0]
    ]


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    return devices


FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@pytest.fixture(autouse=True)
def kernel_switch_restored() -> Iterator[None]:
    """Each test starts from the kernel switch the session started with and leaves it so
    (restoring it also drops every kernel decision kept under the test's patches)."""
    state = KERNEL_SWITCH.state()
    yield
    KERNEL_SWITCH.restore(state)


def set_environment(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    """Set (``None``: remove) environment variables and let the kernel switch read them, as a
    process started with them would: the switch reads the environment once, at import."""
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    KERNEL_SWITCH.read_environment()


@pytest.fixture(params=available_devices())
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def on_cpu_kernels(family: str):  # noqa: ANN201 - a generator for fixtures to yield from
    """Run the enclosing test on the native (compiled C) kernels (``"native"``) or the torch
    ones."""
    from sc_neurocore.kernels.native.runtime import set_native_enabled
    from sc_neurocore.neurons.fused import compiled_kernel_status

    if family == "native":
        status = compiled_kernel_status("atan")
        if status != "compiled":
            pytest.skip(f"compiled kernels unavailable here: {status}")
    previous = set_native_enabled(family == "native")
    yield family
    set_native_enabled(previous)


@contextlib.contextmanager
def no_host_sync() -> Iterator[None]:
    """Run the enclosed library calls under ``torch.cuda.set_sync_debug_mode``: ``"error"``
    (a host sync raises), or what ``SC_GPU_SYNC_DEBUG`` says (``warn``, ``default``); the
    GPU tests' assertions stay outside, since reading a result is a sync by design."""
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode(os.environ.get("SC_GPU_SYNC_DEBUG", "error"))
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


def interpret_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the Triton kernels onto CPU tensors through Triton's interpreter, or skip with
    the reason they cannot run there (such as an interpreter that rounds ``tl.fma`` twice;
    under CI=true that skip fails, see tests/ci_skips.py)."""
    from sc_neurocore.kernels.triton.launch import device_status

    set_environment(monkeypatch, TRITON_INTERPRET="1", SC_NEUROCORE_KERNEL="triton")
    unavailable = device_status("cpu")
    if unavailable:
        pytest.skip(unavailable)
