"""Wire contract v1: exact plaintext bytes, strict decoding, headers, reply, schema."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from n2net_privacy.errors import WireFormatError
from n2net_privacy.uploader.wire import (
    CONTENT_TYPE,
    EVENTS_PATH,
    SCHEMA,
    EventBatch,
    IngestReply,
    WireEvent,
    decode_batch,
    encode_batch,
    json_schema,
    parse_reply,
    request_headers,
)

NUMBER = "+12025550143"  # fictional 555 number
SMS_ID = "0b7f8c9e-2d4a-4c1b-9e3f-5a6b7c8d9e0f"
CALL_ID = "1c8a9d0f-3e5b-4d2c-8f4a-6b7c8d9e0f1a"
AT = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)

GOLDEN = (
    b'{"schema":"n2net.events/1","events":['
    b'{"id":"0b7f8c9e-2d4a-4c1b-9e3f-5a6b7c8d9e0f","type":"sms",'
    b'"number":"+12025550143","at":"2026-11-29T03:04:05Z"},'
    b'{"id":"1c8a9d0f-3e5b-4d2c-8f4a-6b7c8d9e0f1a","type":"call",'
    b'"number":"+12025550143","at":"2026-11-29T03:04:05Z","duration_s":42}]}'
)


def golden_batch() -> EventBatch:
    return EventBatch.of(
        [WireEvent.sms(SMS_ID, NUMBER, AT), WireEvent.call(CALL_ID, NUMBER, AT, 42)]
    )


def event_dict(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": SMS_ID, "type": "sms", "number": NUMBER, "at": "2026-11-29T03:04:05Z"
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not _DROP}


_DROP = object()


def plaintext(*events: dict[str, Any], **top: Any) -> bytes:
    body: dict[str, Any] = {"schema": SCHEMA, "events": list(events)}
    body.update(top)
    return json.dumps({k: v for k, v in body.items() if v is not _DROP}).encode()


# -- encoding -----------------------------------------------------------------


def test_encode_is_exactly_the_v1_bytes() -> None:
    assert encode_batch(golden_batch()) == GOLDEN


def test_encode_has_exactly_the_v1_keys_and_sms_has_no_duration() -> None:
    decoded = json.loads(encode_batch(golden_batch()))
    assert list(decoded) == ["schema", "events"]
    sms, call = decoded["events"]
    assert set(sms) == {"id", "type", "number", "at"}
    assert set(call) == {"id", "type", "number", "at", "duration_s"}


def test_decode_of_encode_is_identity() -> None:
    assert decode_batch(GOLDEN) == golden_batch()


def test_constructors_make_any_aware_time_utc_whole_seconds() -> None:
    local = datetime(2026, 11, 29, 5, 4, 5, 987_654, tzinfo=timezone(timedelta(hours=2)))
    event = WireEvent.sms(uuid.UUID(SMS_ID), NUMBER, local)
    assert event.at == AT
    assert event.id == SMS_ID
    assert b'"at":"2026-11-29T03:04:05Z"' in encode_batch(EventBatch.of([event]))


def test_constructor_refuses_a_naive_time() -> None:
    with pytest.raises(WireFormatError, match="at"):
        WireEvent.sms(SMS_ID, NUMBER, datetime(2026, 11, 29, 3, 4, 5))


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: WireEvent.sms(SMS_ID, "2025550143", AT), "number"),
        (lambda: WireEvent.sms("not-a-uuid", NUMBER, AT), "id"),
        (lambda: WireEvent.call(CALL_ID, NUMBER, AT, -1), "duration_s"),
        (lambda: EventBatch.of([]), "events"),
    ],
)
def test_constructors_raise_wire_format_error_naming_the_path(build: Any, path: str) -> None:
    with pytest.raises(WireFormatError) as caught:
        build()
    assert path in caught.value.paths
    assert "2025550143" not in str(caught.value)


def test_models_are_frozen_and_forbid_extras() -> None:
    event = WireEvent.sms(SMS_ID, NUMBER, AT)
    with pytest.raises(ValidationError):
        event.number = "+12025550199"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        WireEvent(id=SMS_ID, type="sms", number=NUMBER, at=AT, name="Ann")  # type: ignore[call-arg]


def test_pydantic_errors_hide_the_input_value() -> None:
    with pytest.raises(ValidationError) as caught:
        WireEvent(id=SMS_ID, type="sms", number="2025550143", at=AT)
    assert "2025550143" not in str(caught.value)


def test_batch_accepts_a_list_in_python() -> None:
    batch = EventBatch(events=[WireEvent.sms(SMS_ID, NUMBER, AT)])  # type: ignore[arg-type]
    assert batch.schema_ == SCHEMA
    assert isinstance(batch.events, tuple)


# -- strict decoding ----------------------------------------------------------

REJECTED = [
    ("extra top-level field", plaintext(event_dict(), device="pixel"), "device"),
    ("extra event field", plaintext(event_dict(name="Ann Lee")), "events.0.name"),
    ("email riding along", plaintext(event_dict(email="ann@example.com")), "events.0.email"),
    ("schema missing", plaintext(event_dict(), schema=_DROP), "schema"),
    ("schema v2", plaintext(event_dict(), schema="n2net.events/2"), "schema"),
    ("events missing", plaintext(events=_DROP), "events"),
    ("no events", plaintext(), "events"),
    ("events not a list", plaintext(events={"0": event_dict()}), "events"),
    ("type mms", plaintext(event_dict(type="mms")), "events.0.type"),
    ("id missing", plaintext(event_dict(id=_DROP)), "events.0.id"),
    ("id not a uuid", plaintext(event_dict(id="42")), "events.0.id"),
    ("id upper case", plaintext(event_dict(id=SMS_ID.upper())), "events.0.id"),
    ("id as int", plaintext(event_dict(id=42)), "events.0.id"),
    ("number without +", plaintext(event_dict(number="12025550143")), "events.0.number"),
    ("number with spaces", plaintext(event_dict(number="+1 202 555 0143")), "events.0.number"),
    ("number leading 0", plaintext(event_dict(number="+02025550143")), "events.0.number"),
    ("number 16 digits", plaintext(event_dict(number="+1202555014312345")), "events.0.number"),
    ("number too short", plaintext(event_dict(number="+1")), "events.0.number"),
    ("number non-ascii", plaintext(event_dict(number="+١٢٠٢٥٥٥٠١٤٣")), "events.0.number"),
    ("number trailing newline", plaintext(event_dict(number=NUMBER + "\n")), "events.0.number"),
    ("number as int", plaintext(event_dict(number=12025550143)), "events.0.number"),
    ("at with offset", plaintext(event_dict(at="2026-11-29T03:04:05+00:00")), "events.0.at"),
    ("at fractional", plaintext(event_dict(at="2026-11-29T03:04:05.5Z")), "events.0.at"),
    ("at zero fraction", plaintext(event_dict(at="2026-11-29T03:04:05.000Z")), "events.0.at"),
    ("at naive", plaintext(event_dict(at="2026-11-29T03:04:05")), "events.0.at"),
    ("at lower-case z", plaintext(event_dict(at="2026-11-29T03:04:05z")), "events.0.at"),
    ("at space", plaintext(event_dict(at="2026-11-29 03:04:05Z")), "events.0.at"),
    ("at month 13", plaintext(event_dict(at="2026-13-29T03:04:05Z")), "events.0.at"),
    ("at leap second", plaintext(event_dict(at="2026-12-31T23:59:60Z")), "events.0.at"),
    ("at unix time", plaintext(event_dict(at=1_795_000_000)), "events.0.at"),
    ("sms with duration", plaintext(event_dict(duration_s=3)), "events.0"),
    ("sms with null duration", plaintext(event_dict(duration_s=None)), "events.0.duration_s"),
    ("call without duration", plaintext(event_dict(type="call")), "events.0"),
    ("negative duration", plaintext(event_dict(type="call", duration_s=-1)), "events.0.duration_s"),
    ("bool duration", plaintext(event_dict(type="call", duration_s=True)), "events.0.duration_s"),
    ("float duration", plaintext(event_dict(type="call", duration_s=3.0)), "events.0.duration_s"),
    ("string duration", plaintext(event_dict(type="call", duration_s="3")), "events.0.duration_s"),
    ("huge duration", plaintext(event_dict(type="call", duration_s=2**63)), "events.0.duration_s"),
    ("not json", b"{nope", "<root>"),
    ("json array", b"[]", "<root>"),
    ("empty", b"", "<root>"),
]


@pytest.mark.parametrize(
    ("body", "path"), [(body, path) for _, body, path in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_decode_rejects_everything_outside_v1(body: bytes, path: str) -> None:
    with pytest.raises(WireFormatError) as caught:
        decode_batch(body)
    assert path in caught.value.paths
    assert path in str(caught.value)
    # The message names the field, never the number.
    assert "2025550143" not in str(caught.value)
    assert "Ann" not in str(caught.value)
    assert "example.com" not in str(caught.value)


def test_a_field_named_like_a_number_is_masked_in_the_error() -> None:
    body = plaintext(event_dict(**{"+12025550199": 1}))
    with pytest.raises(WireFormatError) as caught:
        decode_batch(body)
    assert "2025550199" not in str(caught.value)
    assert "2025550199" not in "".join(caught.value.paths)


def test_decode_accepts_zero_duration_call_and_max_e164() -> None:
    body = plaintext(event_dict(type="call", duration_s=0, number="+999999999999999"))
    (event,) = decode_batch(body).events
    assert event.duration_s == 0
    assert event.number == "+999999999999999"


# hypothesis: any valid batch survives the trip; any bytes give a value or WireFormatError.

_events = st.builds(
    lambda kind, id_, digits, seconds, duration: (
        WireEvent.call(id_, digits, datetime.fromtimestamp(seconds, UTC), duration)
        if kind == "call"
        else WireEvent.sms(id_, digits, datetime.fromtimestamp(seconds, UTC))
    ),
    st.sampled_from(["sms", "call"]),
    st.uuids(),
    st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True),
    st.integers(min_value=0, max_value=4_102_444_799),
    st.integers(min_value=0, max_value=2**31 - 1),
)


@given(st.lists(_events, min_size=1, max_size=20))
def test_round_trip_of_any_valid_batch(events: list[WireEvent]) -> None:
    batch = EventBatch.of(events)
    encoded = encode_batch(batch)
    assert decode_batch(encoded) == batch
    assert encode_batch(decode_batch(encoded)) == encoded


@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_decode_of_arbitrary_bytes_only_raises_wire_format_error(data: bytes) -> None:
    with contextlib.suppress(WireFormatError):
        decode_batch(data)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
_near_valid_events = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from([SMS_ID, CALL_ID]) | _json_values,
        "type": st.sampled_from(["sms", "call"]) | _json_values,
        "number": st.sampled_from([NUMBER, "+1", "+02025550143"]) | _json_values,
        "at": st.sampled_from(["2026-11-29T03:04:05Z", "2026-11-29T03:04:05+01:00"])
        | _json_values,
        "duration_s": st.integers(min_value=-2, max_value=2**40) | _json_values,
        "name": _json_values,
    },
)


@given(st.lists(_near_valid_events, max_size=3), st.sampled_from([SCHEMA, "n2net.events/2"]))
def test_decode_accepts_only_canonical_v1(events: list[dict[str, Any]], schema: str) -> None:
    body = json.dumps({"schema": schema, "events": events}).encode()
    try:
        batch = decode_batch(body)
    except WireFormatError as exc:
        assert "2025550143" not in str(exc)
        return
    # Whatever got through is exactly representable in canonical v1.
    assert decode_batch(encode_batch(batch)) == batch
    for event in json.loads(encode_batch(batch))["events"]:
        assert re.fullmatch(r"\+[1-9][0-9]{1,14}", event["number"])
        assert ("duration_s" in event) == (event["type"] == "call")


# -- headers, reply, schema -----------------------------------------------------


def test_request_headers_are_the_four_v1_headers() -> None:
    assert request_headers("app-123", "batch-7", "k2026") == {
        "Content-Type": "application/n2net-sealed",
        "Authorization": "Bearer app-123",
        "Idempotency-Key": "batch-7",
        "N2Net-Key-Id": "k2026",
    }
    assert CONTENT_TYPE == "application/n2net-sealed"
    assert EVENTS_PATH == "/v1/events"


@pytest.mark.parametrize(
    ("status", "body", "accepted", "duplicates"),
    [
        (200, b'{"accepted": ["a"], "duplicates": ["b"]}', ["a"], ["b"]),
        (200, b'{"accepted": [], "duplicates": [], "server_time": 1}', [], []),
        (202, b"", [], []),
        (204, b"", [], []),
        (201, b'{"accepted": ["a"], "duplicates": []}', ["a"], []),
    ],
)
def test_parse_reply_reads_2xx_leniently(
    status: int, body: bytes, accepted: list[str], duplicates: list[str]
) -> None:
    assert parse_reply(status, body) == IngestReply(accepted=accepted, duplicates=duplicates)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b""),
        (200, b"<html>"),
        (200, b'{"accepted": "a", "duplicates": []}'),
        (200, b'{"accepted": []}'),
        (200, b"[]"),
        (503, b'{"accepted": [], "duplicates": []}'),
        (422, b'{"error": "invalid_batch"}'),
    ],
)
def test_parse_reply_rejects_malformed_or_non_2xx(status: int, body: bytes) -> None:
    with pytest.raises(WireFormatError):
        parse_reply(status, body)


def test_json_schema_has_exactly_the_v1_properties() -> None:
    schema = json_schema()
    assert set(schema["properties"]) == {"schema", "events"}
    assert set(schema["required"]) == {"schema", "events"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["schema"]["const"] == SCHEMA
    event = schema["$defs"]["WireEvent"]
    assert set(event["properties"]) == {"id", "type", "number", "at", "duration_s"}
    assert set(event["required"]) == {"id", "type", "number", "at"}
    assert event["additionalProperties"] is False
    assert event["properties"]["duration_s"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**31 - 1,
        "description": "Call duration in seconds; calls only, omitted for SMS.",
        "title": "Duration S",
    }
    assert event["allOf"][0]["then"] == {"required": ["duration_s"]}
    json.dumps(schema)  # serializable as is


def test_json_schema_patterns_agree_with_the_validator() -> None:
    event = json_schema()["$defs"]["WireEvent"]["properties"]
    number, at = re.compile(event["number"]["pattern"]), re.compile(event["at"]["pattern"])
    assert number.search(NUMBER)
    assert not number.search("12025550143")
    assert at.search("2026-11-29T03:04:05Z")
    assert not at.search("2026-11-29T03:04:05.1Z")


def test_the_example_in_the_docs_is_the_golden_plaintext() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "wire-format.md").read_text()
    block = re.findall(r"```json\n(.*?)```", doc, re.S)[0]
    example = "".join(line.strip() for line in block.splitlines())
    assert example.encode() == GOLDEN
