"""The seed's facade: the call forms, cells, networks, encoders and loops under one name.

Nothing is defined here; each name lives in the module that owns it.
"""

from ..networks import SpikingNet
from ..neurons.cells import (
    AdExCell,
    ALIFCell,
    AlphaCell,
    ExpIFCell,
    IFCell,
    LapicqueCell,
    LIFCell,
    RecurrentLIFCell,
    SecondOrderLIFCell,
    SynapticCell,
)
from ..neurons.fused import LIF, compiled_kernel_status, release_buffers, set_compiled_kernels
from ..tasks.digits import Digits, batches, load_digits
from ..tasks.encoding import latency_encode, rate_encode
from ..tasks.loops import Evaluation, evaluate, predict, train_epoch
from ..tasks.losses import spike_count_cross_entropy
from . import surrogate
from .surrogate import *  # noqa: F403  (the 18 call forms and SURROGATE_PATHS)

__all__ = [
    *surrogate.__all__,
    "ALIFCell",
    "AdExCell",
    "AlphaCell",
    "Digits",
    "Evaluation",
    "ExpIFCell",
    "IFCell",
    "LIF",
    "LIFCell",
    "LapicqueCell",
    "RecurrentLIFCell",
    "SecondOrderLIFCell",
    "SpikingNet",
    "SynapticCell",
    "batches",
    "compiled_kernel_status",
    "evaluate",
    "latency_encode",
    "load_digits",
    "predict",
    "rate_encode",
    "release_buffers",
    "set_compiled_kernels",
    "spike_count_cross_entropy",
    "train_epoch",
]
