"""Measure NIR interoperability with snnTorch and Norse and write the table into
docs/interchange.md (between the interop markers); tests/test_nir_interop.py checks that
the committed table is what a fresh measurement gives."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from sc_neurocore.bench.nir_interop import interop_rows, markdown_table

PAGE = Path(__file__).resolve().parents[1] / "docs" / "interchange.md"
START, END = "<!-- interop-table:start -->", "<!-- interop-table:end -->"


def main() -> None:
    logging.disable(logging.WARNING)  # the peers log every parameter they drop
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = markdown_table(interop_rows())
    text = PAGE.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    PAGE.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(table)


if __name__ == "__main__":
    main()
