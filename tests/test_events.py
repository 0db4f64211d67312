"""Checking an opened uploader batch against wire contract v1."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from n2net_privacy.audit.events import PHONE_CATEGORY, check_events, is_e164
from n2net_privacy.audit.findings import Rule
from n2net_privacy.uploader.wire import EventBatch, WireEvent, encode_batch

AT = datetime(2024, 6, 1, tzinfo=UTC)


def _document() -> dict[str, object]:
    batch = EventBatch.of([WireEvent.sms(uuid.uuid4(), "+12015550123", AT),
                           WireEvent.call(uuid.uuid4(), "+447400123456", AT, 9)])
    document: dict[str, object] = json.loads(encode_batch(batch))
    return document


@pytest.mark.parametrize(
    ("number", "ok"),
    [("+12015550123", True), ("+447400123456", True), ("12015550123", False),
     ("+1 201 555 0123", False), ("+4407400123456", False), ("+1911", False), ("", False)],
)
def test_is_e164(number: str, ok: bool) -> None:
    assert is_e164(number) is ok


def test_a_valid_batch_has_no_problems_and_names_its_categories() -> None:
    check = check_events(json.dumps(_document()).encode())
    assert check.valid and check.problems == ()
    assert check.categories == ("SMS metadata (time)", "call metadata (time, duration)",
                                PHONE_CATEGORY)


def test_each_problem_names_its_place_and_never_the_number() -> None:
    document = _document()
    events = document["events"]
    assert isinstance(events, list)
    events[0]["number"] = "(201) 555-0123"
    events[1]["imei"] = "x"
    document["extra"] = 1
    check = check_events(json.dumps(document).encode())
    assert not check.valid
    assert {(p.rule, p.keys) for p in check.problems} == {
        (Rule.EVENTS_NON_E164, ("events", 0, "number")),
        (Rule.EVENTS_SCHEMA, ("events", 1, "imei")),
        (Rule.EVENTS_SCHEMA, ("extra",)),
    }
    assert all("555-0123" not in p.detail and "5550123" not in p.detail for p in check.problems)


@pytest.mark.parametrize("plaintext", [b"not json", b"[]", b"{}", b'{"schema": "n2net.events/2"}'])
def test_anything_else_is_a_schema_problem(plaintext: bytes) -> None:
    check = check_events(plaintext)
    assert not check.valid
    assert {p.rule for p in check.problems} == {Rule.EVENTS_SCHEMA}
