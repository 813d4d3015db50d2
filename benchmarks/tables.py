"""Print the Markdown tables of a results JSON (default: benchmarks/results.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.report import render

if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("results.json")
    print(render(json.loads(source.read_text(encoding="utf-8")), markdown=True))
