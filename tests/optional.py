"""Optional dependencies of the interchange tests: skipped where they are not installed,
but never in CI (CI=true), which installs them; there a missing one is a failure."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require(module: str) -> ModuleType:
    """``module`` imported; outside CI a missing one skips the test module."""
    if os.environ.get("CI", "").lower() == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)
