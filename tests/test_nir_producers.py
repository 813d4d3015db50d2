"""The peers' own exporters write NIR files in the test; each is imported here and run on
the producer's input; the table in docs/interchange.md is what this measurement gives
(.ci/run installs the peers bare, so in CI none of them may be missing)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from .optional import require

for peer in ("nir", "nirtorch", "snntorch", "norse", "spikingjelly", "sinabs"):
    require(peer)

from benchmarks.nir_producers import producer_rows, producer_table  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "interchange.md"


@pytest.fixture(scope="module")
def rows():
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return producer_rows()
    finally:
        logging.disable(logging.NOTSET)


def test_a_sinabs_cnn_file_matches_sinabs_spike_for_spike(rows) -> None:
    sinabs = [r for r in rows if r.producer.startswith("Sinabs") and r.model.startswith("CNN")]
    agreeing = {pool for r in sinabs if r.outcome == "agree" for pool in r.nodes.split(", ")}
    assert {"Conv2d", "IF", "SumPool2d", "AvgPool2d", "Flatten", "Affine"} <= agreeing
    for row in sinabs:
        if "SumPool2d" in row.nodes and "single spike" in row.model:
            assert row.outcome == "agree" and int(row.detail.split()[0]) > 0, row


def test_every_agreement_is_over_real_spikes_and_every_producer_is_measured(rows) -> None:
    assert {r.producer.split()[0] for r in rows} == {"snnTorch", "Norse", "Sinabs", "SpikingJelly"}
    agree = [r for r in rows if r.outcome == "agree"]
    assert all(int(r.detail.split()[0]) > 0 for r in agree), "silent outputs prove nothing"
    covered = {node for r in agree for node in r.nodes.split(", ")}
    assert {"SumPool2d", "AvgPool2d", "Conv2d", "LIF", "IF", "Affine", "Flatten"} <= covered


def test_the_documented_producer_table_is_measured(rows) -> None:
    text = PAGE.read_text()
    table = text.split("<!-- producers-table:start -->\n", 1)[1].split("\n<!--", 1)[0]
    assert table == producer_table(rows), "rerun python scripts/nir_interop.py"
