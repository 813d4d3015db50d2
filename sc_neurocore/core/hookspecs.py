"""The plugin contract: pluggy hook specifications for the ``sc_neurocore`` project.

A plugin is any module or object with functions decorated by :data:`hookimpl` and
named like the specifications below; it is advertised through the
``sc_neurocore.plugins`` entry-point group.  Every hook is optional and returns an
iterable.  A plugin may set ``SC_NEUROCORE_PLUGIN_API = <int>`` to declare the
contract version it was written for.

Hooks are called one plugin at a time through a pluggy hook caller holding that plugin
alone: ``tryfirst``/``trylast`` order the calls, a wrapper wraps its own plugin's call only,
and which contribution wins a name is decided by the registry's conflict rules
(docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from .neuron_spec import NeuronSpec
from .spec import ExecutionPath, Implementation, SurrogateSpec

PROJECT_NAME = "sc_neurocore"
ENTRY_POINT_GROUP = "sc_neurocore.plugins"

#: Version of this contract; bumped only when a change would break existing plugins.
PLUGIN_API_VERSION = 1
"""Version of the plugin contract; bumped only when a change would break existing plugins."""
#: Contract versions this release can load.
SUPPORTED_PLUGIN_API_VERSIONS: tuple[int, ...] = (1,)
#: Module attribute through which a plugin declares the contract version it targets.
PLUGIN_API_ATTRIBUTE = "SC_NEUROCORE_PLUGIN_API"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def sc_neurocore_register_surrogates() -> Iterable[SurrogateSpec]:
    """Return the surrogate specs this plugin adds; every path serves them automatically."""
    raise NotImplementedError


@hookspec
def sc_neurocore_register_paths() -> Iterable[ExecutionPath]:
    """Return the execution paths this plugin adds."""
    raise NotImplementedError


@hookspec
def sc_neurocore_register_implementations() -> Iterable[Implementation]:
    """Return hand-written implementations that take precedence over a path's ``build``."""
    raise NotImplementedError


@hookspec
def sc_neurocore_register_neurons() -> Iterable[NeuronSpec]:
    """Return the neuron specs this plugin adds; every backend and exporter follows from them."""
    raise NotImplementedError
