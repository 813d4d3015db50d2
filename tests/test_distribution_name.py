"""The name ``sc-neurocore`` on the package index belongs to another project (3.x): no doc,
example or message tells anyone to install it (or a plugin name) from the index, and every
plugin pins core to a range that cannot resolve there."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from sc_neurocore import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CORE = "sc-neurocore"
#: Versions the other project publishes (3.x) and anything else >= 1: never ours.
FOREIGN = ("1.0", "2.5", "3.0", "3.9.9", "10")
TEXTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "examples").glob("*.py")),
    *sorted((ROOT / "plugins").glob("*/README.md")),
    *sorted((ROOT / "sc_neurocore").rglob("*.py")),
    *sorted((ROOT / "benchmarks").glob("*.py")),
]
PIP = re.compile(r"pip3? install ([^`'\n]*(?:'[^'\n]*'[^`'\n]*)*)")


def _requirements(arguments: str) -> list[str]:
    """The requirement arguments of one ``pip install`` (options and paths dropped)."""
    try:
        words = shlex.split(arguments.split("#")[0].split("&&")[0])
    except ValueError:
        words = arguments.split()
    found, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("-c", "-r", "--index-url", "-i", "--extra-index-url", "--constraint"):
            skip = True
        elif not word.startswith(("-", ".", "/", "~")) and "/" not in word:
            found.append(word)
    return found


def install_lines() -> list[tuple[str, str]]:
    lines = []
    for path in TEXTS:
        for match in PIP.finditer(path.read_text(encoding="utf-8")):
            where = f"{path.relative_to(ROOT)}: pip install {match.group(1)}"
            lines.append((where, match.group(1)))
    return lines


def test_install_lines_are_found() -> None:
    assert len(install_lines()) >= 10  # the scan sees the docs' install lines at all


@pytest.mark.parametrize(("where", "arguments"), install_lines(), ids=lambda x: x[:60])
def test_no_install_line_fetches_our_name_from_the_index(where: str, arguments: str) -> None:
    for word in _requirements(arguments):
        try:
            name = canonicalize_name(Requirement(word).name)
        except InvalidRequirement:
            continue
        assert not name.startswith(CORE), f"{where}: {word!r} would come from the package index"


def _core_pins(dependencies: list[str]) -> list[Requirement]:
    pins = [Requirement(text) for text in dependencies]
    return [pin for pin in pins if canonicalize_name(pin.name) == CORE]


def _check_pin(where: str, pin: Requirement) -> None:
    assert pin.specifier.contains(__version__), f"{where}: {pin} excludes this sc-neurocore"
    foreign = [v for v in FOREIGN if pin.specifier.contains(v, prereleases=True)]
    assert not foreign, f"{where}: {pin} resolves to the other project's {foreign}"


PLUGIN_PROJECTS = sorted((ROOT / "plugins").glob("*/pyproject.toml"))


@pytest.mark.parametrize("path", PLUGIN_PROJECTS, ids=lambda p: p.parent.name)
def test_every_plugin_pins_core_below_1(path: Path) -> None:
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    pins = _core_pins(project.get("dependencies", []))
    assert pins, f"{path}: no dependency on {CORE}"
    for pin in pins:
        _check_pin(str(path.relative_to(ROOT)), pin)


def test_the_docs_pyproject_snippets_pin_core_below_1() -> None:
    snippets = 0
    for path in sorted((ROOT / "docs").rglob("*.md")):
        for block in re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            data = tomllib.loads(block)
            for pin in _core_pins(data.get("project", {}).get("dependencies", [])):
                _check_pin(str(path.relative_to(ROOT)), pin)
                snippets += 1
    assert snippets >= 1  # the plugin tutorial's template is among them
