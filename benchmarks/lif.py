"""Section ``lif``: one LIF layer, fwd+bwd over a whole sequence, in neuron-steps/s.

Every candidate runs the same equations (``v = beta v + x``, spike on ``v - 1``,
subtractive reset through the detached spike) with beta = 0.9 and the atan surrogate
(alpha = 2) unless it says otherwise; fwd+bwd is ``torch.autograd.grad(spikes, x, g)``.
A candidate is described by a small dict so a child process can rebuild it for the
peak-memory measurement (see :mod:`.memory`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sc_neurocore.core.registry import (
    coverage,
    get_spec,
    get_surrogate,
    list_paths,
    list_surrogates,
)

from .common import BETA, THRESHOLD, Layer, fwd_bwd
from .config import BenchConfig
from .peers import module_present
from .progress import Progress
from .timing import Samples, interleaved, median_ratio


def lif_inputs(shape: tuple[int, int, int], seed: int = 0) -> tuple[Tensor, Tensor]:
    """Input current (about 10 % of neurons spike per step) and an output gradient."""
    generator = torch.Generator().manual_seed(seed)
    # Filled in place: no temporaries, so input creation leaves no freed memory behind.
    x = torch.empty(shape).normal_(0.15, 0.5, generator=generator).requires_grad_(True)
    return x, torch.empty(shape).normal_(generator=generator)


def _stepped(step: Callable[[Tensor, Any], tuple[Tensor, Any]], state: Any) -> Layer:
    """A layer stepping ``step(current, state) -> (spike, state)`` over time."""

    def layer(x: Tensor) -> Tensor:
        current_state = state() if callable(state) else state
        spikes = []
        for current in x.unbind(0):
            spike, current_state = step(current, current_state)
            spikes.append(spike)
        return torch.stack(spikes)

    return layer


def _cell_layer(path: str) -> Layer:
    from sc_neurocore.neurons.cells import LIFCell

    cell = LIFCell(beta=BETA, threshold=THRESHOLD, surrogate_fn=get_surrogate("atan", path))
    return _stepped(cell, None)


def _fused_layer(surrogate: str) -> Layer:
    from sc_neurocore.neurons.fused import LIF

    fused = LIF(beta=BETA, threshold=THRESHOLD, surrogate_fn=get_surrogate(surrogate))
    return lambda x: fused(x)[0]


def _snntorch_layer() -> Layer:
    import snntorch
    from snntorch import surrogate

    leaky = snntorch.Leaky(
        beta=BETA,
        threshold=THRESHOLD,
        spike_grad=surrogate.atan(alpha=2.0),
        reset_mechanism="subtract",
    )

    return _stepped(leaky, leaky.init_leaky)


def spikingjelly_layer(**options: Any) -> Layer:
    """SpikingJelly's multi-step LIFNode; ``options`` go to ``LIFNode`` (e.g. ``backend``)."""
    from spikingjelly.activation_based import neuron, surrogate

    # tau = 1 / (1 - beta) with decay_input=False and v_reset=None is v = beta v + x.
    node = neuron.LIFNode(
        tau=1.0 / (1.0 - BETA),
        decay_input=False,
        v_threshold=THRESHOLD,
        v_reset=None,
        surrogate_function=surrogate.ATan(alpha=2.0),
        detach_reset=True,
        step_mode="m",
        **options,
    )

    def layer(x: Tensor) -> Tensor:
        node.reset()
        out: Tensor = node(x)
        return out

    return layer


def _norse_layer(compiled: bool) -> Layer:
    from norse.torch import LIFBoxCell, LIFBoxParameters
    from norse.torch.functional.reset import reset_subtract

    # dt * tau_mem_inv = 1 - beta: v <- v + (1 - beta) (i - v) = beta v + (1 - beta) i, so the
    # current is scaled by 1 / (1 - beta) to give v = beta v + x.  Norse has no atan
    # surrogate; its SuperSpike (alpha 10) is our superspike (beta 10).  Its reset is not
    # detached (the gradient also flows through the reset), ours and the others' are.
    params = LIFBoxParameters(
        tau_mem_inv=torch.as_tensor(1.0 - BETA),
        v_th=torch.as_tensor(THRESHOLD),
        method="super",
        alpha=torch.as_tensor(10.0),
        reset_method=reset_subtract,
    )
    cell = LIFBoxCell(params, dt=1.0)
    step = torch.compile(cell) if compiled else cell
    scale = 1.0 / (1.0 - BETA)

    def layer(x: Tensor) -> Tensor:
        state = None
        spikes = []
        for current in (x * scale).unbind(0):
            spike, state = step(current, state)
            spikes.append(spike)
        return torch.stack(spikes)

    return layer


def build_layer(spec: dict[str, Any]) -> Layer:
    """The layer a candidate description names (see :func:`candidates`)."""
    kind = spec["kind"]
    if kind == "cell":
        return _cell_layer(spec["path"])
    if kind == "fused":
        return _fused_layer(spec["surrogate"])
    if kind == "snntorch":
        return _snntorch_layer()
    if kind == "spikingjelly":
        return spikingjelly_layer()
    if kind == "norse":
        return _norse_layer(bool(spec.get("compiled", False)))
    raise ValueError(f"unknown LIF candidate kind {kind!r}")


def candidates(installed: dict[str, str | None], notes: list[str]) -> dict[str, dict[str, Any]]:
    """label -> description of every LIF candidate available here."""
    found: dict[str, dict[str, Any]] = {}
    if module_present("sc_neurocore.neurons.cells"):
        for path in list_paths():
            if coverage("atan", path)[0]:
                found[f"LIFCell loop [{path}]"] = {"kind": "cell", "path": path}
    # One branch per optional peer: found, or a note saying why it is missing.
    else:
        notes.append("sc_neurocore.neurons.cells is missing: LIFCell not measured")
    if installed.get("snntorch"):
        found["snntorch.Leaky loop"] = {"kind": "snntorch"}
    else:
        notes.append("snnTorch not installed (the 'bench' extra): skipped")
    if installed.get("spikingjelly"):
        found["spikingjelly.LIFNode(step_mode='m')"] = {"kind": "spikingjelly"}
    else:
        notes.append("SpikingJelly not installed (the 'bench' extra): skipped")
    if installed.get("norse"):
        found["norse.LIFBoxCell loop"] = {"kind": "norse"}
    else:
        notes.append("Norse not installed (pip install --no-deps norse nir nirtorch): skipped")
    if module_present("sc_neurocore.neurons.fused"):
        from sc_neurocore.kernels.native.lif import native_status

        for surrogate in list_surrogates():
            found[f"fused LIF [{surrogate}]"] = {"kind": "fused", "surrogate": surrogate}
            status = native_status(get_spec(surrogate))
            if status != "compiled":
                notes.append(f"fused LIF [{surrogate}] runs its torch kernels: {status}")
    else:
        notes.append("sc_neurocore.neurons.fused is missing: fused LIF not measured")
    return found


def _ratios(label: str, samples: dict[str, Samples]) -> dict[str, float]:
    """Throughput of ``label`` over each other candidate's (time ratio inverted)."""
    mine = samples[label]
    return {other: median_ratio(s, mine) for other, s in samples.items() if other != label}


def run_lif(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, Any]:
    notes: list[str] = []
    found = candidates(installed, notes)
    progress.start("lif", len(found) + 1)
    shape = config.lif_shape
    x, g = lif_inputs(shape)
    runs: dict[str, Callable[[], object]] = {}
    for label, spec in found.items():
        progress.step(f"building {label}")
        try:
            runs[label] = fwd_bwd(build_layer(spec), x, g)
            runs[label]()
        except Exception as error:  # a broken peer or module must not stop the benchmark
            notes.append(f"{label}: failed ({type(error).__name__}: {error})")
            runs.pop(label, None)
    progress.step(f"timing {len(runs)} candidates, {config.lif_timing.rounds} rounds")
    samples = interleaved(runs, config.lif_timing) if runs else {}
    neuron_steps = shape[0] * shape[1] * shape[2]
    rows = [
        {
            "candidate": label,
            **found[label],
            "seconds": samples[label].median,
            "neuron_steps_per_s": neuron_steps / samples[label].median,
            "speedup_over": _ratios(label, samples),
        }
        for label in runs
    ]
    return {
        "title": "LIF layer fwd+bwd (T, batch, neurons) = " + "x".join(map(str, shape)),
        "shape": list(shape),
        "rows": rows,
        "notes": notes,
        "descriptions": {label: found[label] for label in runs},
    }
