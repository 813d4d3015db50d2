"""What several compat test modules share: the ways of naming a surrogate, and running a
script in a fresh interpreter (for what only a cold process can show)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import sc_neurocore
from sc_neurocore.core.registry import coverage
from sc_neurocore.training import surrogate as call_forms

ROOT = Path(__file__).resolve().parents[1]


def runnable_paths() -> tuple[str, ...]:
    """Registered paths that run the surrogates the model-level tests use, here.

    A plugin path may be registered but unavailable on this machine, or cover only some
    surrogates; those gaps are reported by the registry, not failures of these tests.
    """
    used = ("atan", "fast_sigmoid", "superspike", "triangular")
    return tuple(
        path
        for path in sc_neurocore.list_paths()
        if all(coverage(surrogate, path)[0] for surrogate in used)
    )


def all_call_forms() -> list[Any]:
    """The 18 seed call forms: dispatcher, ``_custom_op`` and ``_legacy`` per surrogate."""
    return [
        getattr(call_forms, name + suffix)
        for name in call_forms.CALL_FORM_NAMES
        for suffix in ("", "_custom_op", "_legacy")
    ]


def model_forms() -> list[Any]:
    """One of each kind of surrogate callable a user hands to a cell or network."""
    return [
        call_forms.atan_surrogate,
        call_forms.atan_surrogate_custom_op,
        call_forms.atan_surrogate_legacy,
        *(
            sc_neurocore.get_surrogate("fast_sigmoid", path, slope=12.5)
            for path in runnable_paths()
        ),
    ]


def form_id(form: Any) -> str:
    return getattr(form, "__name__", None) or repr(form)


def run_fresh_python(script: str, *args: str) -> Any:
    """Run ``script`` in a new interpreter; it must print one JSON line last."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
