"""``sc-neurocore bench --device cuda``: its plumbing on CPU tensors, its refusal without CUDA,
and its target logic (no timing assertions)."""

from __future__ import annotations

import json

import pytest
import torch

import sc_neurocore
from benchmarks.gpu import GPU_SECTIONS, GpuConfig, check_device, run_gpu_bench
from benchmarks.gpu_peers import OURS
from benchmarks.gpu_targets import TARGETS, evaluate_gpu, render_gpu
from sc_neurocore.cli import main
from sc_neurocore.core.registry import coverage

NO_CUDA = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def dry_run() -> dict:
    """The GPU sections at tiny sizes on CPU tensors: the same code, no GPU."""
    return run_gpu_bench(GpuConfig.quick_preset("cpu"))


def test_every_registered_surrogate_and_path_is_measured_against_mul(dry_run) -> None:
    rows = dry_run["sections"]["gpu_surrogates"]["rows"]
    measured = {(r["surrogate"], r["path"]) for r in rows}
    expected = {
        (name, path)
        for name in sc_neurocore.list_surrogates()
        for path in sc_neurocore.list_paths()
        if coverage(name, path)[0]
    }
    assert measured == expected
    assert all(r["seconds"] > 0 and r["over_mul"] > 0 for r in rows)


def test_fused_lif_rows_cover_every_step_count_and_dtype(dry_run) -> None:
    config = GpuConfig.quick_preset("cpu")
    rows = [r for r in dry_run["sections"]["gpu_lif"]["rows"] if r["candidate"] == OURS]
    assert {(r["steps"], r["dtype"]) for r in rows} == {
        (steps, dtype) for steps in config.lif_steps for dtype in config.lif_dtypes
    }
    steps = config.lif_steps[0] * config.lif_batch * config.lif_channels
    for row in rows:
        assert row["neuron_steps_per_s"] == pytest.approx(steps / row["seconds"])
        assert row["peak_bytes"] is None  # CUDA memory only


def test_workload_has_the_matmul_baseline_and_ours(dry_run) -> None:
    rows = dry_run["sections"]["gpu_workload"]["rows"]
    candidates = {r["candidate"] for r in rows}
    assert {"matmuls alone", OURS} <= candidates
    ours = next(r for r in rows if r["candidate"] == OURS)
    assert ours["over_ours"] == 1.0 and ours["over_matmuls"] > 0


def test_result_is_json_and_renders_every_section_and_target(dry_run) -> None:
    text = render_gpu(json.loads(json.dumps(dry_run)))
    for section in GPU_SECTIONS:
        assert dry_run["sections"][section]["title"] in text
    assert len(dry_run["targets"]) == len(TARGETS)
    assert all(t["target"] in text for t in dry_run["targets"])


def _result(lif: float, steps: tuple[int, ...], workload: float, peer: float, mul: float):
    lif_rows = [
        {"candidate": OURS, "steps": t, "dtype": d, "over_sj_triton": lif}
        for t in steps
        for d in ("float32", "float16")
    ]
    workload_rows = [
        {"candidate": OURS, "over_matmuls": workload, "over_ours": 1.0},
        {"candidate": "peer", "over_matmuls": workload * peer, "over_ours": peer},
    ]
    surrogate_rows = [{"surrogate": "atan", "path": "custom_op", "numel": 10, "over_mul": mul}]
    sections = {
        "gpu_lif": {"rows": lif_rows},
        "gpu_workload": {"rows": workload_rows},
        "gpu_surrogates": {"rows": surrogate_rows},
    }
    return {"sections": sections}


def test_targets_are_met_or_missed_by_their_goals() -> None:
    good = evaluate_gpu(_result(lif=1.6, steps=(4, 32), workload=1.1, peer=1.2, mul=1.8))
    assert all(t["met"] is True for t in good), good
    bad = evaluate_gpu(_result(lif=0.9, steps=(4, 32), workload=1.3, peer=0.8, mul=2.5))
    assert all(t["met"] is False for t in bad), bad
    assert all(t["met"] is None for t in evaluate_gpu({"sections": {}}))


@pytest.mark.skipif(not NO_CUDA, reason="checks the refusal on a machine without CUDA")
def test_device_cuda_without_cuda_fails_with_a_clear_message(capsys) -> None:
    with pytest.raises(RuntimeError, match="--device cuda: CUDA is not available"):
        check_device("cuda")
    assert main(["bench", "--device", "cuda", "--quick"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_unknown_gpu_section_is_refused(capsys) -> None:
    assert main(["bench", "--device", "cuda", "--only", "lif"]) == 2
    assert "unknown GPU section" in capsys.readouterr().err


@pytest.mark.skipif(NO_CUDA, reason="needs a CUDA GPU")
def test_quick_gpu_run_on_cuda() -> None:
    results = run_gpu_bench(GpuConfig.quick_preset("cuda"))
    rows = results["sections"]["gpu_lif"]["rows"]
    assert all(r["peak_bytes"] is not None and r["peak_bytes"] > 0 for r in rows)
