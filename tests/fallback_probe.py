"""Run in a fresh process with ``SC_NEUROCORE_TORCH_FALLBACKS`` set: every feature that a
forced fallback touches still gives the reference results.  ``tests/test_torch_shims.py``
starts it; run it by hand as ``SC_NEUROCORE_TORCH_FALLBACKS=all python -m tests.fallback_probe``.
"""

from __future__ import annotations

import torch

import sc_neurocore
from sc_neurocore.core import compat
from sc_neurocore.core.callforms import atan_surrogate
from sc_neurocore.core.registry import coverage, get_spec
from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.testing.checks import (
    assert_gradient_close,
    check_compile,
    check_forward,
    check_gradient,
    check_layouts,
)


def check_shims_forced() -> list[str]:
    forced = compat.env_names(compat.FORCE_ENV)
    assert forced, f"set {compat.FORCE_ENV}"
    used = [shim.name for shim in compat.shim_status() if not shim.uses_private]
    for shim in compat.shim_status():
        if "all" in forced or shim.name in forced:
            assert not shim.uses_private, shim
    return used


def check_pairs() -> int:
    checked = 0
    for surrogate in sc_neurocore.list_surrogates():
        spec = get_spec(surrogate)
        for path in sc_neurocore.list_paths():
            if not coverage(surrogate, path)[0]:
                continue
            check_forward(surrogate, path, torch.float32)
            check_gradient(surrogate, path, torch.float32)
            check_layouts(surrogate, path)
            fn = sc_neurocore.get_surrogate(surrogate, path)
            x = torch.linspace(-2, 2, 9, dtype=torch.float64)
            grad = torch.func.grad(lambda v, fn=fn: fn(v).sum())(x)
            assert_gradient_close(grad, spec.grad(x, **spec.defaults), x.dtype, "torch.func.grad")
            batched = torch.func.vmap(fn)(x.reshape(3, 3))
            assert torch.equal(batched, (x.reshape(3, 3) > 0).to(x.dtype))
            checked += 1
    check_compile("atan", "custom_op")  # the path whose compile support the shims touch
    return checked


def check_dispatcher_compiles() -> None:
    """The call forms' trace-time resolution (marked constant through compat) still traces."""
    torch.compiler.reset()
    x = torch.linspace(-1, 1, 7, requires_grad=True)
    compiled = torch.compile(atan_surrogate, fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(x), (x > 0).float())


def check_fused_lif() -> None:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(6, 4, 300, generator=generator, dtype=torch.float64)
    for dtype in (torch.float32, torch.float64):
        x = inputs.to(dtype).requires_grad_(True)
        fused, cell = LIF(beta=0.8, threshold=0.7), LIFCell(beta=0.8, threshold=0.7)
        spikes, v = fused(x)
        (spikes.sum() + v.sum()).backward()
        grad = x.grad
        x.grad = None
        state, reference = None, []
        for step in x.unbind(0):
            spike, state = cell(step, state)
            reference.append(spike)
        stacked = torch.stack(reference)
        (stacked.sum() + state.sum()).backward()
        assert torch.equal(spikes, stacked) and torch.equal(v, state)
        assert_gradient_close(grad, x.grad.double(), dtype, "fused LIF under fallbacks")


def main() -> None:
    used = check_shims_forced()
    pairs = check_pairs()
    check_dispatcher_compiles()
    check_fused_lif()
    print(f"fallbacks {','.join(used)}: {pairs} pairs, compile, fused LIF: ok")


if __name__ == "__main__":
    main()
