"""docs/compatibility.md stays in step with the compat tests that generate it."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from sc_neurocore.training import SURROGATE_PATHS

from .compat_matrix import FEATURES, feature, path_of

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "compatibility.md"
MODULES = sorted(p.stem for p in (ROOT / "tests").glob("test_compat_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_compat_test_is_tagged_with_a_feature(module: str) -> None:
    tests = [
        (name, fn)
        for name, fn in inspect.getmembers(importlib.import_module(f"tests.{module}"))
        if name.startswith("test_") and inspect.isfunction(fn)
    ]
    assert tests
    untagged = [name for name, fn in tests if getattr(fn, "compat_feature", None) not in FEATURES]
    assert untagged == [], "add @feature(...) so the matrix counts these tests"


def test_every_feature_has_tests() -> None:
    used = {
        getattr(fn, "compat_feature", None)
        for module in MODULES
        for _, fn in inspect.getmembers(importlib.import_module(f"tests.{module}"))
    }
    assert set(FEATURES) <= used


def test_page_has_a_row_per_feature_and_a_column_per_builtin_path() -> None:
    page = PAGE.read_text(encoding="utf-8")
    header = next(line for line in page.splitlines() if line.startswith("| feature |"))
    assert all(f"`{path}`" in header for path in SURROGATE_PATHS)
    rows = [line for line in page.splitlines() if line.startswith("| ") and "|---" not in line]
    for title in FEATURES.values():
        assert any(row.startswith(f"| {title} |") for row in rows), title
    assert "❌" not in page, "the committed matrix records failing tests"


def test_feature_tag_rejects_unknown_names_and_path_of_reads_parameters() -> None:
    with pytest.raises(ValueError, match="unknown compat feature 'compiel'"):
        feature("compiel")
    assert path_of({"path": "legacy_autograd"}, "custom_op") == "legacy_autograd"
    assert path_of({"pair": ("atan", "legacy_autograd")}, "custom_op") == "legacy_autograd"
    assert path_of({"form": lambda x: x}, "custom_op") == "custom_op"
    assert path_of({"dtype": "float32"}, "custom_op") is None


def _generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gen_compat_matrix", ROOT / "scripts" / "gen_compat_matrix.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_mode_compares_the_regenerated_page_byte_for_byte(tmp_path, capsys) -> None:
    """CI runs ``gen_compat_matrix.py --check``: any byte of difference fails with a diff."""
    compare = _generator().compare
    page = PAGE.read_text(encoding="utf-8")
    committed = tmp_path / "compatibility.md"
    committed.write_text(page, encoding="utf-8")
    assert compare(committed, page) == 0
    committed.write_text(page.replace("✅ ", "✅  ", 1), encoding="utf-8")
    assert compare(committed, page) == 1
    assert "stale" in capsys.readouterr().err
    committed.write_text(page + "\n", encoding="utf-8")  # a trailing newline is a difference
    assert compare(committed, page) == 1
