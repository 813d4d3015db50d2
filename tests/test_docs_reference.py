"""The documentation as built: no warning or banner, every public name of every public
namespace has an entry with its constructor's signature, and no Sphinx role is left raw."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Each public namespace and the page of the API reference that lists it.
NAMESPACES = {
    "sc_neurocore": "api/sc_neurocore/index.html",
    "sc_neurocore.training": "api/training/index.html",
    "sc_neurocore.testing": "api/testing/index.html",
    "sc_neurocore.nir": "api/nir/index.html",
}
RAW_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The site built as CI builds it (strict), and what the build printed."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout + done.stderr


def test_the_build_prints_no_warning_and_no_banner(site: tuple[Path, str]) -> None:
    _, printed = site
    assert "WARNING" not in printed, printed
    assert "end of life" not in printed.lower(), printed


def _public(namespace: str) -> list[tuple[str, object]]:
    module = importlib.import_module(namespace)
    return [(name, getattr(module, name)) for name in module.__all__]


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_public_name_has_an_entry(site: tuple[Path, str], namespace: str) -> None:
    html = (site[0] / NAMESPACES[namespace]).read_text(encoding="utf-8")
    missing = [n for n, _ in _public(namespace) if f'id="{namespace}.{n}"' not in html]
    assert not missing, f"{NAMESPACES[namespace]} lacks {missing}"


def _entry(html: str, anchor: str) -> str:
    """The text of an entry's heading and signature (up to its docstring)."""
    start = html.index(f'id="{anchor}"')
    end = html.index("doc-contents", start)
    return re.sub(r"<[^>]+>", "", html[start:end])


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_class_shows_its_constructor_signature(
    site: tuple[Path, str], namespace: str
) -> None:
    html = (site[0] / NAMESPACES[namespace]).read_text(encoding="utf-8")
    lacking = []
    for name, value in _public(namespace):
        if not inspect.isclass(value) or issubclass(value, BaseException):
            continue
        try:
            parameters = inspect.signature(value).parameters.values()
        except (TypeError, ValueError):
            continue
        anchor = f"{namespace}.{name}"
        if hasattr(value, "_fields") or dataclasses.is_dataclass(value):
            # A record's fields are its constructor: each has an entry of its own.
            absent = [
                f for f in inspect.signature(value).parameters if f'id="{anchor}.{f}"' not in html
            ]
            lacking += [f"{name}: {absent}"] if absent else []
            continue
        shown = _entry(html, anchor)
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        absent = [p.name for p in parameters if p.kind not in kinds and p.name not in shown]
        if absent:
            lacking.append(f"{name}: {absent}")
    assert not lacking, "\n".join(lacking)


def test_no_sphinx_role_is_rendered_raw(site: tuple[Path, str]) -> None:
    raw = []
    for page in sorted(site[0].rglob("*.html")):
        text = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))
        raw += [f"{page.relative_to(site[0])}: {m.group(0)}" for m in RAW_ROLE.finditer(text)]
    assert not raw, "\n".join(raw[:20])
