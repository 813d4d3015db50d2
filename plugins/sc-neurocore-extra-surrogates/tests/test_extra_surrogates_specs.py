"""This distribution's own checks on top of the conformance kit (which pyproject.toml loads)."""

from __future__ import annotations

import pytest
import sc_neurocore_extra_surrogates as plugin
import torch

import sc_neurocore

NAMES = [spec.name for spec in plugin.SURROGATES]


def test_every_surrogate_is_registered_from_this_distribution() -> None:
    report = {info.name: info for info in sc_neurocore.surrogate_report()}
    for name in NAMES:
        assert report[name].distribution == "sc-neurocore-extra-surrogates"
        assert report[name].reference and report[name].has_primitive
        assert {"custom_op", "legacy_autograd"} <= set(report[name].paths)


@pytest.mark.parametrize("name", NAMES)
def test_grad_integrates_to_the_rise_of_the_primitive(name: str) -> None:
    """Trapezoid integral of g over a wide window equals p(b) - p(a): grad and
    primitive describe the same function, independently of autograd."""
    spec = sc_neurocore.get_spec(name)
    x = torch.linspace(-60.0, 60.0, 1_200_001, dtype=torch.float64)
    area = torch.trapezoid(spec.grad(x), x)
    rise = spec.primitive(x[-1:]) - spec.primitive(x[:1])
    # rel 1e-3: the trapezoid rule is first-order across the boxcar's jumps
    assert float(area) == pytest.approx(float(rise), rel=1e-3, abs=1e-9)


def test_multi_gaussian_has_negative_side_lobes() -> None:
    spec = sc_neurocore.get_spec("multi_gaussian")
    g = spec.grad(torch.linspace(-4.0, 4.0, 801, dtype=torch.float64))
    assert float(g.min()) < 0 < float(g.max())


@pytest.mark.parametrize("name", NAMES)
def test_parameters_are_validated(name: str) -> None:
    param = sc_neurocore.get_spec(name).param_names[0]
    with pytest.raises(ValueError, match=param):
        sc_neurocore.get_surrogate(name, "legacy_autograd", **{param: 0.0})
