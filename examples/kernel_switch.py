"""Which kernel runs a surrogate, how to force one, and a surrogate of your own from a formula.

Run: python examples/kernel_switch.py   (CPU is enough; on a CUDA machine the Triton rows
say "triton").  The same listing is `sc-neurocore kernels` on the command line.
"""

from __future__ import annotations

import torch

import sc_neurocore
from sc_neurocore.cli.kernels import kernel_report

# 1. Which kernel serves each surrogate's operator, per device kind, and why not a faster one.
for row in kernel_report():
    if row["op"].startswith("sc_neurocore::"):
        print(f"{row['op']:32} {row['device']:5} {row['kernel']:7} {row['reason'] or '-'}")

# 2. The same numbers from every kernel family that can run here.
spike = sc_neurocore.get_surrogate("sigmoid")
x = torch.randn(10_000, requires_grad=True)
grads = {}
for family in ("torch", "native"):
    with sc_neurocore.use_kernel(family):
        (grads[family],) = torch.autograd.grad(spike(x).sum(), x)
print(
    "native vs torch kernels, max |difference|:",
    float((grads["native"] - grads["torch"]).abs().max()),
)

# 3. Forcing a family where it cannot run is an error that says why, never a silent fallback.
try:
    with sc_neurocore.use_kernel("native"):
        spike(torch.randn(4, dtype=torch.float16))
except sc_neurocore.KernelUnavailableError as error:
    print("refused:", error)

# 4. A surrogate written once, as a formula: grad, the C kernels and the Triton kernels follow.
bump = sc_neurocore.SurrogateSpec.from_formula(
    name="bump",
    params=(("width", 0.5),),
    formula="where(abs(x) < width, 1 - abs(x) / width, 0) / width",
    description="Triangular bump of half-width `width`",
)
print("bump formula as C:     ", bump.c_grad)
print("bump formula as Triton:", bump.parsed_formula().triton())
