"""Train a current-based LIF network with a leaky-integrator readout on Randman.

Generates a small Randman task (spike timing, one spike per input unit), runs the fused
SynapticLIF hidden layer and LeakyIntegrator readout, and reports the test accuracy beside
the 1-nearest-neighbour baseline on the raw spike times.
(``sc-neurocore train --task randman --preset stork`` runs the published configuration.)
"""

import torch

from sc_neurocore import get_surrogate
from sc_neurocore.tasks.baseline import nearest_neighbour_accuracy
from sc_neurocore.tasks.catalog import load_task
from sc_neurocore.tasks.classifier import ClassifierConfig, SpikingClassifier
from sc_neurocore.tasks.trainer import TrainConfig, fit

torch.manual_seed(0)
data = load_task("randman", dict(classes=4, units=12, steps=60, samples_per_class=150, seed=1))
model = SpikingClassifier(
    data.units,
    data.classes,
    get_surrogate("superspike", beta=20.0),
    ClassifierConfig(hidden=48),
    execution="fused",  # SynapticLIF + LeakyIntegrator: one operator each per sequence
)
result = fit(model, data, TrainConfig(epochs=5, batch_size=25, lr=5e-3, reduction="max"))
baseline = nearest_neighbour_accuracy(
    data.train.first_spike_times(),
    data.train.labels,
    data.test.first_spike_times(),
    data.test.labels,
)
for record in result.history:
    print(f"epoch {record.epoch}: loss {record.loss:.3f}, val {100 * record.val_accuracy:.1f} %")
print(
    f"test accuracy {100 * result.test_accuracy:.1f} % (best epoch {result.best_epoch}); "
    f"1-NN on raw spike times {100 * baseline:.1f} %"
)
