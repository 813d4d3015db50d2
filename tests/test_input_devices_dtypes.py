"""No silent wrong results: a tensor on another device, a state that is not floating or does
not broadcast is refused with an error that names the argument, what it is and what was
expected; floating dtypes combine by torch's type promotion (docs/trust.md), nothing else is
cast.  The promotion itself is tested in tests/test_mixed_precision.py."""

from __future__ import annotations

import pytest
import torch

import sc_neurocore
from sc_neurocore.neurons import cells as cell_module
from sc_neurocore.neurons.fused import LIF
from sc_neurocore.training import SpikingNet

STEP = (2, 3)


def _inputs(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.linspace(-1.0, 2.0, 4 * 6, dtype=dtype).reshape(4, *STEP)


@pytest.mark.parametrize("path", sc_neurocore.list_paths())
def test_fused_lif_refuses_v0_on_the_meta_device(path: str) -> None:
    layer = LIF(surrogate_fn=sc_neurocore.get_surrogate("atan", path))
    with pytest.raises(ValueError, match=r"LIF: v0 is on device meta, expected cpu"):
        layer(_inputs(), torch.zeros(STEP, device="meta"))


@pytest.mark.parametrize(
    ("given", "wanted"), [(torch.float32, torch.float64), (torch.float64, torch.float32)]
)
def test_fused_lif_promotes_a_v0_of_another_dtype(given: torch.dtype, wanted: torch.dtype) -> None:
    v0 = torch.full(STEP, 0.25, dtype=given)
    spikes, v = LIF()(_inputs(wanted), v0)
    assert spikes.dtype == wanted and v.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_fused_lif_refuses_an_integer_or_bool_v0(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=rf"LIF: v0 must be a floating-point tensor, .*{dtype}"):
        LIF()(_inputs(), torch.zeros(STEP, dtype=dtype))


def test_fused_lif_refuses_a_v0_that_does_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"LIF: v0 must broadcast .*, got shape \(4,\)"):
        LIF()(_inputs(), torch.zeros(4))


def test_fused_lif_with_a_matching_v0_equals_the_cell() -> None:
    v0 = torch.full(STEP, 0.25)
    spikes, v = LIF(beta=0.8)(_inputs(), v0)
    cell, state, reference = cell_module.LIFCell(beta=0.8), v0, []
    for step in _inputs().unbind(0):
        spike, state = cell(step, state)
        reference.append(spike)
    assert torch.equal(spikes, torch.stack(reference)) and torch.equal(v, state)


def test_fused_operator_refuses_a_per_neuron_beta_on_another_device() -> None:
    from sc_neurocore.neurons.fused import check_arguments  # what LIF checks before its call

    beta = torch.full(STEP, 0.5, device="meta")
    with pytest.raises(ValueError, match=r"LIF: beta is on device meta, expected cpu"):
        check_arguments(_inputs(), None, beta, 1.0)


CELLS = [
    (cell_module.LIFCell, "v"),
    (cell_module.IFCell, "v"),
    (cell_module.SynapticCell, "i"),
    (cell_module.LapicqueCell, "v"),
]


@pytest.mark.parametrize(("cell", "state"), CELLS, ids=[c.__name__ for c, _ in CELLS])
def test_cells_refuse_a_foreign_state_and_promote_a_float_one(cell: type, state: str) -> None:
    x = torch.ones(STEP)
    with pytest.raises(ValueError, match=rf"{cell.__name__}: {state} is on device meta"):
        cell()(x, **{state: torch.zeros(STEP, device="meta")})
    with pytest.raises(TypeError, match=rf"{cell.__name__}: {state} must be a floating-point"):
        cell()(x, **{state: torch.zeros(STEP, dtype=torch.int32)})
    with pytest.raises(
        ValueError, match=rf"{cell.__name__}: {state} must broadcast .*, got shape \(4,\)"
    ):
        cell()(x, **{state: torch.zeros(4)})
    with pytest.raises(TypeError, match=rf"{cell.__name__}: {state} must be a torch.Tensor"):
        cell()(x, **{state: [0.0, 0.0, 0.0]})
    spike, *states = cell()(x, **{state: torch.zeros(STEP, dtype=torch.float64)})
    assert spike.dtype == torch.float32 and states[-1].dtype == torch.float64


def test_spiking_net_refuses_input_on_another_device_and_integer_input() -> None:
    net = SpikingNet(3, 4, 2)
    with pytest.raises(ValueError, match=r"SpikingNet: x is on device meta, expected cpu"):
        net(torch.zeros(5, 2, 3, device="meta"))
    with pytest.raises(TypeError, match=r"SpikingNet: x must be a floating-point .* torch.int64"):
        net(torch.zeros(5, 2, 3, dtype=torch.long))


@pytest.mark.parametrize("path", sc_neurocore.list_paths())
def test_a_surrogate_parameter_on_the_meta_device_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match=r"parameter 'alpha' is a tensor on device meta"):
        sc_neurocore.get_surrogate("atan", path, alpha=torch.tensor(2.0, device="meta"))


def test_the_leaky_integrator_and_synaptic_lif_refuse_foreign_states() -> None:
    from sc_neurocore.neurons.integrator import LeakyIntegrator, LeakyIntegratorCell
    from sc_neurocore.neurons.synaptic import SynapticLIF

    x = _inputs()
    with pytest.raises(ValueError, match=r"LeakyIntegrator: y0 is on device meta"):
        LeakyIntegrator()(x, torch.zeros(STEP, device="meta"))
    with pytest.raises(TypeError, match=r"SynapticLIF: i0 must be a floating-point"):
        SynapticLIF()(x, torch.zeros(STEP, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"LIF: v0 is on device meta"):
        SynapticLIF()(x, None, torch.zeros(STEP, device="meta"))
    with pytest.raises(TypeError, match=r"LeakyIntegratorCell: v must be a floating-point"):
        LeakyIntegratorCell()(x[0], torch.zeros(STEP, dtype=torch.bool))


@pytest.mark.parametrize("shape", [(3, 0), (3, 0, 2), (5, 2, 0)], ids=str)
def test_an_empty_batch_runs_instead_of_crashing_the_process(shape: tuple[int, ...]) -> None:
    """Found by the property tests: the compiled loop divided by zero neurons (SIGFPE)."""
    x = torch.ones(shape, requires_grad=True)
    spikes, v = LIF()(x)
    spikes.sum().backward()
    assert spikes.shape == shape and v.shape == shape[1:] and x.grad.shape == shape


@pytest.mark.parametrize("shape", [(3, 0), (4, 2, 0)], ids=str)
def test_an_empty_batch_through_the_leaky_integrator_and_synaptic_lif(shape) -> None:
    from sc_neurocore.neurons.integrator import LeakyIntegrator
    from sc_neurocore.neurons.synaptic import SynapticLIF

    x = torch.ones(shape, requires_grad=True)
    (LeakyIntegrator()(x).sum() + SynapticLIF()(x)[0].sum()).backward()
    assert x.grad is not None and x.grad.shape == shape
