"""The pytest side of the kit: command-line options and automatic collection."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFORMANCE_MODULE = Path(__file__).resolve().with_name("conformance.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sc_neurocore", "sc-neurocore conformance kit")
    group.addoption(
        "--sc-surrogate",
        action="append",
        dest="sc_surrogate",
        metavar="NAME",
        help="check only this surrogate (repeatable); default: every registered one",
    )
    group.addoption(
        "--sc-path",
        action="append",
        dest="sc_path",
        metavar="NAME",
        help="check only this execution path (repeatable); default: every available one",
    )
    group.addoption(
        "--sc-distribution",
        action="append",
        dest="sc_distribution",
        metavar="DIST",
        help="check only pairs whose surrogate or path comes from this distribution (repeatable)",
    )
    group.addoption(
        "--sc-neuron",
        action="append",
        dest="sc_neuron",
        metavar="NAME",
        help="check only this neuron (repeatable; alone, it leaves the surrogate x path pairs "
        "out); default: every neuron of the selected distributions, none when --sc-path is given",
    )
    group.addoption(
        "--sc-device",
        action="append",
        dest="sc_device",
        metavar="DEVICE",
        help="device(s) to run on; default: cpu, plus cuda when available",
    )
    group.addoption(
        "--sc-compile-backend",
        dest="sc_compile_backend",
        default="aot_eager",
        metavar="BACKEND",
        help="torch.compile backend for the fullgraph check (default: aot_eager)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Loading the kit means "run the matrix": add its test module to what is collected,
    # unless it is already there (e.g. `sc-neurocore check` passes it explicitly).
    module = str(CONFORMANCE_MODULE)
    if not any(Path(arg.split("::")[0]).resolve() == CONFORMANCE_MODULE for arg in config.args):
        config.args.append(module)
