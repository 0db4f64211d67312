"""Check an opened uploader batch against wire contract v1. Pure, no I/O.

The auditor opens a sealed body with the server key (test mode) and hands
the plaintext here. :func:`check_events` says what breaks the contract: a
number that is not E.164 (``events.non_e164``) and anything else the strict
v1 models refuse (``events.schema``), each at its JSON path. It also says
which data categories the batch carries, for the privacy report.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field

from n2net_privacy.audit.findings import Rule
from n2net_privacy.errors import WireFormatError
from n2net_privacy.phone import normalize
from n2net_privacy.redact import redact_phone
from n2net_privacy.uploader.wire import decode_batch

__all__ = [
    "PHONE_CATEGORY",
    "EventsCheck",
    "Problem",
    "check_events",
    "is_e164",
]

PHONE_CATEGORY = "phone number (E.164)"
_TYPE_CATEGORIES = {
    "sms": "SMS metadata (time)",
    "call": "call metadata (time, duration)",
}
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True, slots=True)
class Problem:
    """A broken rule inside the batch, before it is tied to a request.

    ``keys`` is the JSON path as keys and indexes (``("events", 0, "note")``);
    a key may itself be PII, so the auditor labels it before showing it.
    """

    rule: Rule
    keys: tuple[str | int, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class EventsCheck:
    """What :func:`check_events` found; ``document`` is the parsed JSON, if any."""

    problems: tuple[Problem, ...]
    categories: tuple[str, ...]
    valid: bool
    document: object = field(default=None, repr=False)


@functools.lru_cache(maxsize=8192)
def is_e164(number: str) -> bool:
    """True for a canonical, valid E.164 number (``+12015550123``).

    Cached: an uploader batch repeats the same few numbers, and the auditor
    must stay cheap on the upload path.
    """
    return bool(_E164.fullmatch(number)) and normalize(number).e164 == number


def _keys(dotted: str) -> tuple[str | int, ...]:
    """``events.0.note`` as ``("events", 0, "note")``."""
    return tuple(int(p) if p.isdigit() else p for p in dotted.split(".") if p)


def check_events(plaintext: bytes) -> EventsCheck:
    """Check a batch's plaintext; every problem names its place, never a value."""
    try:
        batch = decode_batch(plaintext)
    except WireFormatError as exc:
        return _check_refused(plaintext, exc)
    # The models already hold every field to its pattern; only canonical E.164
    # (a valid number, written the one way) is left to check, once per number.
    numbers = {e.number for e in batch.events}
    bad = {n for n in numbers if not is_e164(n)}
    problems = tuple(
        Problem(Rule.EVENTS_NON_E164, ("events", index, "number"),
                f"number {redact_phone(event.number)} is not E.164")
        for index, event in enumerate(batch.events)
        if event.number in bad
    )
    categories = {_TYPE_CATEGORIES[t] for t in {e.type for e in batch.events}}
    if bad:
        categories.add(Rule.EVENTS_NON_E164.category)
    if bad != numbers:
        categories.add(PHONE_CATEGORY)
    return EventsCheck(problems, tuple(sorted(categories)), not problems)


def _check_refused(plaintext: bytes, exc: WireFormatError) -> EventsCheck:
    """A batch the v1 models refuse: name each broken place, numbers first."""
    try:
        document = json.loads(plaintext)
    except ValueError:
        problem = Problem(Rule.EVENTS_SCHEMA, (), "the opened body is not JSON")
        return EventsCheck((problem,), (), valid=False)
    problems: list[Problem] = []
    categories: set[str] = set()
    flagged: set[str] = set()
    events = document.get("events") if isinstance(document, dict) else None
    for index, event in enumerate(events if isinstance(events, list) else ()):
        if not isinstance(event, dict):
            continue
        number = event.get("number")
        if isinstance(number, str) and is_e164(number):
            categories.add(PHONE_CATEGORY)
        elif isinstance(number, str):
            categories.add(Rule.EVENTS_NON_E164.category)
            flagged.add(f"events.{index}.number")
            problems.append(
                Problem(
                    Rule.EVENTS_NON_E164,
                    ("events", index, "number"),
                    f"number {redact_phone(number)} is not E.164",
                )
            )
        category = _TYPE_CATEGORIES.get(str(event.get("type")))
        if category is not None:
            categories.add(category)
    problems.extend(
        Problem(Rule.EVENTS_SCHEMA, _keys(path), "not in wire contract v1")
        for path in exc.paths
        if path not in flagged  # already reported as events.non_e164
    )
    if not exc.paths:
        problems.append(Problem(Rule.EVENTS_SCHEMA, (), "not in wire contract v1"))
    return EventsCheck(tuple(problems), tuple(sorted(categories)), False, document)
