"""``sc-neurocore bench --device cuda``: the device sections at the GPU preset's shapes on CPU
tensors (the same code, no GPU), the refusal without CUDA, and the GPU targets' logic (no
timing assertions)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import sc_neurocore
from benchmarks.common import OURS
from benchmarks.config import DEVICE_SECTIONS, BenchConfig
from benchmarks.neurons import SJ_TRITON
from benchmarks.progress import Progress
from benchmarks.report import render
from benchmarks.runner import check_device, run_bench
from benchmarks.targets import TARGETS, evaluate
from sc_neurocore.cli import main
from sc_neurocore.core.registry import coverage

NO_CUDA = not torch.cuda.is_available()
#: The GPU preset, measured on the CPU (its peaks would be child processes there: off).
DRY = dataclasses.replace(
    BenchConfig.gpu_quick("cuda"), device="cpu", peak_memory=False, workload_memory_sizes=()
)
GPU_TARGETS = [t for t in TARGETS if t.device == "cuda"]


@pytest.fixture(scope="module")
def dry_run() -> dict:
    """The GPU sections at tiny sizes on CPU tensors: the same code, no GPU."""
    return run_bench(DRY, Progress(enabled=False))


def test_every_registered_surrogate_and_path_is_measured_against_mul(dry_run) -> None:
    rows = dry_run["sections"]["surrogates"]["rows"]
    measured = {(r["surrogate"], r["path"]) for r in rows}
    expected = {
        (name, path)
        for name in sc_neurocore.list_surrogates()
        for path in sc_neurocore.list_paths()
        if coverage(name, path)[0]
    }
    assert measured == expected
    assert all(r["seconds"] > 0 and r["x_mul"] > 0 for r in rows)


def test_fused_lif_rows_cover_every_step_count_and_dtype(dry_run) -> None:
    rows = [r for r in dry_run["sections"]["lif"]["rows"] if r["candidate"] == OURS]
    assert {(r["steps"], r["dtype"]) for r in rows} == {
        (steps, dtype) for steps in DRY.lif_steps for dtype in DRY.lif_dtypes
    }
    _, batch, neurons = DRY.lif_shape
    for row in rows:
        assert row["neuron_steps_per_s"] == pytest.approx(
            row["steps"] * batch * neurons / row["seconds"]
        )
        assert row["peak_bytes"] is None  # CUDA memory only


def test_workload_has_the_matmul_baseline_and_ours(dry_run) -> None:
    rows = dry_run["sections"]["workload"]["rows"]
    candidates = {r["candidate"] for r in rows}
    assert {"matmuls alone", OURS} <= candidates
    ours = next(r for r in rows if r["candidate"] == OURS)
    assert ours["over_ours"] == 1.0 and ours["over_matmuls"] > 0


def test_result_is_json_and_renders_every_section_and_target(dry_run) -> None:
    text = render(json.loads(json.dumps(dry_run)))
    assert list(dry_run["sections"]) == list(DEVICE_SECTIONS)
    for section in DEVICE_SECTIONS:
        assert dry_run["sections"][section]["title"] in text
    assert all(t["target"] in text for t in dry_run["targets"])
    on_cuda = evaluate({**dry_run, "meta": {**dry_run["meta"], "device": "cuda"}})
    assert len(on_cuda) == len(GPU_TARGETS)


def _result(lif: float, steps: tuple[int, ...], workload: float, peer: float, mul: float):
    lif_rows = [
        {"candidate": OURS, "steps": t, "dtype": d, "speedup_over": {SJ_TRITON: lif}}
        for t in steps
        for d in ("float32", "float16")
    ]
    workload_rows = [
        {"candidate": OURS, "over_matmuls": workload, "over_ours": 1.0},
        {"candidate": "peer", "over_matmuls": workload * peer, "over_ours": peer},
    ]
    surrogate_rows = [{"surrogate": "atan", "path": "custom_op", "numel": 10, "x_mul": mul}]
    sections = {
        "lif": {"rows": lif_rows},
        "workload": {"rows": workload_rows},
        "surrogates": {"rows": surrogate_rows},
    }
    return {"meta": {"device": "cuda"}, "sections": sections}


def test_targets_are_met_or_missed_by_their_goals() -> None:
    good = evaluate(_result(lif=1.6, steps=(4, 32), workload=1.1, peer=1.2, mul=1.8))
    assert len(good) == len(GPU_TARGETS)
    assert all(t["passed"] is True for t in good), good
    bad = evaluate(_result(lif=0.9, steps=(4, 32), workload=1.3, peer=0.8, mul=2.5))
    assert all(t["passed"] is False for t in bad), bad
    assert all(t["passed"] is None for t in evaluate({"meta": {"device": "cuda"}}))


@pytest.mark.skipif(not NO_CUDA, reason="checks the refusal on a machine without CUDA")
def test_device_cuda_without_cuda_fails_with_a_clear_message(capsys) -> None:
    with pytest.raises(RuntimeError, match="--device cuda: CUDA is not available"):
        check_device("cuda")
    assert main(["bench", "--device", "cuda", "--quick"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_a_host_only_section_is_refused_on_the_gpu(capsys) -> None:
    assert main(["bench", "--device", "cuda", "--only", "registry"]) == 2
    assert "unknown GPU section" in capsys.readouterr().err


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_quick_gpu_run_on_cuda() -> None:
    results = run_bench(BenchConfig.gpu_quick("cuda"), Progress(enabled=False))
    rows = results["sections"]["lif"]["rows"]
    assert all(r["peak_bytes"] is not None and r["peak_bytes"] > 0 for r in rows)
