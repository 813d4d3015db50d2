"""A miniature surrogate sweep where surrogate learning is what makes the difference.

Randman's ``hard`` preset, made small: 4 classes whose 10 informative input units are
buried among 60 noise units.  The hidden layer must learn to ignore the noise, so training
it matters: with the true gradient (zero almost everywhere) only the readout learns and the
network stays near chance; a constant surrogate learns some; SuperSpike and sigmoid at a
steep setting learn most, and at a shallow one less (Zenke & Vogels 2021's findings).
Every run appends one JSON line, so rerunning resumes; the report merges files (shards).
(``sc-neurocore sweep --task randman --preset hard`` runs the full grid in parallel.)
"""

import statistics
import tempfile
from pathlib import Path

import torch

from sc_neurocore.tasks.sweep import SweepConfig, run_sweep
from sc_neurocore.tasks.sweep_report import cells, checks, merge, table

torch.set_num_threads(1)  # small layers: one thread is fastest (docs: Performance tips)
config = SweepConfig(
    task="randman",
    preset="hard",
    surrogates=("superspike", "sigmoid"),
    steepness=(0.3, 10.0),
    seeds=(0, 1, 2),
    epochs=12,
    data=dict(classes=4, units=10, noise_units=60, samples_per_class=200),
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

# The claim of this example, in numbers: means over the seeds.
means = {(cell.surrogate, cell.scale): cell.mean for cell in cells(rows)}
best = max((key for key in means if key[1] is not None), key=means.__getitem__)
chance = statistics.fmean(row["chance"] for row in rows)
print(
    f"best surrogate {best[0]} at steepness {best[1]:g}: {100 * means[best]:.1f} %; "
    f"true gradient {100 * means[('true_gradient', None)]:.1f} %; "
    f"constant {100 * means[('constant', None)]:.1f} %; chance {100 * chance:.1f} %"
)
