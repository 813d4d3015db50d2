"""Run the fused multi-step LIF on the fastest kernels this machine has, and check it.

On a CUDA GPU the fused ``LIF`` runs Triton kernels generated from the surrogate's formula;
on CPU its compiled C kernels (or torch ops where those cannot run).  The line printed first
says which, and why.  ``SC_NEUROCORE_KERNEL=torch|native|triton`` forces one family
(``triton`` on CPU tensors also needs ``TRITON_INTERPRET=1``: Triton's slow interpreter).

Run: python examples/fused_lif_gpu.py
"""

import torch

import sc_neurocore
from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.neurons.fused import LIF, fused_kernel

device = "cuda" if torch.cuda.is_available() else "cpu"
kernel, reason = fused_kernel("atan", device)
print(f"fused LIF on {device}: {kernel} kernels" + (f" ({reason})" if reason else ""))

surrogate = sc_neurocore.get_surrogate("atan", alpha=2.0)
options = dict(beta=0.9, threshold=1.0, surrogate_fn=surrogate, learn_beta=True)
layer = LIF(**options).to(device)
cell = LIFCell(**options).to(device)
cell.load_state_dict(layer.state_dict())  # the same parameters, stepped one time step at a time

torch.manual_seed(0)
x = torch.randn(64, 16, 512, device=device) * 0.5 + 0.3  # (time, batch, neurons)

fused_x = x.clone().requires_grad_(True)
spikes, v = layer(fused_x)  # one operator over all 64 steps
(spikes.sum() + v.sum()).backward()  # closed-form backpropagation through time

stepped_x, state, stepped = x.clone().requires_grad_(True), None, []
for current in stepped_x.unbind(0):
    spike, state = cell(current, state)
    stepped.append(spike)
(torch.stack(stepped).sum() + state.sum()).backward()

same = torch.equal(spikes, torch.stack(stepped))
grad_error = (fused_x.grad - stepped_x.grad).abs().max().item()
print(f"spike rate {spikes.mean().item():.3f}; spikes identical to LIFCell: {same}")
print(f"largest input-gradient difference to LIFCell: {grad_error:.2e}")
print(
    f"d loss / d beta_logit: fused {layer.beta_logit.grad.item():.4f}, "
    f"stepped {cell.beta_logit.grad.item():.4f}"
)
assert same and grad_error < 1e-3
