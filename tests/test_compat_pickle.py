"""Pickling of every call form and ``get_surrogate`` object; saving and loading networks.

``torch.save(model)`` pickles the surrogate callable each cell holds, so every way of
naming a surrogate must survive a round trip; a ``state_dict`` holds tensors only, so a
network trained on one path loads and evaluates on any other.
"""

from __future__ import annotations

import io
import itertools
import pickle

import pytest
import torch

import sc_neurocore
from sc_neurocore.networks import SpikingNet
from sc_neurocore.neurons.cells import LIFCell
from sc_neurocore.training import surrogate as call_forms

from .compat_matrix import feature
from .compat_support import all_call_forms, form_id, model_forms, runnable_paths
from .conftest import registered_pairs

PAIRS = registered_pairs()
PATHS = runnable_paths()
ALL_CALL_FORMS = all_call_forms()
MODEL_FORMS = model_forms()


def _inputs() -> torch.Tensor:
    return (torch.rand(6, 4, 5, generator=torch.Generator().manual_seed(3)) < 0.4).float()


def _same_spike_and_grad(f, g) -> None:
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    xf, xg = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    assert torch.equal(f(xf), g(xg))
    f(xf).sum().backward()
    g(xg).sum().backward()
    assert torch.equal(xf.grad, xg.grad)


@feature("pickle")
@pytest.mark.parametrize("form", ALL_CALL_FORMS, ids=form_id)
@pytest.mark.parametrize("protocol", (2, pickle.HIGHEST_PROTOCOL))
def test_call_forms_pickle_by_reference(form, protocol: int) -> None:
    restored = pickle.loads(pickle.dumps(form, protocol=protocol))
    assert restored is form


@feature("pickle")
@pytest.mark.parametrize("pair", PAIRS, ids="@".join)
def test_get_surrogate_objects_pickle(pair: tuple[str, str]) -> None:
    surrogate, path = pair
    spec = sc_neurocore.get_spec(surrogate)
    params = {name: default * 1.5 for name, default in spec.params}  # not the defaults
    original = sc_neurocore.get_surrogate(surrogate, path, **params)
    restored = pickle.loads(pickle.dumps(original))
    assert restored == original and hash(restored) == hash(original)
    assert (restored.name, restored.path, restored.params) == (surrogate, path, params)
    _same_spike_and_grad(original, restored)


@feature("pickle")
@pytest.mark.parametrize("path", PATHS)
def test_default_path_object_records_the_resolved_path(path: str) -> None:
    """``get_surrogate(name)`` pins the path it resolved, so unpickling elsewhere keeps it."""
    sc_neurocore.set_default_path(path)
    try:
        original = sc_neurocore.get_surrogate("atan")
    finally:
        sc_neurocore.set_default_path(None)
    restored = pickle.loads(pickle.dumps(original))
    assert restored.path == path == original.path


def _save_load(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    # A whole module is arbitrary Python: torch.load needs weights_only=False for it.
    return torch.load(buffer, weights_only=False)


@feature("save_load")
@pytest.mark.parametrize("form", MODEL_FORMS, ids=form_id)
def test_torch_save_whole_network(form) -> None:
    torch.manual_seed(0)
    net = SpikingNet(5, 8, 3, surrogate_fn=form)
    restored = _save_load(net)
    assert restored.surrogate_fn == form
    inputs = _inputs()
    for a, b in zip(net(inputs), restored(inputs)):
        assert torch.equal(a, b)
    net(inputs)[1].sum().backward()
    restored(inputs)[1].sum().backward()
    for p, q in zip(net.parameters(), restored.parameters()):
        assert torch.equal(p.grad, q.grad)


@feature("save_load")
@pytest.mark.parametrize("form", MODEL_FORMS, ids=form_id)
def test_torch_save_single_cell(form) -> None:
    cell = LIFCell(beta=0.8, surrogate_fn=form, learn_beta=True, learn_threshold=True)
    restored = _save_load(cell)
    current = torch.randn(4, 3, generator=torch.Generator().manual_seed(0)) * 2
    for a, b in zip(cell(current), restored(current)):
        assert torch.equal(a, b)
    assert repr(restored) == repr(cell)


def _train(net: torch.nn.Module, steps: int = 3) -> None:
    optimizer = torch.optim.SGD(net.parameters(), lr=0.2)
    target = torch.tensor([0, 1, 2, 0])
    for _ in range(steps):
        optimizer.zero_grad()
        _, membrane = net(_inputs())
        torch.nn.functional.cross_entropy(membrane, target).backward()
        optimizer.step()


@feature("save_load")
@pytest.mark.parametrize(("path", "other"), list(itertools.product(PATHS, repeat=2)), ids="->".join)
def test_state_dict_trained_on_one_path_evaluates_on_another(path: str, other: str) -> None:
    torch.manual_seed(0)
    trained = SpikingNet(5, 8, 3, surrogate_fn=sc_neurocore.get_surrogate("atan", path))
    _train(trained)
    state = trained.state_dict()
    assert all(isinstance(value, torch.Tensor) for value in state.values())
    assert not any(path in key for key in state)  # nothing path-specific is recorded
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    loaded_state = torch.load(buffer, weights_only=True)  # plain tensors: the safe loader works

    evaluator = SpikingNet(5, 8, 3, surrogate_fn=sc_neurocore.get_surrogate("atan", other))
    evaluator.load_state_dict(loaded_state)
    assert evaluator.state_dict().keys() == state.keys()
    with torch.no_grad():
        for a, b in zip(trained(_inputs()), evaluator(_inputs())):
            assert torch.equal(a, b)


@feature("save_load")
@pytest.mark.parametrize("path", PATHS)
def test_learnable_cell_parameters_round_trip(path: str) -> None:
    surrogate = sc_neurocore.get_surrogate("atan", path)
    cell = LIFCell(
        beta=0.7, threshold=0.5, surrogate_fn=surrogate, learn_beta=True, learn_threshold=True
    )
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.add_(0.1)
    other = LIFCell(surrogate_fn=call_forms.atan_surrogate, learn_beta=True, learn_threshold=True)
    other.load_state_dict(cell.state_dict())
    current = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    for a, b in zip(cell(current), other(current)):
        assert torch.equal(a, b)
