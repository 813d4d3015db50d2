"""core.compat: every private torch API in one module, each with a fallback that works.

The fallbacks are forced in fresh processes (``SC_NEUROCORE_TORCH_FALLBACKS``) and the
package's features are checked there against the reference (tests/fallback_probe.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from sc_neurocore.core import compat

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sc_neurocore"
#: torch releases this suite was run on: there, no shim may fall back (the fast paths are on).
TESTED_RELEASES = ("2.8", "2.10", "2.13", "2.14")
#: A private torch name: torch._x, torch._C._x, or a Dynamo attribute set by hand.
PRIVATE = re.compile(r"\btorch\._[A-Za-z]|_dynamo_\w+|\._cdata\b")


def test_no_private_torch_api_outside_the_compat_module() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "core/compat.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = PRIVATE.search(line.split("#", 1)[0])
            if match:
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == [], "route these through sc_neurocore.core.compat"


def test_every_shim_names_the_api_its_fallback_and_why_it_is_in_use() -> None:
    names = [shim.name for shim in compat.shim_status()]
    assert len(names) == len(set(names)) >= 10
    for shim in compat.shim_status():
        assert shim.private and shim.fallback
        assert shim.uses_private or shim.reason, shim


@pytest.mark.skipif(
    not torch.__version__.startswith(TESTED_RELEASES), reason="a release this suite was not run on"
)
def test_on_tested_releases_every_private_api_is_in_use() -> None:
    if os.environ.get(compat.FORCE_ENV):
        pytest.skip("fallbacks forced by the environment")
    assert [shim for shim in compat.shim_status() if not shim.uses_private] == []


def test_the_private_flags_see_transforms_modes_and_tracing() -> None:
    """What the fallbacks assume when these are missing is what the private APIs report."""
    assert not compat.transforms_active()
    seen: list[bool] = []
    torch.func.grad(lambda x: (seen.append(compat.transforms_active()), x.sum())[1])(torch.ones(2))
    torch.func.vmap(lambda x: (seen.append(compat.transforms_active()), x)[1])(torch.ones(2))
    assert seen == [True, True]

    class Passthrough(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            return func(*args, **(kwargs or {}))

    assert not compat.dispatch_modes_active()
    with Passthrough():
        assert compat.dispatch_modes_active()
    assert not compat.function_modes_active()
    with TorchFunctionMode():
        assert compat.function_modes_active()
    traced: list[bool] = []
    torch.jit.trace(lambda x: (traced.append(compat.jit_tracing()), x * 2)[1], torch.ones(1))
    assert traced[0] is True and not compat.jit_tracing()  # (the trace check reruns it)


def test_the_fake_tensor_fallback_treats_fake_tensors_as_fake() -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode() as mode:
        fake = mode.from_tensor(torch.ones(2))
    assert compat.is_fake(fake) and compat._any_subclass(fake)
    assert not compat.is_fake(torch.ones(2)) and not compat._any_subclass(torch.ones(2))


def test_use_counts_see_every_reference() -> None:
    assert compat.storage_use_count is not None
    storage = torch.empty(16, dtype=torch.uint8).untyped_storage()
    assert compat.storage_use_count(storage) == 1
    view = torch.empty(0, dtype=torch.uint8).set_(storage)
    assert compat.storage_use_count(storage) == 2
    del view
    assert compat.storage_use_count(storage) == 1


def test_mark_trace_constant_forms_agree() -> None:
    def private() -> int:
        return 1

    def public() -> int:
        return 1

    compat._set_marked_constant(private)
    compat._public_assume_constant(public)
    assert private._dynamo_marked_constant is public._dynamo_marked_constant is True  # type: ignore[attr-defined]


ALL_BUT_TRANSFORMS = ",".join(name for name in compat.SHIMS if name != "transforms_active")


@pytest.mark.parametrize(
    "forced",
    ["all", ALL_BUT_TRANSFORMS],
    ids=["all-fallbacks", "all-but-transforms_active"],
)
def test_every_feature_works_with_the_fallbacks_forced(forced: str) -> None:
    """Surrogates x paths (forward, grad, layouts, torch.func, vmap, compile), the compiled
    call form and the fused LIF against the stepwise cell, in a process that uses fallbacks."""
    env = {**os.environ, compat.FORCE_ENV: forced}
    result = subprocess.run(
        [sys.executable, "-m", "tests.fallback_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert ": ok" in result.stdout
