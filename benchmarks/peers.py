"""The peer libraries compared against, when installed: snnTorch, SpikingJelly and Norse.

Each built-in surrogate is matched with the peers' closest function.  ``same`` says
whether the gradient formula is identical (with the parameters chosen here) or only
of the same family, so the table can say what is being compared.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

PEERS: tuple[str, ...] = ("snntorch", "spikingjelly", "norse")


def module_present(name: str) -> bool:
    """Whether ``name`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@dataclass(frozen=True)
class PeerSurrogate:
    """A peer's surrogate spike function standing in for one of ours."""

    library: str
    label: str
    factory: Callable[[], Callable[[Tensor], Tensor]]
    same: bool
    note: str = ""


def peer_version(library: str) -> str | None:
    """The installed version of a peer, or ``None`` when it is absent."""
    if importlib.util.find_spec(library) is None:
        return None
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _factory(module: str, attribute: str, kwargs: dict[str, Any]) -> Callable[[], Any]:
    """Build the peer's function on demand, so nothing is imported before it is measured."""
    return lambda: getattr(importlib.import_module(module), attribute)(**kwargs)


def _call(attribute: str, kwargs: dict[str, Any], prefix: str) -> str:
    args = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    return f"{prefix}.{attribute}({args})"


def _snn(attribute: str, same: bool, note: str = "", **kwargs: Any) -> PeerSurrogate:
    label = _call(attribute, kwargs, "snntorch.surrogate")
    return PeerSurrogate(
        "snntorch", label, _factory("snntorch.surrogate", attribute, kwargs), same, note
    )


def _sj(attribute: str, same: bool, note: str = "", **kwargs: Any) -> PeerSurrogate:
    label = _call(attribute, kwargs, "spikingjelly.surrogate")
    return PeerSurrogate(
        "spikingjelly",
        label,
        _factory("spikingjelly.activation_based.surrogate", attribute, kwargs),
        same,
        note,
    )


#: our surrogate name -> the peers' counterparts (parameters matched to our defaults)
COUNTERPARTS: dict[str, tuple[PeerSurrogate, ...]] = {
    "atan": (_snn("atan", True, alpha=2.0), _sj("ATan", True, alpha=2.0)),
    "sigmoid": (_snn("sigmoid", True, slope=5.0), _sj("Sigmoid", True, alpha=5.0)),
    "fast_sigmoid": (
        _snn("fast_sigmoid", False, "1/(1+slope|x|)^2: no slope factor", slope=25),
        _sj("SoftSign", False, "half of our g", alpha=25.0),
    ),
    "superspike": (
        _snn("fast_sigmoid", True, "snnTorch's fast_sigmoid is this formula", slope=10),
        _sj("SuperSpike", False, "alpha/(1+|x|)^2: fixed width", alpha=1.0),
    ),
    "straight_through": (
        _snn("straight_through_estimator", True),
        _sj("DeterministicPass", True),
    ),
    "triangular": (
        _snn("triangular", False, "a +-threshold step, not a triangle", threshold=1),
        _sj("PiecewiseQuadratic", True, "alpha = 1/width", alpha=1.0),
    ),
}


def counterparts(surrogate: str, installed: dict[str, str | None]) -> tuple[PeerSurrogate, ...]:
    """The installed peers' counterparts of ``surrogate`` (none for plugin surrogates)."""
    return tuple(peer for peer in COUNTERPARTS.get(surrogate, ()) if installed.get(peer.library))
