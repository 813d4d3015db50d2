"""membrane_sum: the closed form of the stepped membrane sum, value and gradients."""

from __future__ import annotations

import pytest
import torch

from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.neurons.membrane import membrane_sum

from .conftest import registered_pairs


def _stepped(cell: LIFCell, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and the membrane summed over time, stepping the cell (the reference)."""
    v = None
    spikes, total = [], torch.zeros_like(current[0])
    for step in current.unbind(0):
        spike, v = cell(step, v)
        spikes.append(spike)
        total = total + v
    return torch.stack(spikes), total


CASES = {
    "fixed": dict(beta=0.9, threshold=1.0),
    "learned per neuron": dict(
        beta=torch.linspace(0.5, 0.95, 8),
        threshold=torch.full((8,), 0.8),
        learn_beta=True,
        learn_threshold=True,
    ),
    "learned scalar": dict(beta=0.7, threshold=0.6, learn_beta=True, learn_threshold=True),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("surrogate", "path"), registered_pairs()[:2])
def test_matches_the_stepped_sum_and_its_gradients(case: str, surrogate: str, path: str) -> None:
    import sc_neurocore

    fn = sc_neurocore.get_surrogate(surrogate, path)
    torch.manual_seed(0)
    current = (torch.randn(30, 4, 8) * 0.6 + 0.3).requires_grad_(True)
    cell = LIFCell(surrogate_fn=fn, **CASES[case])  # type: ignore[arg-type]
    spikes, reference = _stepped(cell, current)
    assert 0 < spikes.mean() < 1  # the reset matters in this test
    closed = membrane_sum(current, spikes, cell.beta, cell.threshold)
    torch.testing.assert_close(closed, reference, rtol=1e-5, atol=1e-5)
    weights = torch.randn_like(reference)
    inputs = [current, *cell.parameters()]
    expected = torch.autograd.grad((reference * weights).sum(), inputs)
    got = torch.autograd.grad((closed * weights).sum(), inputs)
    assert len(got) == len(CASES[case]) - 1  # the current and every learned parameter
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)


def test_a_single_step_is_the_current_minus_the_reset() -> None:
    current = torch.tensor([[2.5, 0.5]])
    spikes = torch.tensor([[1.0, 0.0]])
    assert torch.equal(membrane_sum(current, spikes, 0.9, 1.0), torch.tensor([1.5, 0.5]))


def test_shape_mismatch_names_the_argument() -> None:
    with pytest.raises(ValueError, match="spikes must have the shape of current"):
        membrane_sum(torch.zeros(3, 2), torch.zeros(3, 1), 0.9, 1.0)
