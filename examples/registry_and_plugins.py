"""What is registered, where it came from, and a registry of your own.

The module-level functions use the process-wide default registry; a ``Registry`` built
from given plugin objects is isolated from it (handy in tests of a plugin).
"""

import types

import torch

import sc_neurocore
from sc_neurocore import Registry, SurrogateSpec, hookimpl

print("surrogates:", sc_neurocore.list_surrogates())
print("paths:", sc_neurocore.list_paths(), "default:", sc_neurocore.get_default_path())
print(sc_neurocore.explain("atan").reason)

# A plugin is any module with hook implementations; here one made on the fly.
plugin = types.ModuleType("gauss_plugin")


@hookimpl
def sc_neurocore_register_surrogates():
    return [
        SurrogateSpec(
            name="gauss",
            params=(("sigma", 0.5),),
            grad=lambda x, sigma=0.5: torch.exp(-0.5 * (x / sigma) ** 2) / (sigma * 2.5066283),
            description="Gaussian window",
        )
    ]


plugin.sc_neurocore_register_surrogates = sc_neurocore_register_surrogates
registry = Registry.from_plugins({"gauss": plugin}, with_builtins=True)
spike = registry.get_surrogate("gauss", "legacy_autograd", sigma=0.3)
x = torch.linspace(-1, 1, 5, requires_grad=True)
spike(x).sum().backward()
print(
    "own registry:", registry.list_surrogates()[-1], "grad:", [round(g, 3) for g in x.grad.tolist()]
)
print("default registry still has", len(sc_neurocore.list_surrogates()), "surrogates")
