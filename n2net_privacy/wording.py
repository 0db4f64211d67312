"""How the SDK words counts and validation problems for people.

Two pure helpers, shared by the CLI and any module that writes a message a
user reads:

- :func:`plural` says "1 step" and "2 steps", never "1 steps" or "step(s)".
- :func:`in_user_terms` rewrites pydantic's phrasing ("Tuple should have at
  least 1 item after validation, not 0") into the user's ("needs at least
  1 item, got 0"). Messages never carry input values, so nothing here can
  add PII; the rewrite only changes the words around field names.
"""

from __future__ import annotations

import re

__all__ = ["in_user_terms", "plural"]


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``"1 step"``, ``"2 steps"``; irregular plurals are passed in (``"entry", "entries"``)."""
    word = noun if count == 1 else (plural_noun or f"{noun}s")
    return f"{count:,} {word}"


def _items(match: re.Match[str], bound: str) -> str:
    limit, got = int(match["limit"]), match["got"]
    unit = match["unit"]
    if unit.startswith("character"):
        noun = plural(limit, "character")
        return f"must be {bound} {noun} long" + (f", got {got}" if got else "")
    return f"needs {bound} {plural(limit, 'item')}" + (f", got {got}" if got else "")


_SIZE = (
    r"(?:Tuple|List|Value|String|Set|Dictionary|Frozenset|Data) should have "
    r"(?P<which>at least|at most) (?P<limit>\d+) (?P<unit>items?|characters?)"
    r"(?: after validation)?(?:, not (?P<got>\d+))?"
)

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:Value error|Assertion failed), "), ""),
    (re.compile(r"\bField required\b"), "is required"),
    (re.compile(r"\bExtra inputs are not permitted\b"), "is not a known field"),
    (re.compile(r"\bString should match pattern '[^']*'"), "is not in the expected format"),
    (re.compile(r"\bInput should be a valid integer(?:, got a number with a fractional part)?"),
     "must be a whole number"),
    (re.compile(r"\bInput should be a valid (string|boolean|number|list|dictionary)\b"),
     r"must be a \1"),
    (re.compile(r"\bInput should be\b"), "must be"),
    (re.compile(r"\bInput is too (long|short)\b"), r"is too \1"),
)


def in_user_terms(message: str) -> str:
    """Rewrite pydantic's validation wording inside ``message`` into plain terms."""
    message = re.sub(
        _SIZE, lambda m: _items(m, "at least" if m["which"] == "at least" else "at most"),
        message,
    )
    for pattern, replacement in _RULES:
        message = pattern.sub(replacement, message)
    return message
