"""A miniature surrogate sweep: two shapes at two steepness values plus the controls.

Every run appends one JSON line, so rerunning resumes instead of repeating; the report
merges files (shards) and checks Zenke & Vogels' qualitative claims on what it has.
(``sc-neurocore sweep --task randman --preset hard`` runs the full grid in parallel.)
"""

import tempfile
from pathlib import Path

from sc_neurocore.tasks.sweep import SweepConfig, run_sweep
from sc_neurocore.tasks.sweep_report import checks, merge, table

config = SweepConfig(
    task="randman",
    preset="stork",
    surrogates=("superspike", "sigmoid"),
    steepness=(0.3, 20.0),
    seeds=(0,),
    epochs=2,
    data=dict(classes=3, units=10, samples_per_class=60),
    model=dict(hidden=32),
)
with tempfile.TemporaryDirectory() as folder:
    lines = Path(folder) / "sweep.jsonl"
    run_sweep(config, lines)
    assert run_sweep(config, lines) == []  # resumed: nothing left to run
    rows = merge([lines])
print(table(rows))
for check in checks(rows):
    print({True: "PASS", False: "FAIL", None: "n/a"}[check.passed], check.claim, "-", check.detail)
