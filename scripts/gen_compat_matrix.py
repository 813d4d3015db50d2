"""Run the compatibility tests and write docs/compatibility.md from what they checked.

Every compat test carries a feature tag (``tests/compat_matrix.py``) and exercises one
path (or all of them); this script runs ``tests/test_compat_*.py`` under pytest,
counts outcomes per (feature, path) cell, and renders the matrix with the notes below.
Nothing in the matrix is typed by hand: a cell says ✅ only if tests ran there and passed.

    python scripts/gen_compat_matrix.py            # writes docs/compatibility.md
    python scripts/gen_compat_matrix.py -o -       # prints it instead
    python scripts/gen_compat_matrix.py -x         # other options go to pytest
    python scripts/gen_compat_matrix.py --check    # CI: regenerate, compare byte for byte
"""

from __future__ import annotations

import argparse
import difflib
import platform
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import torch  # noqa: E402

import sc_neurocore  # noqa: E402
from tests.compat_matrix import FEATURES, path_of  # noqa: E402

#: (feature, path) -> what a reader must know about that cell beyond pass/fail.
CELL_NOTES: dict[tuple[str, str], str] = {
    ("export", "legacy_autograd"): (
        "exports and matches eager, but the `autograd.Function` is inlined into plain aten "
        "ops: no surrogate operator in the graph (only `custom_op` keeps one)"
    ),
    ("bad_inputs", "legacy_autograd"): (
        "under `torch.compile(fullgraph=True)` Dynamo reports the `TypeError` as "
        "`torch._dynamo.exc.Unsupported` carrying the same message; eager and "
        "`fullgraph=False` raise the `TypeError` itself"
    ),
}

#: Text after the matrix: what does not apply, and how to use each feature.
NOTES = """\
## What does not apply, and why

- **Forward-mode AD** (`torch.func.jvp`, `jacfwd`): a surrogate is defined by its backward
  formula only; both paths raise the same `NotImplementedError` naming `jvp` (pinned by a
  test). Use reverse mode (`grad`, `jacrev`, `vjp`).
- **Surrogate operator in an exported graph on `legacy_autograd`**: `torch.export` inlines an
  `autograd.Function`, so the exported graph holds `gt` and a cast instead of an operator.
  The program runs and matches eager; use `custom_op` when a backend must see
  `sc_neurocore::<name>`.
- **`TypeError` under `fullgraph=True` on `legacy_autograd`**: Dynamo turns any exception
  raised while tracing into its own `Unsupported` error. The `custom_op` path checks the
  dtype in the real kernel, at run time, so the `TypeError` reaches the caller unchanged.
- **CUDA**: the code is device-agnostic and the device tests are parametrized over
  `tests.conftest.available_devices()`; on a machine without CUDA those cases are not
  collected (nothing fails for its absence). Rerun this script on a GPU machine to fill in
  CUDA.

## Notes for users

- `torch.compile(model, fullgraph=True)` works with every way of naming a surrogate: the
  dispatcher (`atan_surrogate`), pinned call forms (`atan_surrogate_custom_op`,
  `atan_surrogate_legacy`) and `get_surrogate(...)` objects, also when the compiled call is
  the first use of the registry in the process (the call form resolves at trace time). A
  compiled dispatcher follows a later `set_default_path(...)` by recompiling. Every cell
  class traces into one graph on every path; dynamic batch sizes (`dynamic=True`) compile
  once.
- `torch.export.export` of `SpikingNet` works with a dynamic batch dimension
  (`torch.export.Dim`); the time dimension is unrolled, so it is fixed at export time.
- `torch.save(model)` pickles the surrogate callable each cell holds: call forms pickle by
  reference, `get_surrogate` objects by (name, path, parameters). Loading a whole module is
  loading arbitrary Python, so it needs `torch.load(..., weights_only=False)`; prefer
  `state_dict()`, which holds tensors only, loads with the default safe loader, and records
  nothing path-specific: train on one path, evaluate on another.
- `get_surrogate("atan")` records the path it resolved (the default at that moment), so an
  unpickled object keeps using it; call forms such as `atan_surrogate` follow the default
  path of the process that calls them.
- Double backward (`create_graph=True`) differentiates the surrogate's gradient formula;
  the in-place fast backward is used only when no graph of the backward is recorded.
- Distributed training: see [distributed training](distributed.md).
"""


class Recorder:
    """A pytest plugin that sorts test outcomes into (feature, path) cells."""

    def __init__(self, paths: tuple[str, ...], default_path: str) -> None:
        self.paths, self.default_path = paths, default_path
        self.cell_of: dict[str, tuple[str, str | None]] = {}
        self.cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.untagged: list[str] = []

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            feature = getattr(getattr(item, "function", None), "compat_feature", None)
            if feature is None:
                self.untagged.append(item.nodeid)
                continue
            params = item.callspec.params if hasattr(item, "callspec") else {}
            self.cell_of[item.nodeid] = (feature, path_of(params, self.default_path))

    def pytest_runtest_logreport(self, report: Any) -> None:
        cell = self.cell_of.get(report.nodeid)
        if cell is None or not (report.when == "call" or report.outcome != "passed"):
            return
        feature, path = cell
        for column in self.paths if path is None else (path,):
            self.cells[(feature, column)][report.outcome] += 1


def _cell(counts: Counter[str], note: int | None) -> str:
    if not counts:
        return "— (no test applies)"
    failed, passed, skipped = counts["failed"], counts["passed"], counts["skipped"]
    if failed:
        text = f"❌ {failed} of {failed + passed} failed"
    elif passed:
        text = f"✅ {passed} passed"
    else:
        text = f"⏭ {skipped} skipped"
    return f"{text} (note {note})" if note else text


def render(recorder: Recorder) -> str:
    paths = recorder.paths
    notes: list[str] = []
    lines = [
        "# Compatibility",
        "",
        "<!-- Generated by scripts/gen_compat_matrix.py from tests/test_compat_*.py; "
        "do not edit by hand. -->",
        "",
        "What works where, as checked by the compatibility tests: each cell counts the test "
        "cases of that feature that ran on that execution path (parametrized over every "
        "registered surrogate, call form and dtype where it applies) and how they ended.",
        "",
        f"Generated with torch {torch.__version__}, Python {platform.python_version()}, "
        f"devices: {', '.join(_devices())}; paths: {', '.join(f'`{p}`' for p in paths)}.",
        "",
        "| feature | " + " | ".join(f"`{p}`" for p in paths) + " |",
        "|---|" + "---|" * len(paths),
    ]
    for feature, title in FEATURES.items():
        cells = []
        for path in paths:
            note = CELL_NOTES.get((feature, path))
            if note is not None:
                notes.append(note)
            number = len(notes) if note is not None else None
            cells.append(_cell(recorder.cells.get((feature, path), Counter()), number))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"{number}. {note}" for number, note in enumerate(notes, start=1)]
    lines += ["", "Reproduce with `python scripts/gen_compat_matrix.py`.", "", NOTES]
    return "\n".join(lines).rstrip() + "\n"


def _devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append(f"cuda ({torch.cuda.get_device_name()})")
    return devices


def compare(committed: Path, page: str) -> int:
    """0 if ``committed`` holds exactly ``page``, else 1 after printing a unified diff."""
    old = committed.read_text(encoding="utf-8") if committed.exists() else ""
    if old.encode("utf-8") == page.encode("utf-8"):
        print(f"{committed} is up to date")
        return 0
    diff = difflib.unified_diff(
        old.splitlines(keepends=True),
        page.splitlines(keepends=True),
        fromfile=f"{committed} (committed)",
        tofile="regenerated",
    )
    sys.stdout.writelines(diff)
    print(f"\n{committed} is stale: run python scripts/gen_compat_matrix.py", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "compatibility.md"))
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail (exit 1, with a diff) unless OUTPUT equals the regenerated page",
    )
    args, pytest_args = parser.parse_known_args(argv)  # the rest goes to pytest
    recorder = Recorder(sc_neurocore.list_paths(), sc_neurocore.get_default_path())
    tests = sorted(str(p) for p in (ROOT / "tests").glob("test_compat_*.py"))
    status = pytest.main(["-q", "-p", "no:cacheprovider", *tests, *pytest_args], [recorder])
    if recorder.untagged:
        print(f"compat tests without a feature tag: {recorder.untagged}", file=sys.stderr)
        return 1
    page = render(recorder)
    if args.check:
        return max(int(status), compare(Path(args.output), page))
    if args.output == "-":
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}")
    return int(status)


if __name__ == "__main__":
    raise SystemExit(main())
