"""Size buckets (RFC 9292 §3.8 padding) and the key-consistency decisions: pure code."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy import ohttp
from n2net_privacy.egress import PinSet
from n2net_privacy.errors import WireFormatError
from n2net_privacy.ohttp.consistency import KeyVerdict, RefreshSchedule, check_key_configs
from n2net_privacy.ohttp.padding import MAX_BUCKET, MIN_BUCKET, bucket_for, pad

CONFIG = ohttp.KeyConfig(1, ohttp.KEM_X25519_HKDF_SHA256, b"\x01" * 32)
OTHER = ohttp.KeyConfig(2, ohttp.KEM_X25519_HKDF_SHA256, b"\x02" * 32)
UNPINNED = ohttp.KeyConfig(1, ohttp.KEM_X25519_HKDF_SHA256, b"\x03" * 32)
PINS = PinSet({ohttp.key_config_pin(CONFIG), ohttp.key_config_pin(OTHER)}, dt.date(2099, 1, 1))
NOW = dt.datetime(2026, 12, 6, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("length", "bucket"),
    [(0, 1024), (1024, 1024), (1025, 2048), (4096, 4096), (MAX_BUCKET, MAX_BUCKET),
     (MAX_BUCKET + 1, 2 * MAX_BUCKET)],
)
def test_buckets(length: int, bucket: int) -> None:
    assert bucket_for(length) == bucket


@given(st.integers(0, 3 * MAX_BUCKET))
def test_a_bucket_holds_the_message_and_costs_less_than_double(length: int) -> None:
    bucket = bucket_for(length)
    assert length <= bucket < max(2 * length, MIN_BUCKET + 1)


@given(
    st.binary(max_size=3000),
    st.lists(st.tuples(st.sampled_from(["a", "x-b"]), st.text("abc", max_size=5)), max_size=3),
)
def test_padded_messages_decode_to_the_same_message(
    content: bytes, headers: list[tuple[str, str]]
) -> None:
    request = ohttp.bhttp.encode_request("POST", "https", "api.n2net.com", "/v1/events",
                                         headers, content)
    padded = pad(request)
    assert len(padded) == bucket_for(len(request))
    assert ohttp.bhttp.decode_request(padded) == ohttp.bhttp.decode_request(request)
    response = ohttp.bhttp.encode_response(200, headers, content)
    assert ohttp.bhttp.decode_response(pad(response)) == ohttp.bhttp.decode_response(response)


def test_non_zero_padding_is_refused() -> None:
    with pytest.raises(WireFormatError, match="non-zero"):
        ohttp.bhttp.decode_response(pad(ohttp.bhttp.encode_response(204)) + b"\x01")


def _served(*configs: ohttp.KeyConfig) -> bytes:
    return ohttp.KeyConfig.encode_list(configs)


@pytest.mark.parametrize(
    ("served", "verdict", "key_ids", "unpinned"),
    [
        (_served(CONFIG, OTHER), KeyVerdict.ACCEPTED, [1, 2], 0),
        (_served(UNPINNED, OTHER), KeyVerdict.INCONSISTENT, [2], 1),  # same key id, other key
        (_served(UNPINNED), KeyVerdict.UNPINNED, [], 1),
        (b"\x00\x01", KeyVerdict.UNUSABLE, [], 0),
    ],
)
def test_only_pinned_configurations_count(
    served: bytes, verdict: KeyVerdict, key_ids: list[int], unpinned: int
) -> None:
    check = check_key_configs(PINS, served, NOW)
    assert (check.verdict, [c.key_id for c in check.accepted], check.unpinned) == (
        verdict, key_ids, unpinned
    )


def test_expired_pins_accept_nothing() -> None:
    later = dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()
    assert check_key_configs(PINS, _served(CONFIG), later).verdict is KeyVerdict.PINS_EXPIRED


def test_the_refresh_schedule_is_jittered_and_never_waits_for_a_send() -> None:
    schedule = RefreshSchedule(ttl_s=100.0, jitter_s=10.0, retry_s=40.0, rng=random.Random(3))
    assert schedule.wait(0.0) is None
    schedule.start(0.0)
    first = schedule.due_at
    assert first is not None and 0.0 <= first <= 10.0
    schedule.start(5.0)  # starting again changes nothing
    assert schedule.due_at == first
    schedule.fetched(20.0, ok=True)
    assert schedule.due_at is not None and 100.0 <= schedule.due_at <= 120.0
    schedule.stale(30.0)
    assert schedule.due_at is not None and 30.0 <= schedule.due_at <= 40.0
    schedule.fetched(50.0, ok=False)
    assert schedule.due_at is not None and 70.0 <= schedule.due_at <= 90.0
    assert schedule.wait(200.0) == 0.0
