"""Every command's ``--help``: each option has help text and its default, in one style; user
mistakes on the command line are one line with a hint and exit code 2."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from relmas.cli.main import build_parser, main
from relmas.cli.parser import OneLineParser


def _commands(parser: OneLineParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in parser.subcommands.items():
        yield from _commands(sub, (*path, name))


def _parser(path: tuple[str, ...]) -> OneLineParser:
    parser = build_parser()
    assert isinstance(parser, OneLineParser)
    for name in path:
        parser = parser.subcommands[name]
    return parser


COMMANDS = list(_commands(_parser(())))


def test_the_walk_finds_every_command() -> None:
    assert {("simulate",), ("compare",), ("tune",), ("train",), ("bench", "sim")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "relmas")
def test_help__every_option_says_what_it_does_and_its_default(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    problems = []
    for action in _parser(path).options:
        if not action.option_strings or action.default is argparse.SUPPRESS:
            continue  # positionals (required), --help and --version (no value)
        name = action.option_strings[-1]
        if not action.help:
            problems.append(f"{name}: no help text")
        elif "(default:" not in action.help and "(required)" not in action.help:
            problems.append(f"{name}: no '(default: ...)' (a None default must be explained)")
        assert name in shown
    assert not problems, f"relmas {' '.join(path)}: " + "; ".join(problems)


def test_hardware_help_names_the_shorthand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "3s1e@20" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulat"], "did you mean 'simulate'?"),
        (["hw", "lyers"], "did you mean 'layers'?"),
        (["simulate", "--sheduler", "edf"], "did you mean '--scheduler'?"),
        (["compare", "--schedulers", "edf", "sjf"], "comma-separated value, e.g. --schedulers"),
        (["simulate", "--seed", "-3"], "must be >= 0"),
    ],
)
def test_command_line_mistakes__one_line_hint_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err


def test_python_dash_m_relmas_runs() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "relmas", "--version"], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.startswith("relmas "), proc.stderr
