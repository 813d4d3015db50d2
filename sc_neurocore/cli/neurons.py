"""``sc-neurocore neurons``: every registered neuron, where it comes from, its equations, and
the kernel family that runs it fused on each device kind.

The family is asked of the dispatch itself
(:func:`~sc_neurocore.kernels.neuron_choice.neuron_kernels`) with a float32 probe of each
device kind and the layer's default surrogate; a CUDA probe is a fake tensor where no GPU
is present, so the answer is what a CUDA tensor would get here.
"""

from __future__ import annotations

import argparse
from typing import Any

from .listing import emit, format_table, loading

__all__ = ["execute", "kernel_family", "neuron_report", "plan"]

#: The device kinds listed, as in ``sc-neurocore kernels``.
DEVICE_KINDS = ("cpu", "cuda")
#: The surrogate a ``Neuron`` gets when none is given (the kernels may depend on it).
DEFAULT_SURROGATE = "atan"


def _probe(device: str) -> Any:
    """A one-element float32 tensor of ``device``'s kind: real, or fake without a GPU."""
    import torch

    if device == "cpu" or (device == "cuda" and torch.cuda.is_available()):
        return torch.zeros(1, 1, device=device)
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        return torch.zeros(1, 1, device=device)


def kernel_family(spec: Any, surrogate: Any, device: str) -> dict[str, str]:
    """``{"kernel", "reason"}``: the family the fused operator of ``spec`` runs with
    ``surrogate`` on a float32 ``device`` tensor, as the dispatch decides it."""
    from ..core.step_program import program_of
    from ..kernels.neuron_choice import neuron_kernels

    try:
        kernels = neuron_kernels(program_of(spec), surrogate, _probe(device))
    except Exception as error:  # a forced family that cannot run here: shown, not hidden
        return {"kernel": "error", "reason": f"{type(error).__name__}: {error}"}
    return {"kernel": str(kernels.family), "reason": str(getattr(kernels, "reason", ""))}


def neuron_report() -> list[dict[str, Any]]:
    """One object per registered neuron: provenance, equations, params and kernels."""
    from ..core.neuron_spec import RESET_MODES
    from ..core.registry import get_spec, list_neurons, table

    current = table()
    surrogate = get_spec(DEFAULT_SURROGATE)
    report = []
    for name in list_neurons():
        provided = current.neurons[name]
        spec, record = provided.item, provided.record
        report.append(
            {
                "name": name,
                "description": spec.description,
                "distribution": record.distribution,
                "version": record.version,
                "plugin": record.name,
                "builtin": record.builtin,
                "decision": current.decisions.get(("neurons", name), ""),
                "states": list(spec.states),
                "params": dict(spec.params),
                "spiking": spec.spiking,
                "update": dict(spec.update),
                "fire": spec.fire,
                "reset": dict(spec.reset),
                "resets": list(RESET_MODES if spec.spiking else ("subtract",)),
                "kernels": {
                    device: kernel_family(spec, surrogate, device) for device in DEVICE_KINDS
                },
            }
        )
    return report


def _kernel_cell(kernel: dict[str, str]) -> str:
    return kernel["kernel"] + (f" ({kernel['reason']})" if kernel["reason"] else "")


def neurons_command(args: argparse.Namespace) -> int:
    infos = loading(neuron_report)
    rows = [
        [
            info["name"],
            ",".join(info["states"]),
            ",".join(f"{k}={v:g}" for k, v in info["params"].items()) or "-",
            "yes" if info["spiking"] else "no (readout)",
            *(_kernel_cell(info["kernels"][device]) for device in DEVICE_KINDS),
            info["distribution"] + (" (built-in)" if info["builtin"] else ""),
        ]
        for info in infos
    ]
    headers = ["NEURON", "STATES", "PARAMS", "SPIKES", "CPU", "CUDA", "DISTRIBUTION"]
    footer = (
        f"{len(infos)} neurons; CPU/CUDA: the kernel family that runs each fused on a float32 "
        f"tensor with the default surrogate ({DEFAULT_SURROGATE}); --json adds the equations"
    )
    return emit(args, infos, f"{format_table(headers, rows)}\n\n{footer}")


def plan(args: argparse.Namespace) -> argparse.Namespace:
    """The listing runs as given (it has no names to check)."""
    return args


execute = neurons_command
