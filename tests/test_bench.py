"""The checkout's benchmark suite (benchmarks/) runs end to end and reports a well-formed result
(no timing asserts)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import torch

import sc_neurocore
from benchmarks.bandwidth import fraction
from benchmarks.common import MATMULS, OURS
from benchmarks.config import SECTIONS, BenchConfig
from benchmarks.lif import lif_inputs
from benchmarks.memory import measure, saved_bytes
from benchmarks.neurons import build_layer, candidates
from benchmarks.ops import LARGE, PAIR_PATH, RATIONAL, exp_based
from benchmarks.peers import COUNTERPARTS, PEERS, peer_version
from benchmarks.progress import Progress
from benchmarks.report import render
from benchmarks.runner import run_bench
from benchmarks.targets import evaluate
from benchmarks.timing import Samples, Timing, interleaved, median_ratio
from benchmarks.workload import workload_candidates, workload_input, workload_run
from sc_neurocore.cli import main

from .conftest import registered_pairs

TINY = dataclasses.replace(
    BenchConfig.quick_preset(),
    sizes=(64, LARGE),
    surrogate_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
    lif_shape=(3, 2, 8),
    net_steps=2,
    net_batch=4,
    net_sizes=(784, 8, 10),
    registry_timing=Timing(rounds=2, warmup=1, min_sample_s=0),
    import_repeats=1,
)


@pytest.fixture(scope="module")
def results() -> dict:
    return run_bench(TINY, Progress(enabled=False))


def test_result_is_json_with_every_section(results: dict) -> None:
    assert json.loads(json.dumps(results)) == results
    assert list(results["sections"]) == list(SECTIONS)
    meta = results["meta"]
    assert meta["quick"] is True and meta["torch"] == torch.__version__
    assert set(meta["peers"]) == set(PEERS)


@pytest.mark.parametrize(("surrogate", "path"), registered_pairs())
def test_every_registered_pair_is_measured_at_every_size(
    results: dict, surrogate: str, path: str
) -> None:
    rows = [
        row
        for row in results["sections"]["surrogates"]["rows"]
        if (row["surrogate"], row["path"]) == (surrogate, path)
    ]
    assert sorted(row["numel"] for row in rows) == list(TINY.sizes)
    for row in rows:
        assert row["seconds"] > 0 and row["x_mul"] > 0
        others = {p for s, p in registered_pairs() if s == surrogate and p != path}
        assert set(row["vs"]) == others


def test_each_exp_based_surrogate_is_timed_against_the_rational_one_in_a_group_of_two(
    results: dict,
) -> None:
    rows = results["sections"]["surrogates"]["rows"]
    paired = {row["surrogate"]: row["vs_rational"] for row in rows if "vs_rational" in row}
    expected = {
        name for name in sc_neurocore.list_surrogates() if name != RATIONAL and exp_based(name)
    }
    assert "sigmoid" in expected and not {"atan", "fast_sigmoid"} & expected
    assert set(paired) == expected
    for name, ratios in paired.items():
        assert list(ratios) == [RATIONAL] and ratios[RATIONAL] > 0
        (row,) = [r for r in rows if "vs_rational" in r and r["surrogate"] == name]
        assert (row["path"], row["numel"]) == (PAIR_PATH, max(TINY.sizes))
    verdicts = {t["target"]: t["passed"] for t in results["targets"]}
    assert (
        f"custom_op sigmoid fwd+bwd / custom_op {RATIONAL} fwd+bwd, the two in one group "
        "(largest size)" in verdicts
    )


def test_the_exp_based_target_follows_its_limit() -> None:
    def verdict(ratio: float) -> bool | None:
        row = {"surrogate": "sigmoid", "path": PAIR_PATH, "numel": 10, "x_mul": 1.0, "vs": {}}
        sections = {"surrogates": {"rows": [row | {"vs_rational": {RATIONAL: ratio}}]}}
        chosen = [t for t in evaluate({"sections": sections}) if "in one group" in t["target"]]
        assert len(chosen) == 1
        return chosen[0]["passed"]

    assert (verdict(1.2), verdict(1.4)) == (True, False)


def test_peers_section_lists_installed_counterparts(results: dict) -> None:
    rows = results["sections"]["peers"]["rows"]
    installed = results["meta"]["peers"]
    expected = {
        (name, peer.library)
        for name, peers in COUNTERPARTS.items()
        if name in sc_neurocore.list_surrogates()
        for peer in peers
        if installed[peer.library]
    }
    assert {(row["surrogate"], row["library"]) for row in rows} == expected
    for row in rows:
        paths = {p for s, p in registered_pairs() if s == row["surrogate"]}
        assert paths <= set(row["vs"])
    missing = [library for library, version in installed.items() if version is None]
    notes = " ".join(results["sections"]["peers"]["notes"])
    assert all(library in notes for library in missing)


def test_lif_rows_cover_the_available_candidates(results: dict) -> None:
    section = results["sections"]["lif"]
    expected = set(candidates(results["meta"]["peers"], []))
    assert {row["candidate"] for row in section["rows"]} == expected
    shape = TINY.lif_shape
    for row in section["rows"]:
        assert row["neuron_steps_per_s"] == pytest.approx(
            shape[0] * shape[1] * shape[2] / row["seconds"]
        )
        assert row["saved_bytes"] >= 0 and row["peak_bytes"] is None


def test_network_and_registry_sections(results: dict) -> None:
    network = results["sections"]["network"]
    assert network["rows"] or network["notes"]
    for row in network["rows"]:
        assert row["samples_per_s"] == pytest.approx(TINY.net_batch / row["seconds"])
    registry = {row["name"]: row for row in results["sections"]["registry"]["rows"]}
    assert registry["cached get_surrogate('atan')"]["value"] > 0
    assert registry["import sc_neurocore after torch"]["value"] > 0
    assert results["sections"]["registry"]["plugins_imported_at_import"] == []


def test_targets_are_evaluated_and_rendered(results: dict) -> None:
    assert results["targets"]
    for target in results["targets"]:
        assert target["passed"] in (True, False, None)
        assert (target["measured"] is None) == (target["passed"] is None)
    text = render(results)
    for section in results["sections"].values():
        assert section["title"] in text
    assert "QUICK RUN" in text
    assert "| measures | target |" in render(results, markdown=True)


def test_target_verdicts_follow_the_limits() -> None:
    def run_with(x_mul: float, jelly_over_ours: float) -> dict:
        ours = {"surrogate": "atan", "path": "custom_op", "numel": 10**6, "x_mul": x_mul, "vs": {}}
        jelly = {
            "surrogate": "atan",
            "library": "spikingjelly",
            "numel": 10**6,
            "vs": {"custom_op": jelly_over_ours},
        }
        sections = {"surrogates": {"rows": [ours]}, "peers": {"rows": [jelly]}}
        return {t["target"]: t for t in evaluate({"sections": sections})}

    good, bad = run_with(3.4, 1 / 0.39), run_with(3.6, 1 / 0.41)
    mul = "custom_op atan fwd+bwd (largest size) / torch.mul"
    jelly = "custom_op atan fwd+bwd (largest size) / SpikingJelly ATan"
    assert good[mul]["passed"] is True and bad[mul]["passed"] is False
    assert good[jelly]["passed"] is True and bad[jelly]["passed"] is False
    assert good[jelly]["measured"] == pytest.approx(0.39)
    assert good["cached get_surrogate"]["passed"] is None


def test_saved_bytes_counts_one_tensor_per_step_for_the_cell_loop() -> None:
    shape = (4, 3, 16)
    x, _ = lif_inputs(shape)
    layer = build_layer({"kind": "cell", "path": sc_neurocore.get_default_path()})
    assert saved_bytes(layer, x) >= x.numel() * x.element_size()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_peak_memory_probe_sees_at_least_the_output() -> None:
    shape = (10, 16, 256)
    spec = {"kind": "cell", "path": sc_neurocore.get_default_path()}
    peak = measure({"work": "lif", "spec": spec, "shape": list(shape)}, timeout=120)["peak_bytes"]
    assert peak is not None and peak >= shape[0] * shape[1] * shape[2] * 4


def test_interleaved_samples_every_candidate_each_round() -> None:
    calls = {"a": 0, "b": 0}

    def bump(name: str):
        return lambda: calls.__setitem__(name, calls[name] + 1)

    samples = interleaved(
        {"a": bump("a"), "b": bump("b")}, Timing(rounds=3, warmup=1, min_sample_s=0)
    )
    assert [len(s.seconds) for s in samples.values()] == [3, 3]
    assert calls == {"a": 1 + 1 + 3, "b": 1 + 1 + 3}  # warm-up, calibration, rounds
    same = Samples("x", (1.0, 2.0, 4.0))
    assert median_ratio(same, same) == 1.0
    assert median_ratio(Samples("y", (2.0, 2.0, 2.0)), same) == 1.0


def test_peer_version_of_a_missing_module_is_none() -> None:
    assert peer_version("sc_neurocore_no_such_peer") is None


def test_cli_writes_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--only", "surrogates", "--json", "-", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["sections"]) == ["surrogates"]


def test_cli_rejects_an_unknown_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err


NO_CHECKOUT = r"""
import sys
from pathlib import Path
import sc_neurocore.cli.bench as bench
from sc_neurocore.cli import main
bench.checkouts = lambda: (Path(sys.argv[1]),)  # an installed package, run elsewhere
sys.exit(main(["bench", "--quick"]))
"""


def test_cli_without_a_checkout_says_where_the_benchmarks_run(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_CHECKOUT, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "python -m benchmarks.run" in done.stderr
    assert "source checkout" in done.stderr


def test_config_rejects_an_unknown_section() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        BenchConfig(sections=("nonsense",))


# --- issue 16: copy bandwidth, the open-neuromorphic workload, matmul baselines -----------


def test_bandwidth_rows_cover_every_kernel(results: dict) -> None:
    section = results["sections"]["bandwidth"]
    kernels = {row["kernel"] for row in section["rows"]}
    surrogates = sc_neurocore.list_surrogates()
    assert "torch.mul" in kernels
    assert {f"fused LIF [{s}] fwd+bwd" for s in surrogates} <= kernels
    assert "fused leaky integrator fwd+bwd" in kernels
    assert [copy["group"] for copy in section["copies"]] == ["surrogates", "fused neurons"]
    for row in section["rows"]:
        assert row["fraction_of_limit"] > 0
        assert row["bytes_per_s"] == pytest.approx(
            row["bytes_per_element"] * row["numel"] / row["seconds"]
        )
    lif = [row for row in section["rows"] if row["group"] == "fused neurons"]
    assert {row["numel"] for row in lif} == {TINY.lif_shape[0] * TINY.lif_shape[1] * 8}


def test_fraction_of_limit_is_the_median_of_per_round_ratios() -> None:
    kernel, copy = Samples("k", (2.0, 4.0, 1.0)), Samples("c", (1.0, 1.0, 1.0))
    # 16 bytes/element at the copy's 8 bytes per 1.0 s take 2.0 s: ratios 1.0, 0.5, 2.0
    assert fraction(kernel, copy, 16) == 1.0


def test_workload_rows_and_spike_check(results: dict) -> None:
    section = results["sections"]["workload"]
    by_n: dict[int, dict[str, dict]] = {}
    for row in section["rows"]:
        by_n.setdefault(row["n"], {})[row["candidate"]] = row
    assert sorted(by_n) == list(TINY.workload_sizes)
    expected = set(workload_candidates(results["meta"]["peers"], TINY.compile_peers, []))
    for rows in by_n.values():
        assert set(rows) == expected | {MATMULS}
        assert rows[MATMULS]["over_matmuls"] == 1.0
        assert rows[OURS]["over_ours"] == 1.0
    dynamics = section["dynamics"]
    assert set(dynamics) == expected
    assert dynamics[OURS]["reference"] is True
    # SpikingJelly's multi-step LIFNode and Norse's LIFBoxCell (current scaled) run our
    # equations: the same spikes. snnTorch subtracts an undecayed threshold: they differ.
    for label in ("spikingjelly.LIFNode(step_mode='m')", "norse.LIFBoxCell loop"):
        if label in dynamics:
            assert dynamics[label]["identical_spikes"], dynamics[label]
    if "snntorch.Leaky loop" in dynamics:
        assert dynamics["snntorch.Leaky loop"]["differing_fraction"] > 0


def test_workload_step_differentiates_the_linear_layer() -> None:
    x = workload_input(4, 2, 8)
    grads = workload_run({"kind": "fused", "surrogate": "atan"}, x)()
    assert [tuple(g.shape) for g in grads] == [(8, 8), (8,)]  # type: ignore[union-attr]
    assert all(torch.isfinite(g).all() for g in grads)  # type: ignore[union-attr]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_workload_peak_memory_probe_sees_at_least_the_spikes() -> None:
    shape = (20, 8, 256)
    spec = {"kind": "fused", "surrogate": "atan"}
    peak = measure({"work": "layer", "spec": spec, "shape": list(shape)}, timeout=120)["peak_bytes"]
    assert peak is not None and peak >= shape[0] * shape[1] * shape[2] * 4


def test_network_rows_are_timed_against_their_matmuls(results: dict) -> None:
    section = results["sections"]["network"]
    assert section["matmuls_seconds"] > 0
    for row in section["rows"]:
        assert row["over_matmuls"] > 0


def test_speed_target_verdicts_follow_the_limits() -> None:
    def workload(ours_matmul: float, peer_over_ours: float, ours_peak: int) -> list[dict]:
        rows = []
        for n in (128, 512):
            rows.append(
                {"n": n, "candidate": OURS, "kind": "fused", "over_matmuls": ours_matmul}
                | {"over_ours": 1.0, "peak_bytes": ours_peak}
            )
            rows.append(
                {"n": n, "candidate": "peer", "kind": "spikingjelly", "over_matmuls": 9.0}
                | {"over_ours": peer_over_ours, "peak_bytes": 100}
            )
        return rows

    def verdicts(*args: float) -> dict[str, bool | None]:
        sections = {"workload": {"rows": workload(*args)}}  # type: ignore[arg-type]
        return {t["target"]: t["passed"] for t in evaluate({"sections": sections})}

    good, bad = verdicts(1.05, 12.0, 90), verdicts(1.2, 8.0, 110)
    speed = f"workload n=128: speed-up of {OURS} over the fastest peer"
    matmul = f"workload n=512: {OURS} time / matmuls alone"
    memory = f"workload n=512: {OURS} peak memory / smallest peer's"
    assert (good[speed], good[matmul], good[memory]) == (True, True, True)
    assert (bad[speed], bad[matmul], bad[memory]) == (False, False, False)
    assert f"workload n=128: {OURS} time / matmuls alone" not in good


def test_cli_threads_option_sets_torch_threads(capsys: pytest.CaptureFixture[str]) -> None:
    before = torch.get_num_threads()
    try:
        arguments = ["bench", "--quick", "--only", "registry", "--threads", "1", "--json", "-"]
        assert main(arguments) == 0
        assert json.loads(capsys.readouterr().out)["meta"]["torch_threads"] == 1
    finally:
        torch.set_num_threads(before)
    assert main(["bench", "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_amp_section_covers_every_work_candidate_and_dtype(results: dict) -> None:
    from benchmarks.amp_memory import DTYPES, WORKS

    section = results["sections"]["amp"]
    candidates = {row["candidate"] for row in section["rows"]}
    assert "fused LIF [atan]" in candidates and len(candidates) >= 2
    cases = [(row["work"], row["candidate"], row["dtype"]) for row in section["rows"]]
    assert sorted(cases) == sorted((w, c, d) for w in WORKS for c in candidates for d in DTYPES)
    assert not [row for row in section["rows"] if "error" in row]
    saved = {(row["operator"], row["dtype"]): row for row in section["saved"]}
    for dtype, size in (("float32", 4), ("bfloat16", 2), ("float16", 2)):
        lif = saved[("sc_neurocore_neuron::lif (compiled C)", dtype)]
        # the input itself, one element per neuron-step, is what it keeps
        input_bytes = lif["saved_bytes_per_neuron_step"] - lif["beyond_input_per_neuron_step"]
        assert input_bytes == pytest.approx(size)
        torch_kernels = saved[("sc_neurocore_neuron::lif (torch kernels)", dtype)]
        # the torch kernels recompute the spikes too: nothing per step beyond the input
        extra = torch_kernels["beyond_input_per_neuron_step"] - lif["beyond_input_per_neuron_step"]
        assert extra == pytest.approx(0)


def test_amp_peak_is_measured_in_a_fresh_process() -> None:
    spec = {"kind": "fused", "surrogate": "atan"}
    request = {"work": "layer", "spec": spec, "shape": [50, 8, 512], "tensors": True}
    peaks = {
        dtype: tuple(measure(request | {"dtype": dtype}, 600).values())
        for dtype in ("float32", "bfloat16")
    }
    assert all(tensors > 0 for _, tensors in peaks.values())
    if sys.platform != "linux":
        assert all(resident is None for resident, _ in peaks.values())
        return
    assert all(isinstance(resident, int) and resident > 0 for resident, _ in peaks.values())
