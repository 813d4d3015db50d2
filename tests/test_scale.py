"""A spec's optional Scale: which parameter sets the steepness, and the common steepness it
maps to, checked numerically for every registered surrogate that declares one."""

from __future__ import annotations

import math

import pytest
import torch

import sc_neurocore
from sc_neurocore.core.spec import STEEPNESS_HALF_WIDTH, Scale, SurrogateSpec

SCALED = [name for name in sc_neurocore.list_surrogates() if sc_neurocore.get_spec(name).scale]


def _half_width(spec: SurrogateSpec, params: dict[str, float]) -> float:
    """Where g first falls to half its value at 0 (x >= 0), found on a fine grid."""
    x = torch.linspace(0, 50, 2_000_001, dtype=torch.float64)
    g = spec.grad(x, **params)
    below = (g <= g[0] / 2).nonzero()
    return float(x[int(below[0])])


def test_the_built_ins_with_a_parameter_declare_a_scale() -> None:
    for name in ("fast_sigmoid", "superspike", "atan", "sigmoid", "triangular"):
        assert sc_neurocore.get_spec(name).scale is not None, name
    assert sc_neurocore.get_spec("straight_through").scale is None


@pytest.mark.parametrize("name", SCALED)
@pytest.mark.parametrize("steepness", [0.5, 4.0, 30.0])
def test_equal_steepness_means_equal_half_width(name: str, steepness: float) -> None:
    spec = sc_neurocore.get_spec(name)
    assert spec.scale is not None
    params = spec.bind((), {spec.scale.param: spec.scale.value(steepness)})
    expected = STEEPNESS_HALF_WIDTH / steepness
    assert math.isclose(_half_width(spec, params), expected, rel_tol=0.01, abs_tol=1e-4)
    assert math.isclose(spec.scale.steepness(params[spec.scale.param]), steepness)


def test_scale_is_validated() -> None:
    def grad(x: torch.Tensor, width: float = 1.0) -> torch.Tensor:
        return torch.ones_like(x)

    with pytest.raises(ValueError, match="'height' is not one of"):
        SurrogateSpec("boxy", (("width", 1.0),), grad, "a box", scale=Scale("height"))
    with pytest.raises(TypeError, match="Scale or None"):
        SurrogateSpec("boxy", (("width", 1.0),), grad, "a box", scale="width")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="factor"):
        Scale("width", 0.0)
    with pytest.raises(ValueError, match="steepness"):
        Scale("width").value(-1.0)
    assert SurrogateSpec("boxy", (("width", 1.0),), grad, "a box").scale is None  # optional
