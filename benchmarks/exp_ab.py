"""The kernels' own exp against the C library's, interleaved in one process (issue 27).

Builds the compiled kernels of ``sigmoid`` (exp) and ``atan`` (rational) once per
(SC_NEUROCORE_NATIVE_ISA cap, exp) variant and times, in a new random order each round, each
variant's element-wise backward over 1e6 float32 elements and its fused LIF forward+backward
over (T, batch, N) = (100, 16, 1024), beside one torch.mul of 1e6.  Prints medians of in-round
ratios: sigmoid over atan of the same variant, and own over library of the same cap.

    python -m benchmarks.exp_ab --caps avx2 auto --rounds 41
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
from collections.abc import Callable

import torch

import sc_neurocore
from benchmarks.timing import Timing, interleaved
from sc_neurocore.kernels.native import elementwise, isa, lif


def _kernels(cap: str, exp: str) -> dict[str, Callable[[], object]]:
    os.environ[isa.ENV_ISA], os.environ[isa.ENV_EXP] = cap, exp
    n, shape = 1_000_000, (100, 16, 1024)
    generator = torch.Generator().manual_seed(0)
    x, grad = torch.randn(n, generator=generator), torch.randn(n, generator=generator)
    drive = torch.randn(shape, generator=generator) * 0.5 + 0.3
    grad_spikes = torch.randn(shape, generator=generator)
    runs: dict[str, Callable[[], object]] = {}
    for name in ("sigmoid", "atan"):
        spec = sc_neurocore.get_spec(name)
        params = tuple(spec.defaults.values())
        element = elementwise._load(spec, spec.c_grad or "")
        fused = lif._load(spec)
        assert not isinstance(element, str) and not isinstance(fused, str), (element, fused)
        backward = functools.partial(element.backward, x, grad, params)
        runs[f"{cap}/{exp}/{name}/elementwise"] = backward

        def lif_fwd_bwd(k: lif.NativeLIF = fused, p: tuple[float, ...] = params) -> None:
            spikes, grad_h = torch.empty(shape), torch.empty(shape)
            k.forward(drive, None, 0.9, 1.0, spikes)
            k.backward(
                grad_spikes, torch.zeros(shape[1:]), drive, None, 0.9, 1.0, list(p), grad_h, None
            )

        runs[f"{cap}/{exp}/{name}/lif"] = lif_fwd_bwd
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--caps", nargs="+", default=["avx2", "auto"])
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    torch.set_num_threads(1)
    a, b, c = torch.randn(1_000_000), torch.randn(1_000_000), torch.empty(1_000_000)
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
                line += f" sigmoid/atan {ratio(key, key.replace('sigmoid', 'atan')):.2f}"
                line += f"  sigmoid/torch.mul {ratio(key, 'torch.mul'):.2f}"
                if exp == "own":
                    line += f"  own/library {ratio(key, key.replace('/own/', '/library/')):.3f}"
                print(line)


if __name__ == "__main__":
    main()
