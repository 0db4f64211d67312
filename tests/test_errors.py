"""The tree drawn in the errors module's docstring is the real one."""

from __future__ import annotations

import re

import pytest

from n2net_privacy import errors

_ROW = re.compile(
    r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+Error|NetworkTimeout)(?:\s+(?P<note>.*))?$"
)


def _drawn() -> list[tuple[int, str, str]]:
    rows = []
    for line in (errors.__doc__ or "").splitlines():
        match = _ROW.match(line.removeprefix("    "))
        if match:
            rows.append((len(match["indent"]), match["name"], match["note"] or ""))
    return rows


def test_every_error_is_drawn_once() -> None:
    names = [name for _, name, _ in _drawn()]
    assert sorted(names) == sorted(errors.__all__)


def test_each_drawn_parent_is_the_real_base() -> None:
    stack: list[tuple[int, str]] = []
    for depth, name, _ in _drawn():
        while stack and stack[-1][0] >= depth:
            stack.pop()
        cls = getattr(errors, name)
        if stack:
            assert issubclass(cls, getattr(errors, stack[-1][1])), name
        else:
            assert cls is errors.N2NetPrivacyError
        stack.append((depth, name))


@pytest.mark.parametrize(("name", "builtin"), [(n, b) for _, n, note in _drawn()
                                               for b in (TypeError, ValueError)
                                               if f"also a {b.__name__}" in note])
def test_the_also_notes_hold(name: str, builtin: type[Exception]) -> None:
    assert issubclass(getattr(errors, name), builtin)


def test_the_argument_errors_are_the_builtins_python_code_expects() -> None:
    assert issubclass(errors.InvalidArgumentTypeError, TypeError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.InvalidUrlError, errors.EgressPolicyError)
    assert issubclass(errors.InvalidUrlError, ValueError)
    closed = errors.ClosedError("Uploader")
    assert closed.name == "Uploader" and "Uploader is closed" in str(closed)
