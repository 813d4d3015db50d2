"""Dtypes, odd input layouts, bad dtypes, the meta device and autocast, on every path."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.networks import SpikingNet

from .compat_matrix import feature
from .compat_support import all_call_forms, runnable_paths
from .conftest import FLOAT_DTYPES, registered_pairs

PAIRS = registered_pairs()
PATHS = runnable_paths()
ALL_CALL_FORMS = all_call_forms()


def _spike_and_grad(f, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    spike = f(x)
    spike.backward(torch.ones_like(spike))
    assert x.grad is not None
    return spike, x.grad


@feature("dtypes")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_spike_and_grad_keep_input_dtype(pair: tuple[str, str], dtype: torch.dtype) -> None:
    surrogate, path = pair
    x = torch.linspace(-2, 2, 11, dtype=torch.float64).to(dtype)
    spike, grad = _spike_and_grad(sc_neurocore.get_surrogate(surrogate, path), x)
    assert (spike.dtype, grad.dtype) == (dtype, dtype)
    assert torch.equal(spike, (x > 0).to(dtype))
    spec = sc_neurocore.get_spec(surrogate)
    expected = spec.grad(x.double(), **spec.defaults).expand_as(x).to(dtype)
    # Computed in the input's dtype: a few rounding steps of that dtype away from exact.
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(grad, expected, rtol=8 * eps, atol=8 * eps)


@feature("devices")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_runs_on_device(pair: tuple[str, str], device: str) -> None:
    surrogate, path = pair
    f = sc_neurocore.get_surrogate(surrogate, path)
    x = torch.linspace(-2, 2, 9, device=device)
    spike, grad = _spike_and_grad(f, x)
    assert spike.device == x.device and grad.device == x.device
    spike_cpu, grad_cpu = _spike_and_grad(f, x.cpu())
    assert torch.equal(spike.cpu(), spike_cpu)
    torch.testing.assert_close(grad.cpu(), grad_cpu)


def _odd_inputs(device: str) -> dict[str, torch.Tensor]:
    base = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0)).to(device)
    return {
        "0-d": torch.tensor(0.7, device=device),
        "empty": torch.empty(0, 3, device=device),
        "transposed": base[0, 0].t(),
        "strided": base[:, :, ::2, 1:],
        "channels_last": base.contiguous(memory_format=torch.channels_last),
        "expanded": torch.randn(1, 4, device=device).expand(3, 4),
    }


@feature("inputs")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
@pytest.mark.parametrize("kind", sorted(_odd_inputs("cpu")))
def test_odd_shapes_and_layouts(pair: tuple[str, str], kind: str, device: str) -> None:
    surrogate, path = pair
    x = _odd_inputs(device)[kind]
    f = sc_neurocore.get_surrogate(surrogate, path)
    spike, grad = _spike_and_grad(f, x)
    assert spike.shape == x.shape and grad.shape == x.shape
    assert torch.equal(spike, (x > 0).to(x.dtype))
    spec = sc_neurocore.get_spec(surrogate)
    torch.testing.assert_close(grad, spec.grad(x, **spec.defaults).expand_as(x))
    if kind == "channels_last":
        assert spike.is_contiguous(memory_format=torch.channels_last)


@feature("inputs")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_input_without_grad_gives_plain_spikes(pair: tuple[str, str]) -> None:
    surrogate, path = pair
    x = torch.linspace(-1, 1, 5)
    spike = sc_neurocore.get_surrogate(surrogate, path)(x)
    assert not spike.requires_grad and spike.grad_fn is None
    with torch.no_grad():
        spike = sc_neurocore.get_surrogate(surrogate, path)(x.requires_grad_(True))
    assert not spike.requires_grad
    assert torch.equal(spike, (x > 0).float())


BAD_DTYPES = (torch.int64, torch.int32, torch.uint8, torch.bool)


@feature("bad_inputs")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=str)
def test_integer_and_bool_inputs_raise_type_error(pair: tuple[str, str], dtype) -> None:
    surrogate, path = pair
    f = sc_neurocore.get_surrogate(surrogate, path)
    with pytest.raises(TypeError, match=rf"{surrogate}.*x must be a floating-point.*{dtype}"):
        f(torch.ones(3, dtype=dtype))


@feature("bad_inputs")
@pytest.mark.parametrize("form", ALL_CALL_FORMS, ids=lambda f: f.__name__)
def test_call_forms_reject_integer_input(form) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        form(torch.arange(4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        form([0.5, -0.5])


@feature("meta")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
@pytest.mark.parametrize("dtype", (torch.bfloat16, torch.float64), ids=str)
def test_meta_tensors_propagate_shapes(pair: tuple[str, str], dtype: torch.dtype) -> None:
    surrogate, path = pair
    f = sc_neurocore.get_surrogate(surrogate, path)
    x = torch.empty(4, 3, 8, 8, device="meta", dtype=dtype, requires_grad=True)
    spike = f(x)
    assert (spike.device.type, spike.shape, spike.dtype) == ("meta", x.shape, dtype)
    spike.sum().backward()
    assert x.grad is not None
    assert (x.grad.device.type, x.grad.shape, x.grad.dtype) == ("meta", x.shape, dtype)
    with pytest.raises(TypeError, match="floating-point"):
        f(torch.empty(3, device="meta", dtype=torch.int64))


@feature("meta")
@pytest.mark.parametrize("path", PATHS)
def test_meta_model_forward(path: str) -> None:
    """A whole network built on the meta device (how large models are sized) runs."""
    with torch.device("meta"):
        net = SpikingNet(6, 8, 3, surrogate_fn=sc_neurocore.get_surrogate("atan", path))
        counts, membrane = net(torch.empty(4, 2, 6))
    assert counts.device.type == "meta" and counts.shape == membrane.shape == (2, 3)


@feature("autocast")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_cpu_autocast_bfloat16_training_step(pair: tuple[str, str]) -> None:
    surrogate, path = pair
    torch.manual_seed(0)
    net = SpikingNet(6, 16, 3, surrogate_fn=sc_neurocore.get_surrogate(surrogate, path))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    inputs = (torch.rand(5, 4, 6) < 0.5).float()
    target = torch.tensor([0, 1, 2, 1])
    before = [p.detach().clone() for p in net.parameters()]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        counts, membrane = net(inputs)
        loss = torch.nn.functional.cross_entropy(membrane.float(), target)
    assert membrane.dtype == torch.bfloat16  # the network really ran in bfloat16
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))
