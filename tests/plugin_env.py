"""A real, isolated virtual environment with sc-neurocore and plugins installed by pip.

Used by the ``test_plugins_*`` and ``test_cli_listing`` modules.  The environment is
built once per test session (:func:`plugin_env`):

* ``python -m venv --without-pip``: nothing of the developer's environment leaks in;
* torch and its runtime dependencies are *reused*, not installed: a folder of
  symlinks to them is put on the venv's path by a ``.pth`` file;
* real ``pip`` (the outer one, pointed at the venv with ``--python``) installs
  pluggy, importlib-metadata, zipp, pytest and setuptools from the package index, then
  sc-neurocore from this repository, the plugin distributions under ``plugins/``
  and the small broken and conflicting plugins of :mod:`tests.plugin_fixtures`.

Each test then runs subprocesses in that venv and asserts on their output.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: one process builds it (no pytest-xdist there)
    fcntl = None  # type: ignore[assignment]

import pytest

from .plugin_fixtures import TWICE_PROJECT, write_fixture_projects

REPO = Path(__file__).resolve().parents[1]
PLUGIN_PROJECTS = (
    "sc-neurocore-extra-surrogates",
    "sc-neurocore-composite",
    "sc-neurocore-extra-neurons",
)
#: Distributions reused from the running environment instead of being installed.
REUSED = (
    "torch",
    "sympy",
    "mpmath",
    "networkx",
    "jinja2",
    "markupsafe",
    "fsspec",
    "filelock",
    "typing_extensions",
)
#: Reused when the running environment has them (torch warns at import without numpy;
#: triton lets the conformance kit run the Triton kernels of plugin surrogates).
OPTIONAL_REUSED = ("numpy", "triton")
#: Installed from the package index.  setuptools >= 70.1 builds wheels by itself, so
#: the local projects then build inside the venv with no build isolation (no download).
FROM_INDEX = ("pluggy", "importlib-metadata", "zipp", "pytest", "setuptools>=70.1")
PIP_TIMEOUT_S = 600


def _top_level_entries(distribution: str) -> list[Path]:
    """The files and folders a distribution put directly into site-packages."""
    dist = importlib.metadata.distribution(distribution)
    names = set()
    for file in dist.files or ():
        top = file.parts[0]
        if top not in ("..", "__pycache__") and not top.endswith(".pth"):
            names.add(top)
    return [Path(str(dist.locate_file(name))) for name in sorted(names)]


def _runtime_closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """``roots`` plus every installed distribution they require, transitively.

    A CUDA build of torch pulls in nvidia-* and triton; whatever this environment's
    torch needs at import is reused along with it.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    # Build tools are installed into the venv from the index instead: pip would otherwise
    # "upgrade" a symlinked copy by deleting this environment's files.
    never = {"setuptools", "pip", "wheel"}
    found, queue = list(roots), list(roots)
    seen = {canonicalize_name(name) for name in roots}
    while queue:
        for line in importlib.metadata.requires(queue.pop()) or ():
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name not in seen and name not in never and _installed(name):
                seen.add(name)
                found.append(name)
                queue.append(name)
    return tuple(found)


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(
            f"command failed ({result.returncode}): {' '.join(cmd)}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def _copy_project(source: Path, target: Path) -> Path:
    """Copy a project so that building it leaves no build/ or egg-info in the repo."""
    ignore = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", ".pytest_cache")
    shutil.copytree(source, target, ignore=ignore)
    return target


def _copy_core(target: Path) -> Path:
    target.mkdir(parents=True)
    for package in ("sc_neurocore", "sc_neurocore_cli"):  # the library and its command line
        shutil.copytree(
            REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    readme = REPO / "README.md"
    (target / "README.md").write_text(readme.read_text() if readme.exists() else "sc-neurocore\n")
    return target


def tutorial_project(page: Path, root: Path, files: dict[str, tuple[int, ...]]) -> Path:
    """A tutorial page's project, written from its code blocks: the one ``toml`` block is
    ``pyproject.toml`` (its ``name`` names the folder), ``files`` maps each file to the
    ``python`` blocks it joins (every block used once); a README is added."""
    import re

    blocks = re.findall(r"```(\w+)\n(.*?)```", page.read_text(), re.S)
    toml = [code for lang, code in blocks if lang == "toml"]
    python = [code for lang, code in blocks if lang == "python"]
    used = sorted(index for indices in files.values() for index in indices)
    assert len(toml) == 1 and used == list(range(len(python))), "the page's code blocks changed"
    name = re.search(r'^name = "([^"]+)"', toml[0], re.M)
    assert name, "the page's pyproject.toml names no project"
    project = root / name.group(1)
    project.mkdir(parents=True)
    (project / "README.md").write_text(f"# {name.group(1)}\n")
    (project / "pyproject.toml").write_text(toml[0])
    for relative, indices in files.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text("\n\n".join(python[index] for index in indices))
    return project


@dataclass
class PluginEnv:
    """The built venv: its interpreter and helpers to run things inside it."""

    root: Path
    python: Path
    sources: Path
    #: pip flags for building local projects (setuptools is installed in the venv)
    build_flags: tuple[str, ...] = ()

    def environ(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SC_NEUROCORE_")}
        for variable in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
            env.pop(variable, None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(overrides)
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the venv's python with ``args``; never raises on a non-zero exit."""
        return subprocess.run(
            [str(self.python), *args],
            capture_output=True,
            text=True,
            env=self.environ(**(env or {})),
            cwd=str(cwd or self.root),
            timeout=PIP_TIMEOUT_S,
        )

    def start(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[str]:
        """Like :meth:`run` but in the background (the machine has more than one core)."""
        return subprocess.Popen(
            [str(self.python), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environ(**(env or {})),
            cwd=str(cwd or self.root),
        )

    def passed_tests(self, *args: str, env: dict[str, str], cwd: Path) -> set[str]:
        """Run pytest (``-v``, ``args``) in ``cwd``; it must pass: the names that PASSED."""
        suite = self.run("-m", "pytest", "-v", "-p", "no:cacheprovider", *args, env=env, cwd=cwd)
        assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]
        lines = suite.stdout.splitlines()
        return {line.split("::")[-1].split()[0] for line in lines if " PASSED" in line}

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "sc_neurocore", *args, env=env)

    def cli_json(self, *args: str, **env: str) -> Any:
        result = self.cli(*args, "--json", **env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def python_json(self, code: str, **env: str) -> Any:
        """Run ``code`` in the venv; it must print one JSON document last."""
        result = self.run("-c", code, env=env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def pip(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "pip", "--python", str(self.python), *args]
        return _run(cmd, timeout=PIP_TIMEOUT_S, env=self.environ(PIP_NO_INPUT="1"))


def _link_reused(folder: Path, distributions: tuple[str, ...]) -> None:
    folder.mkdir()
    for distribution in distributions:
        for entry in _top_level_entries(distribution):
            link = folder / entry.name
            if entry.exists() and not link.exists():
                link.symlink_to(entry, target_is_directory=entry.is_dir())


def _env_at(root: Path) -> PluginEnv:
    python = root / "venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return PluginEnv(root, python, root / "src", ("--no-build-isolation",))


def build_env(root: Path) -> PluginEnv:
    env = _env_at(root)
    python = env.python
    _run(
        [sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
        timeout=PIP_TIMEOUT_S,
    )
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    reused = _runtime_closure(REUSED + tuple(n for n in OPTIONAL_REUSED if _installed(n)))
    _link_reused(root / "reused", reused)
    (Path(purelib) / "_sc_neurocore_reused.pth").write_text(f"{root / 'reused'}\n")
    constraints = REPO / "constraints.txt"
    env.pip("install", "-q", "-c", str(constraints), *FROM_INDEX)
    projects = [_copy_core(env.sources / "sc-neurocore")]
    projects += [_copy_project(REPO / "plugins" / p, env.sources / p) for p in PLUGIN_PROJECTS]
    projects += write_fixture_projects(env.sources)
    env.pip("install", "-q", "--no-deps", *env.build_flags, *map(str, projects))
    _install_second_copy(env, Path(purelib))
    return env


def _install_second_copy(env: PluginEnv, purelib: Path) -> None:
    """Make one distribution visible twice, as a symlinked site-packages does."""
    mirror = env.root / "mirror"
    mirror.mkdir()
    for entry in purelib.iterdir():
        if entry.name.startswith(TWICE_PROJECT.replace("-", "_")):
            (mirror / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    (purelib / "_sc_neurocore_mirror.pth").write_text(f"{mirror}\n")


@functools.cache
def _cached_env(root: str) -> PluginEnv:
    """The venv at ``root``: the first process to ask builds it, under a lock that the
    others wait on before they reuse it (pytest-xdist's workers share one)."""
    folder = Path(root)
    with open(f"{root}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        ready = folder / "ready"
        if ready.exists():
            return _env_at(folder)
        shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
        env = build_env(folder)
        ready.write_text("")
        return env


def shared_plugin_env(tmp_path_factory: pytest.TempPathFactory) -> PluginEnv:
    """The run's plugin venv: built on first use, then shared by every module and, under
    pytest-xdist, by every worker (it lives in the run's folder, above each worker's own)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return _cached_env(str(base / "plugin-env"))
