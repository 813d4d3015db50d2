"""Under CI=true a skip of what CI is supposed to have (a compiler, a module of the CI
extras) fails; GPU-only and not-applicable skips stay skips."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .ci_skips import ci_modules, must_run_in_ci

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "reason",
    [
        "compiled kernels unavailable here: no C compiler found (set CC or install cc)",
        "no working compiler here",
        "needs a C compiler",
        "cannot mount a read-only bind mount here: not root or no mount command",
        "could not import 'sklearn': No module named 'sklearn'",
        'the demo needs the "examples" extra (scikit-learn)',
        "could not import 'h5py': No module named 'h5py'",
        "hypothesis is not installed",
        "triton is not installed (needed for the GPU kernels)",
        "could not import 'onnxruntime' (the CUDA provider is optional)",
    ],
)
def test_skips_of_what_ci_has_must_run(reason: str) -> None:
    assert must_run_in_ci(reason) is not None


@pytest.mark.parametrize(
    "reason",
    [
        "needs a CUDA GPU",
        "needs triton and a CUDA GPU",
        "Triton kernels run on CUDA tensors (CPU tensors only under TRITON_INTERPRET=1)",
        "CUDA is not available here",
        "no CUDA device on this machine",
        "atan has no grad_mul (uses grad)",
        "plain: c_grad not compiled here (surrogate 'plain' has no c_grad)",
        "changing a directory's owner needs root",
        "reads /proc/self",
    ],
)
def test_gpu_only_and_not_applicable_skips_stay_skips(reason: str) -> None:
    assert must_run_in_ci(reason) is None


def test_the_ci_extras_are_read_from_pyproject() -> None:
    assert {"pytest", "scikit-learn", "sklearn", "hypothesis", "mypy"} <= ci_modules()


def test_under_ci_a_compiler_skip_fails_and_a_gpu_skip_does_not(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(
        "import pytest\n"
        "def test_native():\n    pytest.skip('compiled kernels unavailable here: no C compiler')\n"
        "def test_gpu():\n    pytest.skip('needs a CUDA GPU')\n"
        "def test_plain():\n    assert True\n"
    )
    for ci, expected in (("true", "1 failed, 1 passed, 1 skipped"), ("", "1 passed, 2 skipped")):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "tests.ci_skips",
                "-q",
                "-p",
                "no:cacheprovider",
                str(tmp_path / "test_probe.py"),
            ],
            cwd=ROOT,
            env={**os.environ, "CI": ci, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert expected in result.stdout, result.stdout[-2000:]
    assert "CI must have a C compiler" not in result.stdout
