"""Sections ``surrogates`` and ``peers``: one surrogate spike, fwd+bwd, on a flat tensor (on
the run's device; on a GPU each path's row also holds its CUDA peak memory).

fwd+bwd is ``torch.autograd.grad(f(x), x, g)`` (no ``.grad`` accumulation), with
``x`` and ``g`` fp32 and ``f`` called as ``get_surrogate(name, path)`` with the
spec's default parameters.  For each (surrogate, size), one interleaved group holds
the baseline ``torch.mul(a, b, out=c)`` of the same size and every registered path
(section ``surrogates``), which gives ``vs`` (each path's time over the others'); each
path's ``seconds`` and ``x_mul`` come from a group of its own with ``torch.mul``, because
another path's temporaries change the allocator and cache state the next candidate meets
(custom_op at 1e6 measured 1.9x torch.mul alone and 2.25x interleaved with
legacy_autograd).  A further group adds the peers' counterparts (section ``peers``, whose
``vs`` gives each peer's time over each path's).  At the largest size each surrogate whose
formula calls ``exp`` is also timed in a group with :data:`RATIONAL` alone (its
``vs_rational``): issue 27 compares the two "in the same group", and two x_mul figures from
groups measured seconds apart carry whatever the shared machine did in between.  Every ratio
is taken between candidates of the same round.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import torch

from sc_neurocore.core.registry import (
    coverage,
    get_spec,
    get_surrogate,
    list_paths,
    list_surrogates,
)

from .common import MUL, fwd_bwd, mul
from .config import BenchConfig, is_cuda
from .memory import cuda_peak
from .peers import counterparts
from .progress import Progress
from .timing import Samples, interleaved, median_ratio

BASELINE = MUL
#: The rational surrogate each exp-based one is timed against, both on :data:`PAIR_PATH`.
RATIONAL = "atan"
PAIR_PATH = "custom_op"
Candidates = tuple[dict[str, Callable[[], object]], dict[str, dict[str, Any]]]


def _group(
    surrogate: str,
    numel: int,
    paths: list[str],
    peers: bool,
    installed: dict[str, str | None],
    device: str = "cpu",
) -> Candidates:
    """The candidates of one group, and what each one is."""
    generator = torch.Generator(device=device).manual_seed(numel)
    x = torch.randn(numel, generator=generator, device=device).requires_grad_(True)
    g, a, b = (torch.randn(numel, generator=generator, device=device) for _ in range(3))
    c = torch.empty(numel, device=device)
    runs: dict[str, Callable[[], object]] = {BASELINE: mul(a, b, c)}
    about: dict[str, dict[str, Any]] = {}
    for path in paths:
        runs[path] = fwd_bwd(get_surrogate(surrogate, path), x, g)
        about[path] = {"kind": "path", "path": path}
    for peer in counterparts(surrogate, installed) if peers else ():
        runs[peer.library] = fwd_bwd(peer.factory(), x, g)
        about[peer.library] = {
            "kind": "peer",
            "library": peer.library,
            "function": peer.label,
            "same_formula": peer.same,
            "note": peer.note,
        }
    return runs, about


def exp_based(surrogate: str) -> bool:
    """Whether ``surrogate``'s formula calls ``exp`` (its own parse says so)."""
    formula = get_spec(surrogate).parsed_formula()
    return formula is not None and "exp" in formula.uses()


def exp_pairs() -> list[str]:
    """The surrogates timed against :data:`RATIONAL` in a group of the two."""
    if RATIONAL not in list_surrogates() or not coverage(RATIONAL, PAIR_PATH)[0]:
        return []
    return [
        name
        for name in list_surrogates()
        if name != RATIONAL and exp_based(name) and coverage(name, PAIR_PATH)[0]
    ]


def _pair_group(surrogate: str, numel: int, device: str) -> Candidates:
    """torch.mul, ``surrogate`` and :data:`RATIONAL` on :data:`PAIR_PATH`, on shared tensors."""
    generator = torch.Generator(device=device).manual_seed(numel)
    x = torch.randn(numel, generator=generator, device=device).requires_grad_(True)
    g, a, b = (torch.randn(numel, generator=generator, device=device) for _ in range(3))
    runs: dict[str, Callable[[], object]] = {BASELINE: mul(a, b, torch.empty_like(a))}
    for name in (surrogate, RATIONAL):
        runs[name] = fwd_bwd(get_surrogate(name, PAIR_PATH), x, g)
    return runs, {}


def _row(name: str, info: dict[str, Any], samples: dict[str, Samples], surrogate: str, numel: int):
    """One candidate's figures; ``vs`` holds its time over each other candidate's."""
    mine = samples[name]
    return {
        "surrogate": surrogate,
        "numel": numel,
        **{key: value for key, value in info.items() if key != "kind"},
        "seconds": mine.median,
        "x_mul": median_ratio(mine, samples[BASELINE]),
        "mul_seconds": samples[BASELINE].median,
        "page_faults_per_call": mine.median_faults,
        "vs": _vs(name, samples),
    }


def _vs(name: str, samples: dict[str, Samples]) -> dict[str, float]:
    """``name``'s time over each other candidate's of the same group (the baseline aside)."""
    mine = samples[name]
    others = (other for other in samples if other not in (name, BASELINE))
    return {other: median_ratio(mine, samples[other]) for other in others}


#: From this size on, a group is measured on several fresh sets of tensors (see below).
LARGE = 100_000
LAYOUTS = 3


def _measure(
    surrogate: str,
    numel: int,
    paths: list[str],
    peers: bool,
    installed: dict[str, str | None],
    config: BenchConfig,
) -> tuple[dict[str, Samples], dict[str, dict[str, Any]]]:
    """Interleaved samples of one group of ``surrogate``'s paths (and peers)."""
    return _pooled(
        lambda: _group(surrogate, numel, paths, peers, installed, config.device), numel, config
    )


def _pooled(
    candidates: Callable[[], Candidates], numel: int, config: BenchConfig
) -> tuple[dict[str, Samples], dict[str, dict[str, Any]]]:
    """Interleaved samples of one group; large sizes pool rounds over fresh tensors.

    With megabyte buffers a candidate keeps the same addresses for a whole run (the
    allocator hands it back the chunks it freed), and how those fall against the
    inputs' (cache sets, 4 KiB aliasing) can move even identical code by 30 %.
    New inputs and closures per layout spread that over the pooled rounds.
    """
    layouts = LAYOUTS if numel >= LARGE else 1
    timing = config.surrogate_timing
    per_layout = dataclasses.replace(timing, rounds=max(1, -(-timing.rounds // layouts)))
    pooled: dict[str, list[Samples]] = {}
    about: dict[str, dict[str, Any]] = {}
    for _ in range(layouts):
        runs, about = candidates()
        for name, samples in interleaved(runs, per_layout, config.device).items():
            pooled.setdefault(name, []).append(samples)
        del runs
    merged = {
        name: Samples(
            name,
            tuple(v for s in parts for v in s.seconds),
            tuple(v for s in parts for v in s.faults),
        )
        for name, parts in pooled.items()
    }
    return merged, about


def run_ops(
    config: BenchConfig, progress: Progress, installed: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """Both sections' results (only those in ``config.sections`` are kept by the runner)."""
    with_peers = "peers" in config.sections
    notes: dict[str, list[str]] = {"surrogates": [], "peers": []}
    if with_peers:
        for library, version in installed.items():
            if version is None:
                notes["peers"].append(f"{library} not installed (the 'bench' extra): skipped")
    groups = [(s, n) for s in list_surrogates() for n in config.sizes]
    pairs = exp_pairs()
    progress.start("surrogates", len(groups) + len(pairs))
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
        # The paths against torch.mul in a group of their own: the peers' temporaries
        # leave the allocator in a state (trimmed heap, page faults) that would be
        # charged to whichever candidate runs next.
        samples, about = _measure(surrogate, numel, paths, False, installed, config)
        for name, info in about.items():
            alone = samples
            if len(paths) > 1:  # this path against torch.mul alone (see the module docstring)
                alone, _ = _measure(surrogate, numel, [name], False, installed, config)
            row = _row(name, info, alone, surrogate, numel)
            row["vs"] = _vs(name, samples)
            rows["surrogates"].append(row)
        if is_cuda(config.device):  # the device's allocator counts one call exactly
            runs, _ = _group(surrogate, numel, paths, False, installed, config.device)
            for row in rows["surrogates"][-len(paths) :]:
                row["peak_bytes"] = cuda_peak(runs[row["path"]], config.device)
        if with_peers and counterparts(surrogate, installed):
            samples, about = _measure(surrogate, numel, paths, True, installed, config)
            rows["peers"] += [
                _row(n, i, samples, surrogate, numel)
                for n, i in about.items()
                if i["kind"] == "peer"
            ]
    largest = max(config.sizes)
    for surrogate in pairs:
        progress.step(f"{surrogate} against {RATIONAL} at {largest:.0e} elements")
        pair = functools.partial(_pair_group, surrogate, largest, config.device)
        samples, _ = _pooled(pair, largest, config)
        for row in rows["surrogates"]:
            if (row["surrogate"], row["path"], row["numel"]) == (surrogate, PAIR_PATH, largest):
                row["vs_rational"] = {RATIONAL: median_ratio(samples[surrogate], samples[RATIONAL])}
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
