"""Every flag of every subcommand, alone and in pairs, taken from the parser itself: in a mode
it applies to, it changes what the command plans to run (or is refused loudly); in any other
mode it is a usage error naming the flag and the mode. Nothing accepted is ignored."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterator

import pytest

from sc_neurocore.cli import UsageError, plan
from sc_neurocore_cli import COMMANDS, Command, Option, build_parser, parse

PARSER = build_parser()


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    for action in PARSER._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def _options(command: Command) -> Iterator[Option]:
    """The command's options, one per action of its parser (so a new flag is covered)."""
    actions = [a for a in _subparsers()[command.name]._actions if a.dest != "help"]
    assert [a.dest for a in actions] == [o.dest for o in command.options]
    yield from command.options


def _argv(command: Command, mode: str, *options: Option, sample_mode: str | None = None) -> list:
    argv = command.base_argv(mode)
    for option in options:
        sample = option.sample_in(sample_mode or mode)
        if option.positional:
            argv = [command.name, *sample]
        else:
            argv += [option.flags[0], *sample]
    return argv


CASES = [
    (command, mode, option)
    for command in COMMANDS
    for mode in command.modes
    for option in _options(command)
]


def _id(case: tuple[Command, str, Option]) -> str:
    command, mode, option = case
    return f"{command.name}-{mode}-{option.dest}"


def test_the_parser_is_the_tables() -> None:
    assert sorted(_subparsers()) == sorted(command.name for command in COMMANDS)
    for command in COMMANDS:
        for mode in command.modes:
            assert parse(command.base_argv(mode)).mode == mode  # type: ignore[union-attr]
        for option in command.options:
            assert option.help.strip(), f"{command.name} {option.flags[0]} has no help"


def _refusal(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_a_flag_outside_its_mode_is_refused_naming_flag_and_mode(
    case: tuple[Command, str, Option], capsys: pytest.CaptureFixture[str]
) -> None:
    command, mode, option = case
    if option.applies_to(mode) or option.positional:
        return
    argv = _argv(command, mode, option, sample_mode=option.modes[0])  # type: ignore[index]
    if _mode(command, argv) != mode:  # the flag selects its own mode (--task, --report)
        assert option.applies_to(_mode(command, argv))
        return
    err = _refusal(capsys, argv)
    assert f"{option.flags[0]} does not apply to {command.modes[mode]}" in err


def _plan_or_refusal(argv: list[str]) -> object:
    try:
        return plan(parse(argv))  # type: ignore[arg-type]
    except UsageError as error:
        return error


@pytest.mark.parametrize("case", CASES, ids=[_id(case) for case in CASES])
def test_an_accepted_flag_changes_the_plan(case: tuple[Command, str, Option]) -> None:
    command, mode, option = case
    if not option.applies_to(mode):
        return
    base = command.base_argv(mode)
    argv = _argv(command, mode, option)
    if argv == base or argv[len(base) :] == base[1:]:
        return  # the option is what selects this mode (its effect: the other mode's plan)
    before, after = _plan_or_refusal(base), _plan_or_refusal(argv)
    assert not isinstance(before, UsageError), before
    assert not isinstance(after, UsageError), f"{argv}: {after}"
    assert after != before, f"{argv} plans the same run as {base}"


def _pairs() -> Iterator[tuple[Command, Option, Option]]:
    for command in COMMANDS:
        named = [option for option in command.options if not option.positional]
        for first, second in itertools.combinations(named, 2):
            yield command, first, second


PAIRS = list(_pairs())


def _tokens(option: Option, mode: str) -> list[str]:
    sample_mode = mode if option.applies_to(mode) else option.modes[0]  # type: ignore[index]
    return [option.flags[0], *option.sample_in(sample_mode)]


def _mode(command: Command, argv: list[str]) -> str:
    """The mode the parser's values select, before any check."""
    given = vars(PARSER.parse_args(argv))
    return command.mode_of({k: v for k, v in given.items() if k != "command"})


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{c.name}-{a.dest}-{b.dest}" for c, a, b in PAIRS])
def test_every_pair_of_flags_is_refused_or_both_are_used(
    pair: tuple[Command, Option, Option], capsys: pytest.CaptureFixture[str]
) -> None:
    """A pair's flags select the mode; a flag that does not apply to it is named; accepted,
    the pair plans something neither flag does without the other (or is refused loudly)."""
    command, first, second = pair
    guess = _mode(
        command,
        [
            *command.base_argv(next(iter(command.modes)))[:1],
            *_positional(command),
            *_tokens(first, "?"),
            *_tokens(second, "?"),
        ],
    )
    base = command.base_argv(guess)
    argv = [*base, *_tokens(first, guess), *_tokens(second, guess)]
    mode = _mode(command, argv)
    misplaced = [option for option in (first, second) if not option.applies_to(mode)]
    if misplaced:
        err = _refusal(capsys, argv)
        assert f"{misplaced[0].flags[0]} does not apply to {command.modes[mode]}" in err
        return
    together = _plan_or_refusal(argv)
    if isinstance(together, UsageError):
        return  # refused loudly (e.g. --compare-paths with --path), not ignored
    for alone, other in ((first, second), (second, first)):
        if " ".join(_tokens(other, mode)) in " ".join(command.base_argv(mode)):
            continue  # ``other`` is what selects this mode; without it there is no such pair
        single = [*command.base_argv(mode), *_tokens(alone, mode)]
        assert together != _plan_or_refusal(single), f"{argv}: {other.flags[0]} is ignored"


def _positional(command: Command) -> list[str]:
    """The positional arguments every command line of ``command`` needs."""
    return (
        []
        if not any(o.positional for o in command.options)
        else list(command.base_argv(next(iter(command.modes)))[1:])
    )
