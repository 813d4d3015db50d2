"""Run the benchmark suite from a checkout and save the results next to this file.

    python -m benchmarks.run            # full run, writes benchmarks/results.json
    python -m benchmarks.run --quick    # seconds, saves nothing; any ``bench`` option works

(``sc-neurocore bench`` in an editable install runs the same.)  Then
``python -m benchmarks.plot`` draws docs/img/benchmarks.png from the JSON and
``python -m benchmarks.tables`` prints the Markdown tables of docs/benchmarks.md.
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
