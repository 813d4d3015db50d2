"""Small plugin projects written by the tests: broken, conflicting, duplicated, wrong.

Each is a real setuptools project advertising entry points in ``sc_neurocore.plugins``;
:mod:`tests.plugin_env` installs them with pip.  The names below are what the tests
assert on.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

TWICE_PROJECT = "scn-twice"
LATE_PROJECT = "scn-late"

SPEC_IMPORTS = "import torch\nfrom sc_neurocore import ExecutionPath, SurrogateSpec, hookimpl\n"


def _spec(name: str, description: str, primitive: bool = True) -> str:
    """Source of a valid SurrogateSpec with g = 1 / (1 + |x|)^2."""
    extra = ", primitive=lambda x, k=1.0: x / (1 + x.abs())" if primitive else ""
    return (
        f"SurrogateSpec(name={name!r}, params=(('k', 1.0),), "
        f"grad=lambda x, k=1.0: 1 / (1 + x.abs()) ** 2, description={description!r}{extra})"
    )


#: project name -> {entry-point name: module source}
PROJECTS: dict[str, dict[str, str]] = {
    "scn-broken": {
        "import_error": "import sc_neurocore_no_such_module_anywhere  # fails on import\n",
        "hook_raises": SPEC_IMPORTS
        + textwrap.dedent(
            """
            @hookimpl
            def sc_neurocore_register_surrogates():
                raise RuntimeError("boom from hook_raises")
            """
        ),
        "malformed": SPEC_IMPORTS
        + textwrap.dedent(
            """
            @hookimpl
            def sc_neurocore_register_paths():
                return ["not an ExecutionPath"]
            """
        ),
        "wrong_api": SPEC_IMPORTS
        + "SC_NEUROCORE_PLUGIN_API = 99\n"
        + textwrap.dedent(
            f"""
            @hookimpl
            def sc_neurocore_register_surrogates():
                return [{_spec("never_loaded", "must not appear")}]
            """
        ),
    },
    # Two distributions claim `bump`; A also tries to replace a built-in surrogate and path.
    "scn-conflict-a": {
        "conflict_a": SPEC_IMPORTS
        + textwrap.dedent(
            f"""
            SC_NEUROCORE_PLUGIN_API = 1

            @hookimpl
            def sc_neurocore_register_surrogates():
                return [{_spec("bump", "bump from A")}, {_spec("atan", "hijacked atan")}]

            @hookimpl
            def sc_neurocore_register_paths():
                return [ExecutionPath("custom_op", "hijacked path", build=lambda spec: None)]
            """
        ),
    },
    # B also brings a path that cannot run here (listed as unavailable, with the reason).
    "scn-conflict-b": {
        "conflict_b": SPEC_IMPORTS
        + textwrap.dedent(
            f"""
            @hookimpl
            def sc_neurocore_register_surrogates():
                return [{_spec("bump", "bump from B")}]

            @hookimpl
            def sc_neurocore_register_paths():
                return [ExecutionPath("elsewhere", "runs elsewhere", build=lambda spec: None,
                                      available=lambda: (False, "needs hardware not present"))]
            """
        ),
    },
    # Seen twice on sys.path; its surrogate has no primitive (a gap on `composite`).
    TWICE_PROJECT: {
        "twice": SPEC_IMPORTS
        + textwrap.dedent(
            f"""
            CALLS = 0  # how often discovery called the hook (the thread test reads it)

            @hookimpl
            def sc_neurocore_register_surrogates():
                global CALLS
                CALLS += 1
                return [{_spec("twice_only", "installed twice", primitive=False)}]
            """
        ),
    },
    # Well-formed but wrong: the conformance kit must fail on these.
    "scn-wrong-math": {
        "wrong_math": SPEC_IMPORTS
        + textwrap.dedent(
            """
            def _grad(x, k=1.0):
                return 1 / (1 + x.abs()) ** 2

            def _bad_grad_mul(x, grad_out, k=1.0):
                return 2 * grad_out * _grad(x, k)   # disagrees with grad

            def _sigmoid_forward(spec):
                return lambda x, **params: torch.sigmoid(x)   # not the exact step

            @hookimpl
            def sc_neurocore_register_surrogates():
                return [SurrogateSpec(name="wrong_grad_mul", params=(("k", 1.0),), grad=_grad,
                                      grad_mul=_bad_grad_mul, description="inconsistent")]

            @hookimpl
            def sc_neurocore_register_paths():
                return [ExecutionPath("soft_forward", "forward is a sigmoid", _sigmoid_forward)]
            """
        ),
    },
}

LATE_SOURCE = SPEC_IMPORTS + textwrap.dedent(
    f"""
    @hookimpl
    def sc_neurocore_register_surrogates():
        return [{_spec("late_arrival", "installed while the process ran")}]
    """
)


def write_project(root: Path, project: str, entry_points: dict[str, str]) -> Path:
    """A setuptools project with one module per entry point, all in one package."""
    package = project.replace("-", "_")
    folder = root / project
    (folder / package).mkdir(parents=True)
    (folder / package / "__init__.py").write_text("")
    for name, source in entry_points.items():
        (folder / package / f"{name}.py").write_text(source)
    lines = "\n".join(f'{name} = "{package}.{name}"' for name in entry_points)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["setuptools>=64"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{project}"
            version = "0.1.0"
            dependencies = ["sc-neurocore>=0.1,<1"]

            [tool.setuptools]
            packages = ["{package}"]

            [project.entry-points."sc_neurocore.plugins"]
            """
        )
        + lines
        + "\n"
    )
    return folder


def write_fixture_projects(root: Path) -> list[Path]:
    return [write_project(root, project, eps) for project, eps in PROJECTS.items()]
