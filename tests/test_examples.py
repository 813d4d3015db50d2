"""Every script in examples/ runs to completion in a fresh interpreter.

Each example is a user-facing capability shown in a few lines; it must exit 0 and print
what it shows.  New examples are picked up without new test code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
#: Examples whose claim is a printed line (each also asserts it before printing it).
CLAIMS = {
    "nir_spiking_cnn.py": "identical spikes from Norse and from this project",
    "mixed_precision.py": "bf16 autocast trains to the fp32 accuracy",
}


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), f"{script.name} printed nothing"
    assert CLAIMS.get(script.name, "") in result.stdout
