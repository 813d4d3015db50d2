"""The fused LIF's pooled sequence buffers: a freed buffer is reused, a held one never is."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.core import compat
from sc_neurocore.kernels import buffers as _buffers
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.training import release_buffers

# 16 x 8 x 4096 float32 = 2 MiB: above the pooling threshold.
SHAPE = (16, 8, 4096)


@pytest.fixture(autouse=True)
def pooling():
    if compat.storage_use_count is None:
        pytest.skip("this torch has no storage use count: pooling is off")
    previous = _buffers.set_pooling(True)
    _buffers.empty_cache()
    yield
    _buffers.set_pooling(previous)
    _buffers.empty_cache()


def _inputs(seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=generator) * 0.7 + 0.3


def test_a_buffer_moved_to_shared_memory_is_never_handed_out_again() -> None:
    first = _buffers.sequence_buffer(_inputs(0))
    first.fill_(7.0)
    first.share_memory_()  # what torch.multiprocessing does to a tensor it sends
    del first  # this process lets go; another one may still read the shared pages
    again = _buffers.sequence_buffer(_inputs(0))
    # The pooled storage object stays shared once moved: a reused one would still be.
    assert not again.untyped_storage().is_shared()


def test_a_freed_buffer_is_handed_out_again() -> None:
    first = _buffers.sequence_buffer(_inputs(0))
    address = first.data_ptr()
    del first
    again = _buffers.sequence_buffer(_inputs(0))
    assert again.data_ptr() == address
    assert again.shape == SHAPE and again.is_contiguous() and again.dtype == torch.float32


def test_a_buffer_still_held_is_never_reused_even_through_a_view() -> None:
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("atan"))
    x1, x2 = _inputs(1), _inputs(2)
    spikes1 = layer(x1)[0]
    view = spikes1[3:5]
    expected = spikes1.clone()
    del spikes1
    spikes2 = layer(x2)[0]
    assert spikes2.untyped_storage().data_ptr() != view.untyped_storage().data_ptr()
    torch.testing.assert_close(view, expected[3:5], rtol=0, atol=0)
    assert not torch.equal(spikes2, expected)


def test_graphs_recorded_before_any_backward_keep_their_buffers() -> None:
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("sigmoid"), learn_beta=True)
    inputs = [_inputs(seed).requires_grad_(True) for seed in range(3)]
    weights = torch.linspace(-1, 1, _inputs(0).numel()).view(SHAPE)
    losses = [(layer(x)[0] * weights).sum() for x in inputs]  # three live graphs
    pooled = [torch.autograd.grad(loss, x)[0] for loss, x in zip(losses, inputs)]
    _buffers.set_pooling(False)
    for x, got in zip(inputs, pooled):
        (expected,) = torch.autograd.grad((layer(x)[0] * weights).sum(), x)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_more_live_buffers_than_slots_stay_distinct() -> None:
    held = [_buffers.sequence_buffer(_inputs(0)) for _ in range(_buffers.POOL_SLOTS + 3)]
    for index, buffer in enumerate(held):
        buffer.fill_(index)
    assert len({buffer.data_ptr() for buffer in held}) == len(held)
    assert [int(buffer[0, 0, 0]) for buffer in held] == list(range(len(held)))


def test_empty_cache_and_disabling_stop_reuse() -> None:
    _buffers.sequence_buffer(_inputs(0))
    release_buffers()  # the public name of _buffers.empty_cache
    kept = _buffers.sequence_buffer(_inputs(0))  # the old block may come back from malloc
    assert _buffers.pool.held() == [kept.data_ptr()]
    _buffers.set_pooling(False)
    assert not _buffers.pool
    fresh = _buffers.sequence_buffer(_inputs(0))
    assert not _buffers.pool and fresh.shape == SHAPE


def test_small_and_non_cpu_buffers_are_not_pooled() -> None:
    small = _buffers.sequence_buffer(torch.zeros(4, 4))
    meta = _buffers.sequence_buffer(torch.zeros(SHAPE, device="meta"))
    assert small.shape == (4, 4) and meta.device.type == "meta"
    assert not _buffers.pool


def _grab(barrier, like: torch.Tensor, held: list[torch.Tensor]) -> None:
    barrier.wait()
    held.append(_buffers.sequence_buffer(like))


def test_threads_sharing_the_pool_never_share_a_buffer() -> None:
    import threading

    like = torch.empty(SHAPE)
    for _ in range(300):
        _buffers.sequence_buffer(like)  # one free buffer in the pool for all threads to race on
        barrier, held = threading.Barrier(4), []
        threads = [threading.Thread(target=_grab, args=(barrier, like, held)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({buffer.data_ptr() for buffer in held}) == 4


@pytest.mark.parametrize("name", sc_neurocore.list_surrogates())
def test_compiled_element_wise_outputs_are_pooled_and_never_shared(name: str) -> None:
    """custom_op's compiled kernels take their megabyte outputs from the pool: a dropped
    output's buffer comes back, a held one is never written over."""
    from sc_neurocore.kernels.native.elementwise import native_elementwise

    kernels = native_elementwise(sc_neurocore.get_spec(name))
    if isinstance(kernels, str):
        pytest.skip(f"compiled element-wise kernels unavailable here: {kernels}")
    x1, x2 = _inputs(1).reshape(-1), _inputs(2).reshape(-1)
    first = kernels.spike(x1)
    address, expected = first.data_ptr(), first.clone()
    assert address in _buffers.pool.held()
    second = kernels.spike(x2)  # the first is still held: another buffer
    assert second.data_ptr() != address and torch.equal(first, expected)
    del first
    third = kernels.backward(x2, x1, tuple(sc_neurocore.get_spec(name).defaults.values()))
    assert third.data_ptr() == address  # the dropped output's buffer, reused
    assert torch.equal(second, (x2 > 0).float())


def test_a_buffer_first_handed_out_in_inference_mode_serves_autograd_later() -> None:
    """A reused buffer takes the inference-ness of the call it serves: the fused layer run
    under torch.inference_mode, then trained on the same shape, saves its spikes for
    backward (an inference tensor could not be saved), and the other way round."""
    layer = LIF()
    current = _inputs(0)
    for first_inference in (True, False):
        release_buffers()
        if first_inference:
            with torch.inference_mode():
                assert layer(current)[0].is_inference()
        else:
            layer(current)
        trained = current.clone().requires_grad_(True)
        spikes = layer(trained)[0]
        assert not spikes.is_inference()
        spikes.sum().backward()
        assert trained.grad is not None and trained.grad.shape == SHAPE
        with torch.inference_mode():
            assert layer(current)[0].is_inference()
