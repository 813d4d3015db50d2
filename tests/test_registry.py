"""Registry behaviour: lookup, errors, caching, the get_surrogate object, import cost."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest
import torch

import sc_neurocore
from sc_neurocore import (
    ExecutionPath,
    Implementation,
    SurrogateSpec,
    UnknownPathError,
    UnknownSurrogateError,
)

BUILTINS = ("fast_sigmoid", "superspike", "atan", "sigmoid", "straight_through", "triangular")


def test_builtins_listed_first_in_order() -> None:
    assert sc_neurocore.list_surrogates()[:6] == BUILTINS
    assert sc_neurocore.list_paths()[:2] == ("custom_op", "legacy_autograd")
    assert isinstance(sc_neurocore.list_surrogates(), tuple)


def test_builtins_come_from_entry_points_of_the_distribution() -> None:
    records = {r["name"]: r for r in sc_neurocore.plugin_report() if r["builtin"]}
    assert set(records) >= {"surrogates", "custom_op", "legacy_autograd"}
    for record in records.values():
        assert record["distribution"] == "sc-neurocore"
        assert record["status"] == "loaded"


def test_unknown_names_raise_lookup_errors_with_suggestions() -> None:
    with pytest.raises(UnknownSurrogateError) as info:
        sc_neurocore.get_surrogate("atann")
    assert isinstance(info.value, LookupError)
    assert "Did you mean 'atan'" in str(info.value)
    assert "fast_sigmoid" in str(info.value)
    with pytest.raises(UnknownPathError) as path_info:
        sc_neurocore.get_surrogate("atan", "custom-op")
    assert "custom_op" in str(path_info.value)


@pytest.mark.parametrize("name", BUILTINS)
def test_get_surrogate_object_contract(name: str) -> None:
    spec = sc_neurocore.get_spec(name)
    fn = sc_neurocore.get_surrogate(name, "legacy_autograd")
    assert fn.name == name and fn.path == "legacy_autograd"
    assert fn.params == dict(spec.params)
    assert repr(fn).startswith(f"Surrogate({name!r}, path='legacy_autograd'")
    assert fn == sc_neurocore.get_surrogate(name, "legacy_autograd")
    assert hash(fn) == hash(sc_neurocore.get_surrogate(name, "legacy_autograd"))
    restored = pickle.loads(pickle.dumps(fn))
    assert restored == fn
    x = torch.randn(10)
    assert torch.equal(restored(x), fn(x))


def test_get_surrogate_binds_params_and_default_path() -> None:
    fn = sc_neurocore.get_surrogate("atan", alpha=4)
    assert fn.path == sc_neurocore.get_default_path() == "custom_op"
    assert fn.params == {"alpha": 4.0}
    assert "alpha=4.0" in repr(fn)
    assert fn != sc_neurocore.get_surrogate("atan", alpha=3)
    x = torch.randn(32, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(x).sum(), x)
    spec = sc_neurocore.get_spec("atan")
    torch.testing.assert_close(grad, spec.grad(x.detach(), alpha=4.0))
    with pytest.raises(TypeError, match="no parameter 'slope'"):
        sc_neurocore.get_surrogate("atan", slope=1.0)


def test_repeated_get_surrogate_is_cached() -> None:
    assert sc_neurocore.get_surrogate("sigmoid", slope=2.0) is sc_neurocore.get_surrogate(
        "sigmoid", slope=2.0
    )


def test_public_types_are_exported() -> None:
    for name in ("SurrogateSpec", "ExecutionPath", "Implementation", "hookimpl", "PluginWarning"):
        assert name in sc_neurocore.__all__
    assert issubclass(sc_neurocore.PluginWarning, UserWarning)
    assert isinstance(sc_neurocore.PLUGIN_API_VERSION, int)


def test_spec_validation_rejects_bad_definitions() -> None:
    grad = sc_neurocore.get_spec("atan").grad
    with pytest.raises(ValueError, match="name"):
        SurrogateSpec("Bad Name", (), grad, "d")
    with pytest.raises(ValueError, match="'alpha'"):
        SurrogateSpec("ok", (("alpha", -1.0),), grad, "d")
    with pytest.raises(TypeError, match="callable"):
        SurrogateSpec("ok", (), "not callable", "d")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        ExecutionPath("p", "d", build=42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Implementation("atan", "Not-A-Path", grad)
    spec = SurrogateSpec("ok", {"a": 1, "b": 2.5}, grad, "d")
    assert spec.params == (("a", 1.0), ("b", 2.5))
    assert spec.bind((3,), {"b": 4}) == {"a": 3.0, "b": 4.0}


def test_import_is_cheap_and_lazy() -> None:
    code = (
        "import sys, sc_neurocore\n"
        "lazy = ('importlib_metadata', 'sc_neurocore.surrogates',"
        " 'sc_neurocore.paths.custom_op', 'sc_neurocore.paths.legacy_autograd')\n"
        "loaded = [m for m in lazy if m in sys.modules]\n"
        "print(','.join(loaded) or 'none')\n"
        "sc_neurocore.list_paths()\n"
        "print('sc_neurocore.paths.custom_op' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["none", "True"]


def test_explain_names_the_winner() -> None:
    explanation = sc_neurocore.explain("atan", "legacy_autograd")
    assert explanation.resolved
    assert "legacy_autograd" in explanation.chosen
    assert any(c.get("chosen") for c in explanation.candidates)
