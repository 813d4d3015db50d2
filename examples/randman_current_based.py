"""Train a current-based LIF network with a leaky-integrator readout on Randman.

Randman's ``hard`` preset, made small: 4 classes whose 10 informative units (one spike each,
timed by a random manifold) are mixed with 40 noise units (one uniformly random spike each,
the same for every class).  Nearest-neighbour on the raw spike times is misled by the noise;
the fused SynapticLIF hidden layer and LeakyIntegrator readout learn to weight it down and
beat it.  (On the ``stork`` preset, without noise units, 1-NN on spike times is already
~100 %: there the spiking network can only tie it, so it makes a poor demonstration.)
(``sc-neurocore train --task randman --preset hard`` runs the full-size preset.)
"""

import torch

from sc_neurocore.tasks.run import RunSpec, run

torch.set_num_threads(1)  # small layers: one thread is fastest (docs: Performance tips)
spec = RunSpec(
    task="randman",
    preset="hard",  # its surrogate (superspike), model and learning rate
    data=dict(classes=4, units=10, noise_units=40, samples_per_class=400),
    model=dict(hidden=64),
    epochs=15,
)
report = run(spec)  # the fused layers: SynapticLIF + LeakyIntegrator, one operator each
for record in report["history"]:
    print(f"epoch {record['epoch']}: val {100 * record['val_accuracy']:.1f} %")
print(
    f"test accuracy {100 * report['test_accuracy']:.1f} % (best epoch {report['best_epoch']}); "
    f"1-NN on raw spike times {100 * report['baseline_1nn']:.1f} %; "
    f"chance {100 * report['chance']:.1f} %"
)
