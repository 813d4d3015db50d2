"""The CLI: the project's own usage and lookup errors are one line (exit 2); any other
exception is a bug and shows its traceback with a hint to report it (exit 1)."""

from __future__ import annotations

import argparse

import pytest

from sc_neurocore.cli import BUG_STATUS, UsageError, listing, main


def _failing_command(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """``sc-neurocore explain`` whose handler raises ``error`` (as a bug inside it would)."""

    def explain_command(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setitem(listing.COMMANDS, "explain", explain_command)


@pytest.mark.parametrize(
    "error",
    [TypeError("unsupported operand"), ValueError("bad shape"), LookupError("x"), KeyError("k")],
    ids=["TypeError", "ValueError", "plain-LookupError", "KeyError"],
)
def test_an_unexpected_error_shows_its_traceback_and_how_to_report_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception
) -> None:
    _failing_command(monkeypatch, error)
    assert main(["explain", "atan"]) == BUG_STATUS
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert type(error).__name__ in err
    assert "please report it" in err and "torch" in err


def test_a_usage_error_stays_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing_command(monkeypatch, UsageError("--epochs must be >= 1, got 0\nsecond line"))
    assert main(["explain", "atan"]) == 2
    err = capsys.readouterr().err
    assert err == "sc-neurocore explain: error: --epochs must be >= 1, got 0\n"


def test_an_unknown_name_stays_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "atann"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["train", "--surrogate", "atn"], "atan"),
        (["train", "--path", "custom_ob"], "custom_op"),
        (["train", "--param", "alph=3"], "alpha"),
        (["train", "--task", "randmn"], "randman"),
        (["train", "--task", "randman", "--preset", "hadr"], "hard"),
        (["train", "--task", "randman", "--surrogate", "superspik"], "superspike"),
        (["train", "--task", "randman", "--param", "bta=5"], "beta"),
        (["train", "--task", "randman", "--path", "fusd"], "fused"),
        (["sweep", "--surrogates", "atan,sigmoidd"], "sigmoid"),
        (["sweep", "--paths", "fused,legacy_autogard"], "legacy_autograd"),
        (["explain", "atn"], "atan"),
        (["bench", "--only", "registr"], "registry"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_bad_names_are_refused_with_a_suggestion_before_any_data_loads(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    suggestion: str,
) -> None:
    import sc_neurocore.tasks.catalog as catalog
    import sc_neurocore.tasks.digits as digits

    def must_not_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("data loaded before the command line was checked")

    monkeypatch.setattr(catalog, "load_task", must_not_load)
    monkeypatch.setattr(digits, "load_digits", must_not_load)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"Did you mean {suggestion!r}?" in err, err
