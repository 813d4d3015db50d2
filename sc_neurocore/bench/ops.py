"""Sections ``surrogates`` and ``peers``: one surrogate spike, fwd+bwd, on a flat tensor.

fwd+bwd is ``torch.autograd.grad(f(x), x, g)`` (no ``.grad`` accumulation), with
``x`` and ``g`` fp32 and ``f`` called as ``get_surrogate(name, path)`` with the
spec's default parameters.  Each (surrogate, size) is one interleaved group: the
baseline ``torch.mul(a, b, out=c)`` of the same size, every registered path, and the
peers' counterparts; every ratio is taken between candidates of the same round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..registry import coverage, get_surrogate, list_paths, list_surrogates
from .config import BenchConfig
from .peers import counterparts
from .progress import Progress
from .timing import Samples, interleaved, median_ratio

BASELINE = "torch.mul"


def _fwd_bwd(fn: Callable[[Tensor], Tensor], x: Tensor, g: Tensor) -> Callable[[], object]:
    return lambda: torch.autograd.grad(fn(x), x, g)


def _group(
    surrogate: str, numel: int, paths: list[str], peers: bool, installed: dict[str, str | None]
) -> tuple[dict[str, Callable[[], object]], dict[str, dict[str, Any]]]:
    """The candidates of one group, and what each one is."""
    generator = torch.Generator().manual_seed(numel)
    x = torch.randn(numel, generator=generator).requires_grad_(True)
    g, a, b = (torch.randn(numel, generator=generator) for _ in range(3))
    c = torch.empty(numel)
    runs: dict[str, Callable[[], object]] = {BASELINE: lambda: torch.mul(a, b, out=c)}
    about: dict[str, dict[str, Any]] = {}
    for path in paths:
        runs[path] = _fwd_bwd(get_surrogate(surrogate, path), x, g)
        about[path] = {"kind": "path", "path": path}
    for peer in counterparts(surrogate, installed) if peers else ():
        runs[peer.library] = _fwd_bwd(peer.factory(), x, g)
        about[peer.library] = {
            "kind": "peer",
            "library": peer.library,
            "function": peer.label,
            "same_formula": peer.same,
            "note": peer.note,
        }
    return runs, about


def _row(name: str, info: dict[str, Any], samples: dict[str, Samples], surrogate: str, numel: int):
    mine = samples[name]
    return {
        "surrogate": surrogate,
        "numel": numel,
        **{key: value for key, value in info.items() if key != "kind"},
        "seconds": mine.median,
        "x_mul": median_ratio(mine, samples[BASELINE]),
        "mul_seconds": samples[BASELINE].median,
        "page_faults_per_call": mine.median_faults,
        "vs": {
            other: median_ratio(mine, s)
            for other, s in samples.items()
            if other not in (name, BASELINE)
        },
    }


def run_ops(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """Both sections' results (only those in ``config.sections`` are kept by the runner)."""
    with_peers = "peers" in config.sections
    notes: dict[str, list[str]] = {"surrogates": [], "peers": []}
    if with_peers:
        for library, version in installed.items():
            if version is None:
                notes["peers"].append(
                    f"{library} not installed (pip install 'sc-neurocore[bench]'): skipped"
                )
    groups = [(s, n) for s in list_surrogates() for n in config.sizes]
    progress.start("surrogates", len(groups))
    rows: dict[str, list[dict[str, Any]]] = {"surrogates": [], "peers": []}
    for surrogate, numel in groups:
        progress.step(f"{surrogate} at {numel:.0e} elements")
        paths = []
        for path in list_paths():
            ok, reason = coverage(surrogate, path)
            if ok:
                paths.append(path)
            elif numel == config.sizes[0]:
                notes["surrogates"].append(f"{surrogate} on {path}: not run ({reason})")
        runs, about = _group(surrogate, numel, paths, with_peers, installed)
        samples = interleaved(runs, config.surrogate_timing)
        for name, info in about.items():
            section = "surrogates" if info["kind"] == "path" else "peers"
            rows[section].append(_row(name, info, samples, surrogate, numel))
    return {
        "surrogates": {
            "title": "Surrogate spike fwd+bwd per registered path (fp32)",
            "rows": rows["surrogates"],
            "notes": notes["surrogates"],
        },
        "peers": {
            "title": "The same surrogates in snnTorch and SpikingJelly (fp32)",
            "rows": rows["peers"],
            "notes": notes["peers"],
        },
    }
