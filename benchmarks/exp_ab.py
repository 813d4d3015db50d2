"""The kernels' own exp against the C library's, interleaved in one process (issue 27).

Builds the compiled kernels of ``sigmoid`` (exp) and ``atan`` (rational) once per
(SC_NEUROCORE_NATIVE_ISA cap, exp) variant and times, in a new random order each round, each
variant's element-wise spike and backward over 1e6 float32 elements (the compiled half of a
surrogate's fwd+bwd) and the generated LIF's (``sc_neurocore_neuron::lif``) forward+backward
over (T, batch, N) = (100, 16, 1024), beside one torch.mul of 1e6.  Prints medians of
in-round ratios: sigmoid over atan of the same variant, and own over library of the same cap.

    python -m benchmarks.exp_ab --caps avx2 auto --rounds 41
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable

import torch

import sc_neurocore
from benchmarks.timing import Timing, interleaved
from sc_neurocore.core.registry import get_neuron_spec
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.native import build, elementwise, isa, neuron

SHAPE = (100, 16, 1024)
NUMEL = 1_000_000


def _kernels(cap: str, exp: str) -> dict[str, Callable[[], object]]:
    os.environ[isa.ENV_ISA], os.environ[isa.ENV_EXP] = cap, exp
    neuron.kernels = build.KernelTable()  # built for this variant, not reused from another
    generator = torch.Generator().manual_seed(0)
    x, grad = torch.randn(NUMEL, generator=generator), torch.randn(NUMEL, generator=generator)
    drive = torch.randn(SHAPE, generator=generator) * 0.5 + 0.15
    grad_spikes = torch.randn(SHAPE, generator=generator)
    program = program_of(get_neuron_spec("lif"))
    lif_params = {"beta": 0.9, "threshold": 1.0}
    zeros = [torch.zeros(SHAPE[1:])]
    runs: dict[str, Callable[[], object]] = {}
    for name in ("sigmoid", "atan"):
        spec = sc_neurocore.get_spec(name)
        params = tuple(spec.defaults.values())
        element = elementwise._load(spec, spec.c_grad or "")
        fused = neuron._load(program, spec, (False, False), torch.float32)
        assert not isinstance(element, str) and not isinstance(fused, str), (element, fused)

        def fwd_bwd(k: elementwise.NativeElementwise = element, p: tuple = params) -> None:
            k.spike(x)
            k.backward(x, grad, p)

        def lif_fwd_bwd(k: neuron.NativeNeuron = fused, p: tuple = params) -> None:
            k.forward(drive, zeros, lif_params, p)
            k.backward(grad_spikes, zeros, drive, zeros, lif_params, p, False)

        runs[f"{cap}/{exp}/{name}/elementwise"] = fwd_bwd
        runs[f"{cap}/{exp}/{name}/lif"] = lif_fwd_bwd
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caps", nargs="+", default=["avx2", "auto"])
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    torch.set_num_threads(1)
    a, b, c = torch.randn(NUMEL), torch.randn(NUMEL), torch.empty(NUMEL)
    runs: dict[str, Callable[[], object]] = {"torch.mul": lambda: torch.mul(a, b, out=c)}
    for cap in args.caps:
        for exp in ("own", "library"):
            runs.update(_kernels(cap, exp))
    samples = interleaved(runs, Timing(rounds=args.rounds, warmup=2, min_sample_s=0.02))

    def ratio(top: str, bottom: str) -> float:
        pairs = zip(samples[top].seconds, samples[bottom].seconds)
        return statistics.median(t / b for t, b in pairs)

    print(f"{isa.describe_host()['cpu_model']}, one thread, medians of {args.rounds} rounds")
    for cap in args.caps:
        for kind in ("elementwise", "lif"):
            for exp in ("own", "library"):
                key = f"{cap}/{exp}/sigmoid/{kind}"
                line = f"{cap:6s} {kind:11s} {exp:7s}"
                line += f" sigmoid/atan {ratio(key, key.replace('sigmoid', 'atan')):.3f}"
                line += f"  sigmoid/torch.mul {ratio(key, 'torch.mul'):.2f}"
                if exp == "own":
                    line += f"  own/library {ratio(key, key.replace('/own/', '/library/')):.3f}"
                print(line)


if __name__ == "__main__":
    main()
