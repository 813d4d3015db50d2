"""Fused neurons on the CPU: the speed targets of issue 23, in one run of interleaved rounds.

``python -m benchmarks.fused_neurons`` (from a checkout) measures, for one ``(T, batch, width)``
float32 workload and the atan surrogate, fwd+bwd as ``torch.autograd.grad(out, x, g)``:

* every built-in neuron's fused layer against a ``copy_`` of one sequence (same run,
  same rounds): the *fraction of the memory-traffic limit* is, per round, the time its
  traffic would take at the copy's bandwidth over its time; the traffic of a fused neuron
  is 20 bytes per neuron-step whatever its states (forward: read x, write the output;
  backward: read x and the output's gradient, write the input's; the state history
  stays in cache between the backward's two passes);
* the fused ``LIF`` layer (``sc_neurocore.neurons.fused.LIF``, which runs the generated
  ``lif`` operator since the hand-written kernels were deleted) against ``Neuron("lif")``:
  the layer's time over the spec layer's, the cost of the wrapper (about 1.0); the
  hand-written kernels measured 1.30-1.38x the generated ones' time just before they went;
* fused ALIF against stepwise ALIF (``fused=False``) and against the fastest installed
  peer with an adaptive threshold (Norse's ``LSNN``; snnTorch and SpikingJelly have none).

Every ratio is the median over rounds of the ratio within a round (the machine may be
shared). Results go to ``benchmarks/results-neurons.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sc_neurocore.core.registry import get_surrogate
from sc_neurocore.core.step_program import program_of
from sc_neurocore.kernels.neuron_choice import neuron_kernels
from sc_neurocore.neuron_models import BUILTIN_NEURONS
from sc_neurocore.neurons.neuron import Neuron

from .timing import Samples, Timing, interleaved, median_ratio

RESULTS = Path(__file__).with_name("results-neurons.json")
SURROGATE = "atan"
COPY, COPY_BYTES, NEURON_BYTES = "copy", 8, 20
Run = Callable[[], Any]


def _inputs(shape: tuple[int, int, int], scale: float = 1.0) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.empty(shape).normal_(0.15 * scale, 0.5 * scale, generator=generator)
    return x.requires_grad_(True), torch.empty(shape).normal_(generator=generator)


def _fwd_bwd(layer: Callable[[Tensor], Any], x: Tensor, g: Tensor) -> Run:
    def run() -> Any:
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out
        return torch.autograd.grad(out, x, g)

    return run


def _copy(numel: int) -> Run:
    source, target = torch.randn(numel), torch.empty(numel)
    return lambda: target.copy_(source)


def _fraction(kernel: Samples, copy: Samples, kernel_bytes: int) -> float:
    return statistics.median(
        (c * kernel_bytes / COPY_BYTES) / k for k, c in zip(kernel.seconds, copy.seconds)
    )


def _neuron(name: str, fused: bool) -> Neuron:
    return Neuron(name, get_surrogate(SURROGATE), fused=fused)


def _family(name: str, x: Tensor) -> str:
    spec = next(s for s in BUILTIN_NEURONS if s.name == name)
    from sc_neurocore.core.registry import get_spec

    return neuron_kernels(program_of(spec), get_spec(SURROGATE), x).family


def limits(shape: tuple[int, int, int], timing: Timing) -> dict[str, Any]:
    """Every built-in neuron's fused fwd+bwd as a fraction of the copy's bandwidth."""
    runs: dict[str, Run] = {COPY: _copy(shape[0] * shape[1] * shape[2])}
    families = {}
    for spec in BUILTIN_NEURONS:
        x, g = _inputs(shape, 12.0 if spec.name == "izhikevich" else 1.0)
        runs[spec.name] = _fwd_bwd(_neuron(spec.name, True), x, g)
        families[spec.name] = _family(spec.name, x)
    samples = interleaved(runs, timing)
    copy = samples[COPY]
    bandwidth = COPY_BYTES * shape[0] * shape[1] * shape[2] / copy.median / 1e9
    return {
        "copy_GB_per_s": round(bandwidth, 2),
        "bytes_per_neuron_step": NEURON_BYTES,
        "neurons": {
            name: {
                "family": families[name],
                "fraction_of_limit": round(_fraction(samples[name], copy, NEURON_BYTES), 3),
                "median_s": samples[name].median,
                "neuron_steps_per_s": shape[0] * shape[1] * shape[2] / samples[name].median,
            }
            for name in families
        },
    }


def lif_layer_against_neuron(shape: tuple[int, int, int], timing: Timing) -> dict[str, Any]:
    """The fused ``LIF`` layer's time over ``Neuron("lif")``'s (both run the generated
    operator: what the layer's wrapper costs)."""
    from sc_neurocore.neurons.fused import LIF

    x, g = _inputs(shape)
    layer = LIF(beta=0.9, threshold=1.0, surrogate_fn=get_surrogate(SURROGATE))
    samples = interleaved(
        {
            "generated": _fwd_bwd(_neuron("lif", True), x, g),
            "LIF layer": _fwd_bwd(lambda x: layer(x)[0], x, g),
        },
        timing,
    )
    return {
        "generated_family": _family("lif", x),
        "lif_layer_over_neuron": round(median_ratio(samples["LIF layer"], samples["generated"]), 3),
        "median_s": {name: s.median for name, s in samples.items()},
    }


def _norse_lsnn() -> Callable[[Tensor], Tensor] | None:
    try:
        from norse.torch import LSNN
    except ImportError:
        return None
    module = LSNN()
    return lambda x: module(x)[0]


def alif_against_others(shape: tuple[int, int, int], timing: Timing) -> dict[str, Any]:
    """Stepwise ALIF and each installed peer's ALIF/LSNN time over fused ALIF's."""
    x, g = _inputs(shape)
    runs = {
        "fused": _fwd_bwd(_neuron("alif", True), x, g),
        "stepwise": _fwd_bwd(_neuron("alif", False), x, g),
    }
    notes = []
    lsnn = _norse_lsnn()
    if lsnn is None:
        notes.append("norse is not installed: no peer LSNN measured")
    else:
        runs["norse.LSNN"] = _fwd_bwd(lsnn, x, g)
    notes.append("snnTorch and SpikingJelly have no adaptive-threshold LIF (none measured)")
    samples = interleaved(runs, timing)
    return {
        "fused_family": _family("alif", x),
        "over_fused": {
            name: round(median_ratio(s, samples["fused"]), 2)
            for name, s in samples.items()
            if name != "fused"
        },
        "median_s": {name: s.median for name, s in samples.items()},
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    shape = (args.steps, args.batch, args.width)
    timing = Timing(rounds=args.rounds, warmup=1, min_sample_s=0.05)
    results = {
        "shape": list(shape),
        "dtype": "float32",
        "surrogate": SURROGATE,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "ratios": "median over rounds of the ratio within one round (interleaved)",
        "limits": limits(shape, timing),
        "lif": lif_layer_against_neuron(shape, timing),
        "alif": alif_against_others(shape, Timing(rounds=args.rounds, warmup=1)),
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
