"""sc-neurocore: surrogate-gradient spiking neural networks for PyTorch, with pluggable paths."""

from .core.bound import Surrogate
from .core.errors import (
    KernelUnavailableError,
    PathUnavailableError,
    PluginWarning,
    SurrogateLookupError,
    UnknownNeuronError,
    UnknownPathError,
    UnknownSurrogateError,
    UnsupportedPairError,
)
from .core.hookspecs import PLUGIN_API_VERSION, hookimpl
from .core.neuron_spec import NeuronSpec
from .core.registry import (
    Registry,
    default_registry,
    get_default_path,
    get_neuron_spec,
    get_spec,
    get_surrogate,
    list_neurons,
    list_paths,
    list_surrogates,
    prefer,
    refresh_plugins,
    set_default_path,
)
from .core.report import explain, path_report, plugin_report, surrogate_report
from .core.settings import set_kernel, use_kernel
from .core.spec import ExecutionPath, Implementation, Scale, SurrogateSpec, check_input
from .core.version import __version__
from .interchange.operators import install_operator_lookup

# torch.export.load in a fresh process finds the project's operators (defined on lookup).
install_operator_lookup()

__all__ = [
    "PLUGIN_API_VERSION",
    "ExecutionPath",
    "Implementation",
    "KernelUnavailableError",
    "NeuronSpec",
    "PathUnavailableError",
    "PluginWarning",
    "Registry",
    "Scale",
    "Surrogate",
    "SurrogateLookupError",
    "SurrogateSpec",
    "UnknownNeuronError",
    "UnknownPathError",
    "UnknownSurrogateError",
    "UnsupportedPairError",
    "__version__",
    "check_input",
    "default_registry",
    "explain",
    "get_default_path",
    "get_neuron_spec",
    "get_spec",
    "get_surrogate",
    "hookimpl",
    "install_operator_lookup",
    "list_neurons",
    "list_paths",
    "list_surrogates",
    "path_report",
    "plugin_report",
    "prefer",
    "refresh_plugins",
    "set_default_path",
    "set_kernel",
    "surrogate_report",
    "use_kernel",
]
