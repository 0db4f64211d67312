"""Scenario problems point at the right line and say what is wrong, never the value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n2net_privacy.errors import ScenarioError
from n2net_privacy.scenario.loader import parse_scenario
from n2net_privacy.scenario.locate import (
    JsonPath,
    JsonPositions,
    decode_text,
    describe_path,
    parse_json,
)

HEAD = """{
  "version": 1,
  "platform": {"os": "ios", "ios_version": 18},
  "address_book": {"synthetic": {"count": 10, "seed": 3}},
  "steps": [
    {"step": "request_permission"},
"""  # lines 1-6; the step under test starts on line 7
EMAIL = "ann.lee@example.com"
NUMBER = "+1 215 555 2671"


def error_for(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text)
    return info.value


# --- positions ----------------------------------------------------------------------


DOCUMENT = """{
  "a": 1,
  "b": {
    "c": [10,
          {"d": null}],
    "e": "x"
  },
  "f": []
}"""


@pytest.mark.parametrize(("path", "line"), [
    ((), 1),
    (("a",), 2),
    (("b",), 3),
    (("b", "c"), 4),
    (("b", "c", 0), 4),
    (("b", "c", 1), 5),
    (("b", "c", 1, "d"), 5),
    (("b", "e"), 6),
    (("f",), 8),
    # Paths that are not in the document fall back to their longest existing prefix.
    (("b", "missing"), 3),
    (("b", "c", 7), 4),
    (("f", 0, "x"), 8),
])
def test_line_of_each_key_and_value(path: JsonPath, line: int) -> None:
    assert JsonPositions(DOCUMENT).line_of(path) == line


def test_a_member_is_on_the_line_of_its_key_not_its_value() -> None:
    positions = JsonPositions('{"key":\n\n  [1,\n 2]}')
    assert positions.line_of(("key",)) == 1
    assert positions.line_of(("key", 1)) == 4


def test_duplicate_keys_are_noticed() -> None:
    positions = JsonPositions('{"a": {"x": 1,\n "x": 2}, "b": 3}')
    assert positions.duplicates == [("a", "x")]
    with pytest.raises(ScenarioError) as info:
        parse_json('{"a": {"x": 1,\n "x": 2}}')
    assert (info.value.line, info.value.problem) == (2, "a.x: duplicate key")


_keys = st.text(min_size=1, max_size=6)
_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(
    allow_nan=False, allow_infinity=False
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


def _members(value: Any, path: JsonPath = ()) -> list[tuple[JsonPath, Any]]:
    found: list[tuple[JsonPath, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(((*path, key), item))
            found.extend(_members(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_members(item, (*path, index)))
    return found


@settings(max_examples=150, deadline=None)
@given(document=st.dictionaries(_keys, _documents, max_size=5),
       indent=st.sampled_from([None, 0, 1, 2, 4]), ascii_only=st.booleans())
def test_every_key_is_found_on_its_own_line(
    document: dict[str, Any], indent: int | None, ascii_only: bool
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    positions = JsonPositions(text)
    lines = text.split("\n")
    for path, _ in _members(document):
        line = positions.line_of(path)
        key = json.dumps(path[-1], ensure_ascii=ascii_only)
        if indent is None:
            assert line == 1
        else:
            # json.dumps with an indent writes each member on its own line, key first.
            assert lines[line - 1].lstrip().startswith(f"{key}:"), (path, line)


# --- syntax and encoding -------------------------------------------------------------


@pytest.mark.parametrize(("text", "lines"), [
    # trailing comma: Python 3.13's json names the comma's line, 3.11 the "]" after it
    ('{\n  "version": 1,\n  "steps": [\n    {"step": "flush"},\n  ]\n}', {4, 5}),
    ('{\n  "version": 1\n  "steps": []\n}', {3}),  # missing comma
    ('{\n  "title": "unterminated\n}', {2}),
    ("", {1}),
    ('{"version": 1}\n{"version": 1}', {2}),  # extra data
])
def test_invalid_json_names_its_line(text: str, lines: set[int]) -> None:
    error = error_for(text)
    assert error.line in lines
    assert error.problem.startswith("invalid JSON: ")  # the rest is the json module's wording


def test_text_that_is_not_utf8_names_its_line() -> None:
    with pytest.raises(ScenarioError) as info:
        decode_text(b'{\n  "title": "caf\xe9"\n}')
    assert (info.value.line, info.value.problem) == (2, "not UTF-8 text")
    assert decode_text(b"\xef\xbb\xbf{}") == "{}"  # a BOM is fine


# --- schema errors: the line and the words -------------------------------------------


SCHEMA_CASES: list[tuple[str, str, int, str]] = [
    (
        "unknown step",
        '    {"step": "reocrd_sms", "to": "+12015550123"}\n',
        7,
        "steps[1]: unknown step type 'reocrd_sms'; expected one of: request_permission,",
    ),
    (
        "missing field",
        '    {\n      "step": "record_call",\n      "to": "+12015550123"\n    }\n',
        7,
        'steps[1] (record_call): missing required field "duration_s"',
    ),
    (
        "wrong type",
        '    {\n      "step": "record_call",\n      "to": "+12015550123",\n'
        f'      "duration_s": "{EMAIL}"\n    }}\n',
        10,
        "steps[1].duration_s (record_call): expected an integer, got a string",
    ),
    (
        "unknown field",
        '    {"step": "flush",\n     "timeout": 3}\n',
        8,
        'steps[1].timeout (flush): unknown field "timeout"',
    ),
    (
        "out of range",
        '    {"step": "flush", "timeout_s": 600}\n',
        7,
        "steps[1].timeout_s (flush): must be less than or equal to 60",
    ),
    (
        "bad enum",
        '    {"step": "leak", "kind": "email",\n      "place": "smoke signal"}\n',
        8,
        "steps[1].place (leak): must be one of 'path', 'query',",
    ),
    (
        "step tag below the brace",
        '    {\n      "down": true,\n      "step": "outage"\n    }\n',
        9,
        "steps[1]: unknown step type 'outage'",
    ),
]


@pytest.mark.parametrize(("step", "line", "message"),
                         [(step, line, msg) for _, step, line, msg in SCHEMA_CASES],
                         ids=[name for name, _, _, _ in SCHEMA_CASES])
def test_schema_errors_name_the_line_and_the_problem(step: str, line: int, message: str) -> None:
    error = error_for(HEAD + step + "  ]\n}\n")
    assert error.line == line
    assert error.problem.startswith(message), error.problem
    assert EMAIL not in str(error)


def test_the_topmost_problem_is_reported_with_a_count_of_the_rest() -> None:
    text = """{
  "version": 1,
  "platform": {"os": "android", "api_level": "34"},
  "address_book": {"synthetic": {"count": 0}},
  "steps": [{"step": "flush", "timeout_s": -1}]
}"""
    error = error_for(text)
    assert error.line == 3
    assert error.problem == (
        "platform.api_level: expected an integer, got a string (and 2 more problems)"
    )


def test_top_level_shape_problems() -> None:
    assert (error_for("[1, 2]").line, error_for("[1, 2]").problem) == (
        1, "the document: expected an object, got an array"
    )
    error = error_for('{\n  "version": 1,\n  "steps": [{"step": "flush"}]\n}')
    assert error.line == 1
    assert error.problem.startswith('the document: missing required field "platform"')


@pytest.mark.parametrize("value", [EMAIL, NUMBER, "Zoë Ødegård"])
def test_pii_in_a_wrong_place_is_never_echoed(value: str) -> None:
    where = [
        f'    {{"step": "{value}"}}\n',  # as a step type
        f'    {{"step": "flush", "{value}": 1}}\n',  # as a key
        f'    {{"step": "server_outage", "down": "{value}"}}\n',  # as a value
        f'    {{"step": "search", "by": "{value}", "query": "x"}}\n',
    ]
    for step in where:
        error = error_for(HEAD + step + "  ]\n}\n")
        assert error.line == 7
        assert value not in str(error), str(error)
        assert "555" not in str(error) and "ann.lee" not in str(error)


def test_keys_that_are_not_identifiers_are_not_echoed_in_paths() -> None:
    assert describe_path(("steps", 2, "to", "contact")) == "steps[2].to.contact"
    assert describe_path(("address_book", "ann@example.com")) == "address_book[...]"
    assert describe_path(("x", "a12345678")) == "x[...]"  # digits scrub() would mask
    assert describe_path(()) == "the document"


# --- reference errors ---------------------------------------------------------------


REFERENCE_CASES: list[tuple[str, str, int, str]] = [
    (
        "unknown contact",
        '    {"step": "record_sms",\n     "to": {"contact": "nobody"}}\n',
        8,
        "steps[1].to.contact: no contact with this id in the address book",
    ),
    (
        "phone index",
        '    {"step": "record_sms", "to": {"contact": "syn-0006", "phone": 5}}\n',
        7,
        "steps[1].to.phone: phone index 5 is out of range",
    ),
    (
        "limited ids",
        '    {"step": "settings_set_limited", "ids": ["syn-0001",\n      "ghost"]}\n',
        8,
        "steps[1].ids[1]: no contact with this id",
    ),
]


@pytest.mark.parametrize(("step", "line", "message"),
                         [(step, line, msg) for _, step, line, msg in REFERENCE_CASES],
                         ids=[name for name, _, _, _ in REFERENCE_CASES])
def test_references_to_the_book_are_checked(step: str, line: int, message: str) -> None:
    error = error_for(HEAD + step + "  ]\n}\n")
    assert error.line == line
    assert error.problem.startswith(message), error.problem
    assert "nobody" not in error.problem and "ghost" not in error.problem


def test_ios_only_steps_and_answers_are_refused_on_android() -> None:
    text = """{
  "version": 1,
  "platform": {"os": "android", "api_level": 34},
  "address_book": {"synthetic": {"count": 3}},
  "answers": ["grant",
    {"select": ["syn-0001"]}],
  "steps": [{"step": "mdm_restrict"}]
}"""
    error = error_for(text)
    assert error.line == 6
    assert "needs iOS 18+" in error.problem
    error = error_for(text.replace(',\n    {"select": ["syn-0001"]}', ""))
    assert (error.line, error.problem) == (6, 'steps[0].step: "mdm_restrict" exists on iOS only')


def test_limited_access_before_ios_18_is_refused() -> None:
    text = HEAD.replace('"ios_version": 18', '"ios_version": 17') + (
        '    {"step": "settings_set_limited", "ids": ["syn-0001"]}\n  ]\n}\n'
    )
    error = error_for(text)
    assert (error.line, error.problem) == (7, "steps[1].step: limited access needs iOS 18+")
