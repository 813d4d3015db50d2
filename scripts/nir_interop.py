"""Measure NIR interoperability and write both tables into docs/interchange.md:

* between the interop markers, graphs this project exports, imported by snnTorch and Norse;
* between the producers markers, files the peers' own exporters write, imported here
  (benchmarks/nir_producers.py).

    python scripts/nir_interop.py           # rewrites the tables
    python scripts/nir_interop.py --check   # CI: fails (with a diff) if they are stale

tests/test_nir_interop.py and tests/test_nir_producers.py check the committed tables too.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's benchmarks/, beside this folder

from benchmarks.nir_interop import interop_rows, markdown_table  # noqa: E402
from benchmarks.nir_producers import producer_rows, producer_table  # noqa: E402

PAGE = ROOT / "docs" / "interchange.md"
TABLES = {
    "interop-table": lambda: markdown_table(interop_rows()),
    "producers-table": lambda: producer_table(producer_rows()),
}


def _replace(text: str, marker: str, table: str) -> str:
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{table}\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the peers log every parameter they drop
    text = old = PAGE.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for marker, measure in TABLES.items():
            text = _replace(text, marker, measure())
    if args.check:
        if text == old:
            print(f"{PAGE} tables are up to date")
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True)))
        print(f"{PAGE} is stale: run python scripts/nir_interop.py", file=sys.stderr)
        return 1
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
