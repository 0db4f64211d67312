"""The hot-path payload: ids, stamps and canonical bytes, proven against the pydantic model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.errors import UploaderError
from n2net_privacy.uploader.wire import UUID_PATTERN, WireEvent, decode_batch
from n2net_privacy.uploader.wire.payload import (
    StampCache,
    encode_event,
    encode_with_stamp,
    is_canonical,
    new_event_id,
)

EVENT_IDS = st.uuids(version=4).map(str)
NUMBERS = st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True)
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.timezones()
)
DURATIONS = st.none() | st.integers(0, 2**31 - 1)


def model_bytes(event_id: str, number: str, at: datetime, duration: int | None) -> bytes:
    if duration is None:
        model = WireEvent.sms(event_id, number, at)
    else:
        model = WireEvent.call(event_id, number, at, duration)
    return model.model_dump_json(exclude_none=True).encode()


@given(event_id=EVENT_IDS, number=NUMBERS, at=TIMES, duration=DURATIONS)
def test_the_cached_stamp_path_is_byte_identical_to_the_model(
    event_id: str, number: str, at: datetime, duration: int | None
) -> None:
    stamps = StampCache()
    expected = model_bytes(event_id, number, at, duration)
    assert encode_with_stamp(event_id, number, stamps.stamp(at), duration) == expected
    assert encode_with_stamp(event_id, number, stamps.stamp(at), duration) == expected  # cached
    assert encode_event(event_id, number, at, duration) == expected


@given(event_id=EVENT_IDS, number=NUMBERS, at=TIMES, duration=DURATIONS)
def test_what_the_fast_check_accepts_the_model_accepts(
    event_id: str, number: str, at: datetime, duration: int | None
) -> None:
    payload = encode_event(event_id, number, at, duration)
    if is_canonical(payload):
        decode_batch(b'{"schema":"n2net.events/1","events":[' + payload + b"]}")
    else:  # only calls longer than 9 digits of seconds take the full check
        assert duration is not None and duration >= 10**9


@pytest.mark.parametrize(
    "payload",
    [
        b'{"id":"00000000-0000-4000-8000-000000000000","type":"sms","number":"12015550123",'
        b'"at":"2026-01-01T00:00:00Z"}',
        b'{"id":"00000000-0000-4000-8000-000000000000","type":"sms","number":"+12015550123",'
        b'"at":"2026-13-01T00:00:00Z"}',
        b'{"id":"00000000-0000-4000-8000-000000000000","type":"sms","number":"+12015550123",'
        b'"at":"2026-01-01T00:00:00Z","name":"x"}',
        b'{"id":"00000000-0000-4000-8000-000000000000","type":"call","number":"+12015550123",'
        b'"at":"2026-01-01T00:00:00Z"}',
        b'{"id":"00000000-0000-4000-8000-000000000000","type":"sms","number":"+12015550123",'
        b'"at":"2026-01-01T00:00:00Z","duration_s":3}',
    ],
)
def test_anything_else_is_left_to_the_full_check(payload: bytes) -> None:
    assert not is_canonical(payload)


def test_event_ids_are_random_version_4_uuids() -> None:
    ids = {new_event_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
        WireEvent.sms(text, "+12015550123", datetime(2026, 1, 1, tzinfo=UTC))
    assert UUID_PATTERN.startswith("^")


def test_the_stamp_follows_the_clock_across_seconds_and_zones() -> None:
    stamps = StampCache()
    base = datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC)
    assert stamps.stamp(base) == "2026-03-01T23:59:59Z"
    assert stamps.stamp(base + timedelta(microseconds=1)) == "2026-03-02T00:00:00Z"
    east = timezone(timedelta(hours=5))
    assert stamps.stamp(datetime(2026, 3, 2, 5, 0, 0, tzinfo=east)) == "2026-03-02T00:00:00Z"
    with pytest.raises(UploaderError):
        stamps.stamp(datetime(2026, 3, 2))  # naive


def test_the_cached_second_is_an_instant_not_a_wall_clock_reading() -> None:
    # The same wall-clock second twice: an hour apart in a zone that falls
    # back, and in two fixed offsets. Each stamp is the true UTC second.
    new_york = ZoneInfo("America/New_York")
    stamps = StampCache()
    first = datetime(2026, 11, 1, 1, 30, tzinfo=new_york)
    assert stamps.stamp(first) == "2026-11-01T05:30:00Z"
    assert stamps.stamp(first.replace(fold=1)) == "2026-11-01T06:30:00Z"
    utc = datetime(2026, 3, 2, 5, 0, 0, tzinfo=UTC)
    assert stamps.stamp(utc) == "2026-03-02T05:00:00Z"
    east = utc.replace(tzinfo=timezone(timedelta(hours=5)))
    assert stamps.stamp(east) == "2026-03-02T00:00:00Z"
    assert stamps.stamp(utc + timedelta(milliseconds=500)) == "2026-03-02T05:00:00Z"
