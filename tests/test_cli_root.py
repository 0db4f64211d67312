"""The root command: ``--version``, and one error style for every subcommand."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from n2net_privacy import __version__
from n2net_privacy.cli import build_parser, main
from n2net_privacy.cli._output import error_line
from n2net_privacy.wording import in_user_terms, plural


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"n2net-privacy {__version__}\n"


@pytest.mark.parametrize(
    ("argv", "prefix"),
    [
        (["normalize", "/nonexistent/book.csv"], "n2net-privacy normalize: error: cannot read"),
        (["audit", "/nonexistent/s.json"], "n2net-privacy audit: error: /nonexistent/s.json"),
        (["audit"], "n2net-privacy audit: error: give either SCENARIO.json or --example"),
        (["normalize", "x.csv", "--delimiter", ";;"], "n2net-privacy normalize: error: argument"),
    ],
)
def test_every_command_prefixes_its_errors_the_same_way(
    capsys: pytest.CaptureFixture[str], argv: list[str], prefix: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        code = int(stop.code or 0)
    assert code == 2
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line.startswith(prefix), last_line


def test_error_lines_are_one_line_in_user_terms() -> None:
    line = error_line("audit", "steps: Tuple should have at least 1 item after validation,\nnot 0")
    assert line == "n2net-privacy audit: error: steps: needs at least 1 item, got 0"
    assert error_line(None, "x") == "n2net-privacy: error: x"


@pytest.mark.parametrize(
    ("pydantic", "user"),
    [
        ("Tuple should have at least 1 item after validation, not 0",
         "needs at least 1 item, got 0"),
        ("List should have at most 3 items after validation, not 5",
         "needs at most 3 items, got 5"),
        ("String should have at least 1 character", "must be at least 1 character long"),
        ("Value error, bad id", "bad id"),
        ("Field required", "is required"),
        ("Extra inputs are not permitted", "is not a known field"),
        ("Input should be a valid integer, got a number with a fractional part",
         "must be a whole number"),
        ("Input should be greater than or equal to 1", "must be greater than or equal to 1"),
        ("String should match pattern '^[a-z]+$'", "is not in the expected format"),
    ],
)
def test_pydantic_wording_is_translated(pydantic: str, user: str) -> None:
    assert in_user_terms(pydantic) == user


def test_counts_are_plural_aware() -> None:
    assert plural(1, "step") == "1 step"
    assert plural(2, "step") == "2 steps"
    assert plural(0, "finding") == "0 findings"
    assert plural(1_000, "entry", "entries") == "1,000 entries"


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def test_every_argument_of_every_command_is_explained() -> None:
    for name, command in _commands().items():
        assert command.description, name
        for action in command._actions:
            assert action.help, (name, action.dest)


@pytest.mark.parametrize("command", [None, *sorted(_commands())])
def test_help_runs_and_names_the_exit_codes(command: str | None) -> None:
    argv = [sys.executable, "-m", "n2net_privacy", *([command] if command else []), "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"usage: n2net-privacy{' ' + command if command else ''}")
    assert max(len(line) for line in done.stdout.splitlines()) <= 100
    if command != "mitm-addon-path":  # it prints a path and cannot fail
        assert "exit codes" in done.stdout.lower()
