"""DistributedDataParallel: 2 processes, gloo on loopback, the same result as one process.

Each rank trains ``SpikingNet`` on its half of a batch; DDP averages the gradients, so
with a mean loss both ranks must end with the parameters a single process reaches on
the whole batch.  Each worker also reports what the registry discovered, which must
match the parent: plugins are found through entry points in every process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

import sc_neurocore
from sc_neurocore.networks import SpikingNet

from .compat_matrix import feature
from .compat_support import runnable_paths

ROOT = Path(__file__).resolve().parents[1]
WORLD_SIZE = 2
LOCAL_BATCH = 3
STEPS = 3
PATHS = runnable_paths()


def _model(path: str) -> SpikingNet:
    torch.manual_seed(0)
    surrogate = sc_neurocore.get_surrogate("atan", path)
    return SpikingNet(6, 10, 3, surrogate_fn=surrogate).double()


def _full_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    inputs = (torch.rand(4, WORLD_SIZE * LOCAL_BATCH, 6, generator=generator) < 0.5).double()
    targets = torch.randint(0, 3, (WORLD_SIZE * LOCAL_BATCH,), generator=generator)
    return inputs, targets


def _train(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(STEPS):
        optimizer.zero_grad()
        _, membrane = model(inputs)
        torch.nn.functional.cross_entropy(membrane, targets).backward()
        optimizer.step()


def _registry_view() -> dict[str, object]:
    return {
        "surrogates": sc_neurocore.list_surrogates(),
        "paths": sc_neurocore.list_paths(),
        "plugins": sorted(
            (p["name"], p["distribution"], p["status"]) for p in sc_neurocore.plugin_report()
        ),
    }


def _worker() -> None:
    """Entry point of one rank: ``python -c '...' rank port out_file path [path ...]``."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    rank, port, out_file, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE
    )
    try:
        inputs, targets = _full_batch()
        mine = slice(rank * LOCAL_BATCH, (rank + 1) * LOCAL_BATCH)
        result: dict[str, object] = {"registry": _registry_view()}
        for path in paths:  # one process group, one model per path: imports paid once
            model = DistributedDataParallel(_model(path))
            _train(model, inputs[:, mine], targets[mine])
            assert model.module.surrogate_fn.path == path
            result[path] = [p.detach() for p in model.module.parameters()]
        torch.save(result, out_file)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(paths: tuple[str, ...], out_dir: Path) -> list[dict]:
    env = dict(os.environ)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # loopback only
    port = str(_free_port())
    code = "from tests.test_compat_distributed import _worker; _worker()"
    outputs = [out_dir / f"rank{rank}.pt" for rank in range(WORLD_SIZE)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(rank), port, str(outputs[rank]), *paths],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(WORLD_SIZE)
    ]
    logs = []
    try:
        for worker in workers:
            logs.append(worker.communicate(timeout=240)[0])
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    failures = [log[-3000:] for worker, log in zip(workers, logs) if worker.returncode != 0]
    if failures:
        raise WorkerFailure("\n---\n".join(failures))
    return [torch.load(output, weights_only=False) for output in outputs]


class WorkerFailure(RuntimeError):
    """A rank exited with an error (its log is the message)."""


def _launch_twice(paths: tuple[str, ...], out_dir: Path) -> list[dict]:
    """One retry with a new port: on a busy machine the probed free port can be taken
    before rank 0 binds it.  A deterministic failure fails both attempts."""
    try:
        return _launch(paths, out_dir)
    except WorkerFailure:
        return _launch(paths, out_dir)


@feature("ddp")
def test_ddp_two_ranks_match_single_process(tmp_path: Path) -> None:
    """Every registered path, trained with DDP in the same 2-process group."""
    ranks = _launch_twice(PATHS, tmp_path)
    for rank in ranks:
        assert rank["registry"] == _registry_view(), "a worker discovered different plugins"
    for path in PATHS:
        reference = _model(path)
        _train(reference, *_full_batch())
        expected = [p.detach() for p in reference.parameters()]
        initial = [p.detach() for p in _model(path).parameters()]
        first = ranks[0][path]
        for other in ranks[1:]:
            assert all(torch.equal(a, b) for a, b in zip(first, other[path])), path
        for got, want in zip(first, expected):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=path)
        assert any(not torch.equal(a, b) for a, b in zip(first, initial))  # it did train
