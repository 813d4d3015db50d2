"""The seed API: 18 call forms, SURROGATE_PATHS, defaults, parameter validation."""

from __future__ import annotations

import inspect
import math
import os
import subprocess
import sys

import pytest
import torch

import sc_neurocore
import sc_neurocore.training as training
from sc_neurocore.training import surrogate as seed
from sc_neurocore.training.surrogate import CALL_FORM_NAMES, SURROGATE_PATHS

FORMS = list(CALL_FORM_NAMES.items())
SUFFIX_PATH = {"_custom_op": "custom_op", "_legacy": "legacy_autograd"}
BAD_VALUES = [0, 0.0, -1.0, math.nan, math.inf, -math.inf, "2.0", torch.tensor([1.0, 2.0]), True]


def test_surrogate_paths_constant() -> None:
    assert SURROGATE_PATHS == ("custom_op", "legacy_autograd")
    assert training.SURROGATE_PATHS is SURROGATE_PATHS


def test_training_reexports_all_eighteen_forms() -> None:
    names = [f + s for f in CALL_FORM_NAMES for s in ("", "_custom_op", "_legacy")]
    assert len(names) == 18
    for name in names:
        assert getattr(training, name) is getattr(seed, name)
        assert name in training.__all__


@pytest.mark.parametrize(("function", "registry_name"), FORMS)
def test_forms_route_to_their_paths(function: str, registry_name: str) -> None:
    spec = sc_neurocore.get_spec(registry_name)
    x = torch.randn(64, dtype=torch.float64, requires_grad=True)
    grad_out = torch.rand_like(x)
    expected = grad_out * spec.grad(x.detach(), **spec.defaults)
    for suffix, path in [("", None), *SUFFIX_PATH.items()]:
        fn = getattr(seed, function + suffix)
        spike = fn(x)
        assert torch.equal(spike, (x > 0).to(x.dtype))
        (grad,) = torch.autograd.grad(spike, x, grad_out)
        torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-14)
        node = type(spike.grad_fn).__name__
        wanted = {None: "CustomOp", "custom_op": "CustomOp", "legacy_autograd": "Legacy"}[path]
        assert wanted in node, (function + suffix, node)


@pytest.mark.parametrize(("function", "registry_name"), FORMS)
def test_parameter_is_second_positional_and_path_keyword_only(
    function: str, registry_name: str
) -> None:
    spec = sc_neurocore.get_spec(registry_name)
    dispatcher = getattr(seed, function)
    params = list(inspect.signature(dispatcher).parameters.values())
    assert params[0].name == "x"
    assert [(p.name, p.default) for p in params[1:-1]] == list(spec.params)
    assert params[-1].name == "path" and params[-1].kind is inspect.Parameter.KEYWORD_ONLY
    x = torch.randn(8, requires_grad=True)
    if spec.params:
        (name, default), value = spec.params[0], spec.params[0][1] * 2
        a = dispatcher(x, value, path="legacy_autograd")
        b = dispatcher(x, **{name: value}, path="legacy_autograd")
        (ga,) = torch.autograd.grad(a.sum(), x)
        (gb,) = torch.autograd.grad(b.sum(), x)
        assert torch.equal(ga, gb)
        (gd,) = torch.autograd.grad(dispatcher(x, default).sum(), x)
        assert not torch.equal(ga, gd)
    with pytest.raises(TypeError):
        dispatcher(x, *([1.0] * (len(spec.params) + 1)))


@pytest.mark.parametrize(
    ("function", "registry_name"), [f for f in FORMS if f[0] != "straight_through"]
)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=repr)
def test_bad_parameters_name_surrogate_parameter_and_value(
    function: str, registry_name: str, bad: object
) -> None:
    param = sc_neurocore.get_spec(registry_name).param_names[0]
    x = torch.randn(4)
    for suffix in ("", "_custom_op", "_legacy"):
        with pytest.raises((ValueError, TypeError)) as info:
            getattr(seed, function + suffix)(x, bad)
        message = str(info.value)
        assert registry_name in message and param in message
        if not isinstance(bad, torch.Tensor):
            assert repr(bad) in message or str(bad) in message
    with pytest.raises((ValueError, TypeError)):
        sc_neurocore.get_surrogate(registry_name, **{param: bad})


def test_one_element_tensor_parameter_is_accepted() -> None:
    x = torch.randn(8, requires_grad=True)
    (a,) = torch.autograd.grad(seed.atan_surrogate(x, torch.tensor(3.0)).sum(), x)
    (b,) = torch.autograd.grad(seed.atan_surrogate(x, 3.0).sum(), x)
    assert torch.equal(a, b)


def test_unknown_path_keyword_suggests() -> None:
    with pytest.raises(LookupError, match="legacy_autograd"):
        seed.atan_surrogate(torch.randn(3), path="legacy_autogard")


def test_set_default_path_changes_dispatchers() -> None:
    x = torch.randn(4, requires_grad=True)
    try:
        sc_neurocore.set_default_path("legacy_autograd")
        assert sc_neurocore.get_default_path() == "legacy_autograd"
        assert "Legacy" in type(seed.fast_sigmoid(x).grad_fn).__name__
        assert sc_neurocore.get_surrogate("atan").path == "legacy_autograd"
    finally:
        sc_neurocore.set_default_path(None)
    assert "CustomOp" in type(seed.fast_sigmoid(x).grad_fn).__name__
    with pytest.raises(LookupError, match="did you mean|Did you mean"):
        sc_neurocore.set_default_path("custom_opp")


def test_environment_variable_selects_default_path() -> None:
    code = (
        "import torch, sc_neurocore\n"
        "from sc_neurocore.training import atan_surrogate\n"
        "y = atan_surrogate(torch.randn(3, requires_grad=True))\n"
        "print(sc_neurocore.get_default_path(), type(y.grad_fn).__name__)\n"
    )
    env = {**os.environ, "SC_NEUROCORE_SURROGATE_PATH": "legacy_autograd"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["legacy_autograd", "AtanLegacyBackward"]
