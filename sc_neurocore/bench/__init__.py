"""The benchmark suite behind ``sc-neurocore bench``: speed against torch and the peers.

``run_bench(BenchConfig.full())`` measures, in one process, the surrogate spike on
every registered path, the same surrogates in snnTorch and SpikingJelly (when
installed), a LIF layer, a SpikingNet training step and the registry's own costs,
and checks the performance targets.  Nothing here is imported by ``sc_neurocore``.
"""

from .config import SECTIONS, BenchConfig
from .report import render
from .runner import run_bench

__all__ = ["SECTIONS", "BenchConfig", "render", "run_bench"]
