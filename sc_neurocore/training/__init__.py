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
    SecondOrderLIFCell,
    SynapticCell,
)
from ..neurons.fused import LIF, compiled_kernel_status, release_buffers, set_compiled_kernels
from ..neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
from ..neurons.recurrent import RecurrentLIFCell
from ..neurons.synaptic import SynapticLIF
from ..tasks.digits import Digits, batches, load_digits
from ..tasks.encoding import latency_encode, rate_encode
from ..tasks.loops import Evaluation, evaluate, predict, train_epoch
from ..tasks.losses import spike_count_cross_entropy
from .surrogate import (
    CALL_FORM_NAMES,
    SURROGATE_PATHS,
    atan_surrogate,
    atan_surrogate_custom_op,
    atan_surrogate_legacy,
    fast_sigmoid,
    fast_sigmoid_custom_op,
    fast_sigmoid_legacy,
    sigmoid_surrogate,
    sigmoid_surrogate_custom_op,
    sigmoid_surrogate_legacy,
    straight_through,
    straight_through_custom_op,
    straight_through_legacy,
    superspike,
    superspike_custom_op,
    superspike_legacy,
    triangular,
    triangular_custom_op,
    triangular_legacy,
)

# Written out (not built from callforms.__all__) so that static tools, the API reference
# among them, can read it.
__all__ = [
    "CALL_FORM_NAMES",
    "SURROGATE_PATHS",
    "atan_surrogate",
    "atan_surrogate_custom_op",
    "atan_surrogate_legacy",
    "fast_sigmoid",
    "fast_sigmoid_custom_op",
    "fast_sigmoid_legacy",
    "sigmoid_surrogate",
    "sigmoid_surrogate_custom_op",
    "sigmoid_surrogate_legacy",
    "straight_through",
    "straight_through_custom_op",
    "straight_through_legacy",
    "superspike",
    "superspike_custom_op",
    "superspike_legacy",
    "triangular",
    "triangular_custom_op",
    "triangular_legacy",
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
    "LeakyIntegrator",
    "LeakyIntegratorCell",
    "RecurrentLIFCell",
    "SecondOrderLIFCell",
    "SpikingNet",
    "SynapticCell",
    "SynapticLIF",
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
