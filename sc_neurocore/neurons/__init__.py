"""Neurons: stepwise cells and fused multi-step layers.

Neurons know only the surrogate callable they were given; to fuse it they ask that
callable for its spec, never the registry.
"""

from .neuron import Neuron

__all__ = ["Neuron"]
