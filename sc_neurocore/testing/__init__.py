"""The conformance kit for plugin authors: the full surrogate x path matrix as tests.

Run it with pytest, loading this module as a plugin::

    pytest -p sc_neurocore.testing                          # every registered pair
    pytest -p sc_neurocore.testing --sc-surrogate gaussian  # one surrogate, every path
    pytest -p sc_neurocore.testing --sc-distribution my-plugin-dist
    pytest -p sc_neurocore.testing --sc-neuron alif          # one neuron, every surrogate

or through the command line: ``sc-neurocore check [--surrogate S ...] [--path P ...]
[--neuron N ...]``.
For every selected pair it checks that the forward is the exact Heaviside step in the
input's dtype, that the gradient equals the spec's ``grad`` and matches
``legacy_autograd``, in every float dtype, on non-contiguous, channels-last, 0-d and
empty inputs, under ``torch.compile(fullgraph=True)``, and with
``torch.library.opcheck`` for pairs backed by a custom operator.  Each spec's
``grad_mul`` and ``primitive``, where given, are checked against its ``grad``.
Uncovered pairs (gaps) are checked to fail cleanly with a reason.

Neurons are checked the same way: every selected neuron (``--sc-neuron NAME``, or those a
``--sc-distribution`` provides) runs fused against its stepwise baseline under each
selected surrogate and reset, in float64 and float32 (:func:`check_fused_equals_stepwise`:
identical spikes, gradients of input, initial states and learned params within tolerance).

Nothing here is imported by ``import sc_neurocore``.
"""

from __future__ import annotations

from .neurons import NeuronCase, check_fused_equals_stepwise, select_neuron_cases
from .pairs import Pair, select_pairs
from .plugin import CONFORMANCE_MODULE, pytest_addoption, pytest_configure

__all__ = [
    "CONFORMANCE_MODULE",
    "NeuronCase",
    "Pair",
    "check_fused_equals_stepwise",
    "pytest_addoption",
    "pytest_configure",
    "select_neuron_cases",
    "select_pairs",
]
