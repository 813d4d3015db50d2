"""The conformance matrix as pytest tests, parametrized over the selected pairs.

Collected automatically by ``pytest -p sc_neurocore.testing``; the selection comes
from ``--sc-surrogate``, ``--sc-path`` and ``--sc-distribution`` (see
:mod:`sc_neurocore.testing`).  Every covered pair gets the forward, gradient,
reference-path, layout and compile checks in every float dtype; pairs whose
callable exposes a ``torch.library`` operator as ``.op`` also get ``opcheck``;
every gap (an uncovered pair) gets a test that it is reported cleanly.  Every selected
neuron (``--sc-neuron``, or those of ``--sc-distribution``) runs fused against stepwise
under each selected surrogate and reset, in float64 and float32.
"""

from __future__ import annotations

import pytest
import torch

from . import checks
from .neurons import NEURON_DTYPES, NeuronCase, check_fused_equals_stepwise, select_neuron_cases
from .pairs import Pair, select_pairs

#: test function -> the spec attribute it checks (surrogates lacking it are not listed)
SPEC_ATTRIBUTES = {
    "test_spec_grad_mul_matches_grad": "grad_mul",
    "test_spec_primitive_derivative_is_grad": "primitive",
    "test_spec_c_grad_matches_grad": "c_grad",
    "test_spec_formula_matches_grad": "formula",
    "test_spec_formula_kernels_match_grad": "formula",
}
#: parameter name -> option name
SELECTORS = {"surrogates": "sc_surrogate", "paths": "sc_path", "distributions": "sc_distribution"}


def _option(config: pytest.Config, name: str, default: object) -> object:
    value = config.getoption(name, default=None)
    return default if value is None else value


def _selected(config: pytest.Config) -> list[Pair]:
    cache = getattr(config, "_sc_neurocore_pairs", None)
    if cache is None:
        filters = {key: _option(config, opt, ()) for key, opt in SELECTORS.items()}
        cache = select_pairs(**filters)  # type: ignore[arg-type]
        only_neurons = _option(config, "sc_neuron", ()) and not (
            filters["surrogates"] or filters["paths"]
        )
        cache = [] if only_neurons else cache
        config._sc_neurocore_pairs = cache  # type: ignore[attr-defined]
    return cache


def _selected_neurons(config: pytest.Config) -> list[NeuronCase]:
    """Neurons x resets x surrogates: the neurons named, else those of the selected
    distributions (all without a filter); none when only paths are selected (a fused
    neuron runs no path)."""
    cache = getattr(config, "_sc_neurocore_neurons", None)
    if cache is None:
        neurons = _option(config, "sc_neuron", ())
        if _option(config, "sc_path", ()) and not neurons:
            cache = []
        else:
            cache = select_neuron_cases(
                neurons,  # type: ignore[arg-type]
                _option(config, "sc_surrogate", ()),  # type: ignore[arg-type]
                _option(config, "sc_distribution", ()),  # type: ignore[arg-type]
            )
        config._sc_neurocore_neurons = cache  # type: ignore[attr-defined]
    return cache


def _devices(config: pytest.Config) -> list[str]:
    devices = list(_option(config, "sc_device", ()))  # type: ignore[call-overload]
    if devices:
        return devices
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    pairs = _selected(config)
    covered = [p for p in pairs if p.covered]
    surrogates = sorted({p.surrogate for p in covered})
    fixtures = metafunc.fixturenames
    if "pair" in fixtures:
        chosen = covered
        if "reference" in fixtures:
            chosen = [p for p in covered if p.path != checks.REFERENCE_PATH]
        if "operator" in fixtures:
            chosen = [p for p in covered if checks.custom_op_of(p.surrogate, p.path) is not None]
        metafunc.parametrize("pair", chosen, ids=[p.id for p in chosen])
    if "gap" in fixtures:
        gaps = [p for p in pairs if not p.covered]
        metafunc.parametrize("gap", gaps, ids=[p.id for p in gaps])
    if "surrogate" in fixtures:
        want = SPEC_ATTRIBUTES[metafunc.function.__name__]
        names = [s for s in surrogates if getattr(checks.get_spec(s), want, None) is not None]
        metafunc.parametrize("surrogate", names)
    if "dtype" in fixtures:
        dtypes = list(checks.FLOAT_DTYPES)
        metafunc.parametrize("dtype", dtypes, ids=[str(d).removeprefix("torch.") for d in dtypes])
    if "neuron_case" in fixtures:
        cases = _selected_neurons(config)
        metafunc.parametrize("neuron_case", cases, ids=[c.id for c in cases])
    if "neuron_dtype" in fixtures:
        dtypes = list(NEURON_DTYPES)
        ids = [str(d).removeprefix("torch.") for d in dtypes]
        metafunc.parametrize("neuron_dtype", dtypes, ids=ids)
    if "device" in fixtures:
        metafunc.parametrize("device", _devices(config))


def test_forward_is_exact_step(pair: Pair, dtype: torch.dtype, device: str) -> None:
    checks.check_forward(pair.surrogate, pair.path, dtype, device)


def test_gradient_matches_spec(pair: Pair, dtype: torch.dtype, device: str) -> None:
    checks.check_gradient(pair.surrogate, pair.path, dtype, device)


def test_matches_legacy_autograd(
    pair: Pair, reference: None, dtype: torch.dtype, device: str
) -> None:
    checks.check_matches_reference_path(pair.surrogate, pair.path, dtype, device)


def test_layouts(pair: Pair, device: str) -> None:
    checks.check_layouts(pair.surrogate, pair.path, device)


def test_compile_fullgraph(pair: Pair, device: str, request: pytest.FixtureRequest) -> None:
    backend = str(_option(request.config, "sc_compile_backend", "aot_eager"))
    checks.check_compile(pair.surrogate, pair.path, device, backend)


def test_opcheck(pair: Pair, operator: None, device: str) -> None:
    checks.check_opcheck(pair.surrogate, pair.path, device)


def test_spec_grad_mul_matches_grad(surrogate: str, dtype: torch.dtype, device: str) -> None:
    checks.check_grad_mul(surrogate, dtype, device)


def test_spec_primitive_derivative_is_grad(surrogate: str, dtype: torch.dtype, device: str) -> None:
    checks.check_primitive(surrogate, dtype, device)


def test_spec_formula_matches_grad(surrogate: str, dtype: torch.dtype, device: str) -> None:
    checks.check_formula(surrogate, dtype, device)


@pytest.mark.parametrize("family", ["native", "triton"])
def test_spec_formula_kernels_match_grad(surrogate: str, family: str) -> None:
    status = checks.check_formula_kernels(surrogate, family)
    if status is not None:
        pytest.skip(f"{surrogate}: no {family} kernels here ({status})")


def test_spec_c_grad_matches_grad(surrogate: str) -> None:
    status = checks.check_c_grad(surrogate)
    if status is not None:
        pytest.skip(f"{surrogate}: c_grad not compiled here ({status})")


def test_neuron_fused_equals_stepwise(
    neuron_case: NeuronCase, neuron_dtype: torch.dtype, device: str
) -> None:
    """The neuron's fused operator against its stepwise baseline: identical spikes, and the
    gradients of input, initial states and learned params within float tolerance."""
    case = neuron_case
    check_fused_equals_stepwise(case.neuron, case.surrogate, case.reset, neuron_dtype, device)


def test_gap_is_reported_cleanly(gap: Pair) -> None:
    """An uncovered pair must raise the registry's lookup error with a reason, nothing else."""
    import sc_neurocore

    assert gap.reason, f"{gap.id}: uncovered without a reason"
    with pytest.raises(sc_neurocore.SurrogateLookupError, match=gap.path):
        sc_neurocore.get_surrogate(gap.surrogate, gap.path)


@pytest.fixture
def reference() -> None:
    """Marker fixture: restrict ``pair`` to paths other than the reference path."""


@pytest.fixture
def operator() -> None:
    """Marker fixture: restrict ``pair`` to pairs backed by a torch.library operator."""
