"""The benchmark suite: speed and memory against torch and the peers, and the targets.

A folder of the source checkout, not part of the installed package.  From the repository's
root, ``python -m benchmarks.run`` (or ``sc-neurocore bench`` in an editable install)
measures, in one process, the surrogate spike on every registered path, the same
surrogates in snnTorch and SpikingJelly (when installed), a LIF layer, a SpikingNet
training step and the registry's own costs, and checks the performance targets
(docs/benchmarks.md).  Nothing in ``sc_neurocore`` imports it.
"""

__all__: list[str] = []  # a folder of modules, each run or imported by name
