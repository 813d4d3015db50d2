"""``sc-neurocore neurons``: every registered neuron, where it comes from, its equations, and
the kernel family that runs it fused on each device kind.

The family is the kernel selector's decision for a float32 tensor of each device kind with
the layer's default surrogate (:func:`~sc_neurocore.kernels.neuron_choice.neuron_choice`),
what a call on such a tensor runs.
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


def kernel_family(spec: Any, surrogate: Any, device: str) -> dict[str, str]:
    """``{"kernel", "reason"}``: the family the fused operator of ``spec`` runs with
    ``surrogate`` on a float32 ``device`` tensor: the kernel selector's one decision."""
    from ..core.step_program import program_of
    from ..kernels.neuron_choice import neuron_choice

    program = program_of(spec)
    family, reason = neuron_choice(program, surrogate if program.spiking else None, device)
    return {"kernel": family, "reason": reason}


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
