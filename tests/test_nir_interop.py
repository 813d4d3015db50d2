"""The interop table of docs/interchange.md is what a fresh measurement against the
installed snnTorch and Norse gives (.ci/run installs them bare)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from .optional import require  # noqa: E402

require("nir")
require("snntorch")
require("norse")
require("nirtorch")

from benchmarks.nir_interop import interop_rows, markdown_table  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "interchange.md"


def test_the_documented_interop_table_is_measured() -> None:
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = interop_rows()
    finally:
        logging.disable(logging.NOTSET)
    assert {row.outcome for row in rows} >= {"agree", "differ"}
    # The conventions the table names are the ones this comparison finds.
    assert any(row.outcome == "agree" and row.node == "LIF" and row.dt == 1e-4 for row in rows)
    table = PAGE.read_text().split("<!-- interop-table:start -->\n", 1)[1].split("\n<!--", 1)[0]
    assert table == markdown_table(rows), "rerun python scripts/nir_interop.py"
