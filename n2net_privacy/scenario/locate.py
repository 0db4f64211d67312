"""Where a scenario file is wrong: the line, and what is wrong, never the value.

``json`` reports syntax errors with a line number; pydantic reports schema
errors with a *path* (``("steps", 3, "record_sms", "to")``). To turn a path
into a line, :class:`JsonPositions` makes one position-tracking pass over
the (already valid) JSON text, remembering the line of every object key
and every value. A path pydantic adds for its own bookkeeping (a union tag
such as ``"record_sms"``) is not in the document and is skipped.

Messages describe the problem from the error's type and the JSON type of
what was found ("expected an integer, got a string"); the value itself is
never quoted, because a scenario may hold names, numbers and emails. Keys
and step names are echoed only when they look like identifiers.

>>> positions = JsonPositions('{\\n  "steps": [\\n    {"step": "flush"}\\n  ]\\n}')
>>> positions.line_of(("steps", 0, "step"))
3
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from n2net_privacy.errors import ScenarioError
from n2net_privacy.redact import scrub

__all__ = [
    "JsonPath",
    "JsonPositions",
    "decode_text",
    "describe_path",
    "parse_json",
    "problem_at",
    "schema_error",
]

JsonPath = tuple[str | int, ...]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Keys and step names are echoed only when they look like identifiers.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}\Z")
_DECODER = json.JSONDecoder()
_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


class JsonPositions:
    """The line of every value, and of every object key, in a valid JSON text.

    ``line_of(path)`` answers with the line of the longest prefix of
    ``path`` that exists in the document (an object member's line is the
    line of its key). ``duplicates`` lists keys that appear twice in one
    object: ``json`` silently keeps the last, which hides a mistake.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        self._lines: dict[JsonPath, int] = {}
        self.duplicates: list[JsonPath] = []
        end = self._value(self._skip(0), ())
        if self._skip(end) != len(text):
            raise ScenarioError("trailing data after the JSON document", line=self._line(end))

    def line_of(self, path: Sequence[str | int]) -> int:
        key = tuple(path)
        while key not in self._lines:
            key = key[:-1]
        return self._lines[key]

    def __contains__(self, path: object) -> bool:
        return path in self._lines

    # -- the pass --------------------------------------------------------------

    def _line(self, index: int) -> int:
        return bisect.bisect_left(self._newlines, index) + 1

    def _skip(self, index: int) -> int:
        match = _WHITESPACE.match(self._text, index)
        return match.end() if match else index

    def _value(self, index: int, path: JsonPath) -> int:
        self._lines.setdefault(path, self._line(index))
        char = self._text[index : index + 1]
        if char == "{":
            return self._object(index + 1, path)
        if char == "[":
            return self._array(index + 1, path)
        _, end = _DECODER.raw_decode(self._text, index)
        return int(end)

    def _object(self, index: int, path: JsonPath) -> int:
        index = self._skip(index)
        if self._text[index] == "}":
            return index + 1
        while True:
            index = self._skip(index)
            key_line = self._line(index)
            key, index = _DECODER.raw_decode(self._text, index)
            member = (*path, key)
            if member in self._lines:
                self.duplicates.append(member)
            self._lines[member] = key_line
            index = self._skip(index) + 1  # the colon
            index = self._skip(self._value(self._skip(index), member))
            if self._text[index] == "}":
                return index + 1
            index += 1  # the comma

    def _array(self, index: int, path: JsonPath) -> int:
        index = self._skip(index)
        if self._text[index] == "]":
            return index + 1
        position = 0
        while True:
            index = self._skip(self._value(self._skip(index), (*path, position)))
            if self._text[index] == "]":
                return index + 1
            index += 1
            position += 1


# --- text and syntax ----------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is allowed); otherwise a :class:`ScenarioError` on the bad byte's line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError("not UTF-8 text", line=line) from None


MAX_NESTING = 64
"""Objects and arrays nested deeper than this are refused (no scenario needs 10)."""
MAX_NUMBER_DIGITS = 100
"""A number written with more digits than this is refused before it is parsed."""
_LONG_NUMBER = re.compile(f"[0-9]{{{MAX_NUMBER_DIGITS + 1},}}")
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_shape(text: str) -> None:
    """Refuse, in linear time and without recursion, what would crash a parser."""
    depth = 0
    for match in _STRUCTURE.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, match.start()) + 1
                raise ScenarioError(f"nested deeper than {MAX_NESTING} levels", line=line)
        elif bracket in "]}":
            depth -= 1
    outside = _STRUCTURE.sub(lambda m: " " * len(m.group()) if m.group()[0] == '"' else
                             m.group(), text)
    long_number = _LONG_NUMBER.search(outside)
    if long_number is not None:
        line = text.count("\n", 0, long_number.start()) + 1
        raise ScenarioError(f"a number with more than {MAX_NUMBER_DIGITS} digits", line=line)


def parse_json(text: str) -> tuple[Any, JsonPositions]:
    """The document and its positions, or a :class:`ScenarioError` naming the line."""
    _check_shape(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        what = f"invalid JSON: {exc.msg} (column {exc.colno})"
        raise ScenarioError(what, line=exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else "a value out of range"
        raise ScenarioError(f"invalid JSON: {what}", line=1) from None
    positions = JsonPositions(text)
    if positions.duplicates:
        path = positions.duplicates[0]
        raise problem_at(positions, path, "duplicate key")
    return document, positions


# --- paths and messages ---------------------------------------------------------------


def _safe_name(part: str) -> str | None:
    """``part`` if it may be echoed: identifier-like, and nothing :func:`scrub` would mask."""
    return part if _IDENTIFIER.match(part) and scrub(part) == part else None


def describe_path(path: Sequence[str | int]) -> str:
    """``("steps", 3, "to")`` as ``steps[3].to``; keys that are not identifiers as ``[...]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _safe_name(part):
            text += f".{part}" if text else part
        else:
            text += "[...]"
    return text or "the document"


def _quoted(part: str | int) -> str:
    return f'"{part}"' if isinstance(part, str) and _safe_name(part) else "a field"


def _step_context(document: Any, path: JsonPath) -> str:
    """`` (record_sms)`` when ``path`` is inside a step whose type reads safely."""
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        steps = document.get("steps") if isinstance(document, dict) else None
        if isinstance(steps, list) and path[1] < len(steps) and isinstance(steps[path[1]], dict):
            kind = steps[path[1]].get("step")
            if isinstance(kind, str) and _safe_name(kind):
                return f" ({kind})"
    return ""


def problem_at(positions: JsonPositions, path: JsonPath, what: str) -> ScenarioError:
    """A :class:`ScenarioError` saying ``path: what``, on that path's line."""
    return ScenarioError(f"{describe_path(path)}: {scrub(what)}", line=positions.line_of(path))


def _resolve(loc: Sequence[str | int], document: Any) -> tuple[JsonPath, str | int | None]:
    """The part of ``loc`` that exists in the document, and the last part if it does not."""
    real: list[str | int] = []
    node = document
    for depth, part in enumerate(loc):
        in_object = isinstance(node, dict) and isinstance(part, str) and part in node
        in_array = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_object or in_array:
            node = node[part]
            real.append(part)
        elif depth == len(loc) - 1 and isinstance(node, dict):
            return tuple(real), part
    return tuple(real), None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _at(document: Any, path: JsonPath) -> Any:
    node = document
    for part in path:
        node = node[part]
    return node


def _structural(
    kind: str, ctx: dict[str, Any], path: JsonPath, absent: str | int | None
) -> str | None:
    """Messages about fields and step types, or None for a problem with a value."""
    field = str(ctx.get("discriminator", "")).strip("'")
    if kind == "missing":
        return f"missing required field {_quoted(absent if absent is not None else '')}"
    if kind == "extra_forbidden":
        return f"unknown field {_quoted(path[-1] if path else '')}"
    if kind == "union_tag_not_found":
        return f'missing required field "{field}"'
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        named = f" '{tag}'" if _safe_name(tag) else ""
        label = "step type" if field == "step" else f'"{field}"'
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown {label}{named}; expected one of: {expected}"
    return None


def _what(error: ErrorDetails, document: Any, path: JsonPath, absent: str | int | None) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    structural = _structural(kind, ctx, path, absent)
    if structural is not None:
        return structural
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_json_type(_at(document, path))}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', '')}"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message.replace("Input should be", "must be")


def schema_error(
    exc: ValidationError, document: Any, positions: JsonPositions
) -> ScenarioError:
    """The first (topmost) schema problem as a :class:`ScenarioError` with its line."""
    errors = exc.errors(include_url=False, include_input=False)
    # A container's complaint caused by its items' ("tuple too short" after a
    # bad step was dropped) only repeats them: keep the innermost errors.
    locs = [tuple(error["loc"]) for error in errors]
    errors = [
        error for error, loc in zip(errors, locs, strict=True)
        if not any(other[: len(loc)] == loc and len(other) > len(loc) for other in locs)
    ]
    problems: list[tuple[int, str]] = []
    for error in errors:
        path, absent = _resolve(error["loc"], document)
        what = _what(error, document, path, absent)
        if error["type"] == "union_tag_invalid":
            # Point at the tag itself ("step": ...), which may sit below the "{".
            tag_key = str(dict(error.get("ctx") or {}).get("discriminator", "")).strip("'")
            problems.append((positions.line_of((*path, tag_key)), f"{describe_path(path)}: {what}"))
            continue
        where = describe_path(path) + _step_context(document, path)
        problems.append((positions.line_of(path), f"{where}: {what}"))
    line, message = min(problems, key=lambda problem: problem[0])
    more = len(problems) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return ScenarioError(message + suffix, line=line)
