"""What every operator of the project does under ``torch.autocast``: one policy each.

An operator is given an Autocast kernel for every device type torch can autocast
(``AutocastCPU``, ``AutocastCUDA``, ...), the way ``torch.library.register_autocast``
registers one, but with a policy instead of one fixed dtype:

- :data:`ELEMENTWISE` (the surrogate operators ``sc_neurocore::<name>`` and their backward):
  no cast, as torch's element-wise activations under autocast; ``H(x)`` (exact in any dtype)
  and ``g(x)`` are computed in the input's dtype.
- :data:`FUSED` (every neuron spec's ``sc_neurocore_neuron::<name>`` and its backward,
  those the fused LIF, SynapticLIF and LeakyIntegrator run included): no cast; a
  bf16/fp16 input (what a Linear under autocast produced) is read as it is, combined with the
  state by type promotion (neurons/dtypes.py), and the membrane is accumulated in float32
  inside the kernels, which store in the input's dtype.
  ``register_autocast(op, device, torch.float32)`` would instead copy every such input to
  float32 (twice the bytes kept for backward), and ``torch.bfloat16`` would round an fp32
  membrane the user chose to keep.

The kernel runs the operator once more with autocast off for that device, so nothing inside
(the project's own kernels) is cast again.  :data:`POLICIES` is filled by the registrations
themselves; docs/mixed-precision.md shows it and a test checks every operator has one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "ELEMENTWISE",
    "FUSED",
    "POLICIES",
    "autocast_device_types",
    "register_autocast_policy",
]

ELEMENTWISE = "no cast: computed in the input's dtype"
FUSED = "no cast: bf16/fp16 read as given, state by promotion, accumulated in float32"

#: qualified operator name -> its autocast policy (one of the constants above)
POLICIES: dict[str, str] = {}

_CANDIDATE_DEVICES = ("cpu", "cuda", "xpu", "hpu", "mps")


def autocast_device_types() -> tuple[str, ...]:
    """The device types this torch can autocast (``torch.amp.is_autocast_available``)."""
    available = getattr(torch.amp, "is_autocast_available", None)
    if available is None:  # torch < 2.4: the two autocast devices every build has
        return ("cpu", "cuda")
    found = []
    for device in _CANDIDATE_DEVICES:
        try:
            if available(device):
                found.append(device)
        except RuntimeError:  # an unknown device type on this build
            continue
    return tuple(found)


def _autocast_key(device: str) -> str:
    return "Autocast" + {"cpu": "CPU", "cuda": "CUDA", "xpu": "XPU", "hpu": "HPU"}.get(
        device, device.upper()
    )


def _keep_kernel(op: Any, device: str) -> Callable[..., Any]:
    def kernel(*args: Any) -> Any:
        with torch.autocast(device_type=device, enabled=False):
            return op(*args)

    return kernel


def register_autocast_policy(library: torch.library.Library, name: str, policy: str) -> None:
    """Give operator ``library.ns::name`` the Autocast kernels of ``policy`` on every device
    type torch can autocast, and record the policy in :data:`POLICIES`."""
    if policy not in (ELEMENTWISE, FUSED):
        raise ValueError(f"register_autocast_policy: unknown policy {policy!r}")
    op = getattr(getattr(torch.ops, library.ns), name).default
    for device in autocast_device_types():
        library.impl(name, _keep_kernel(op, device), _autocast_key(device))
    POLICIES[f"{library.ns}::{name}"] = policy
