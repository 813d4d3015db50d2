"""Run the benchmark suite and save the results next to this script.

    python benchmarks/run.py            # full run, writes benchmarks/results.json
    python benchmarks/run.py --quick    # seconds, saves nothing; any ``bench`` option works

Then ``python benchmarks/plot.py`` draws docs/img/benchmarks.png from the JSON and
``python benchmarks/tables.py`` prints the Markdown tables of docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sc_neurocore.cli import main

RESULTS = Path(__file__).with_name("results.json")

if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--json" not in arguments and "--quick" not in arguments:
        arguments += ["--json", str(RESULTS)]  # only full runs replace the committed figures
    sys.exit(main(["bench", *arguments]))
