"""The pure retry policy: classify, failure_reason, parse_retry_after, backoff_delay."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.uploader.policy import (
    Outcome,
    backoff_delay,
    classify,
    failure_reason,
    parse_retry_after,
)

D, R, S, X = Outcome.DELIVERED, Outcome.RETRY, Outcome.SPLIT, Outcome.DEAD_LETTER

CLASSIFY = [
    # status, network_error, timeout, outcome
    (200, False, False, D),
    (201, False, False, D),
    (202, False, False, D),
    (204, False, False, D),
    (None, True, False, R),
    (None, False, True, R),
    (None, False, False, R),
    (503, True, False, R),  # a network error wins over a stale status
    (408, False, False, R),
    (429, False, False, R),
    (500, False, False, R),
    (502, False, False, R),
    (503, False, False, R),
    (504, False, False, R),
    (507, False, False, R),
    (599, False, False, R),
    (413, False, False, S),
    (400, False, False, X),
    (401, False, False, Outcome.HOLD),  # a rotated key or app key: never dead-letter
    (403, False, False, X),
    (404, False, False, X),
    (405, False, False, X),
    (409, False, False, X),
    (410, False, False, X),
    (411, False, False, X),
    (415, False, False, X),
    (422, False, False, X),
    (451, False, False, X),
    (499, False, False, X),
    (501, False, False, X),
    (505, False, False, X),
    (0, False, False, R),  # egress: reply larger than the cap
    (101, False, False, R),
    (301, False, False, R),
    (307, False, False, R),
]


@pytest.mark.parametrize(("status", "network_error", "timeout", "outcome"), CLASSIFY)
def test_classify(status: int | None, network_error: bool, timeout: bool, outcome: Outcome) -> None:
    assert classify(status, network_error=network_error, timeout=timeout) is outcome


@pytest.mark.parametrize(
    ("status", "network_error", "timeout", "reason"),
    [
        (401, False, False, "http 401 unauthorized"),
        (422, False, False, "http 422 unprocessable content"),  # RFC 9110, on every Python
        (413, False, False, "http 413 content too large"),
        (501, False, False, "http 501 not implemented"),
        (505, False, False, "http 505 http version not supported"),
        (499, False, False, "http 499"),
        (None, False, True, "timeout"),
        (None, True, False, "network error"),
        (None, False, False, "network error"),
    ],
)
def test_failure_reason(
    status: int | None, network_error: bool, timeout: bool, reason: str
) -> None:
    assert failure_reason(status, network_error=network_error, timeout=timeout) == reason


NOW = datetime(2026, 10, 21, 7, 27, 0, tzinfo=UTC)

RETRY_AFTER = [
    (None, None),
    ("", None),
    ("   ", None),
    ("0", 0.0),
    ("2", 2.0),
    (" 120 ", 120.0),
    ("1.5", 1.5),
    ("3600", 3600.0),
    ("-1", None),
    ("-0.5", None),
    ("nan", None),
    ("inf", None),
    ("1e400", None),
    ("soon", None),
    ("2 seconds", None),
    ("٣", None),
    ("Wed, 21 Oct 2026 07:28:00 GMT", 60.0),
    ("Wednesday, 21-Oct-26 07:28:00 GMT", 60.0),
    ("Wed Oct 21 07:28:00 2026", 60.0),
    ("21 Oct 2026 07:28:00 GMT", 60.0),
    ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
    ("Wed, 21 Oct 2026 07:26:59 GMT", None),  # in the past
    ("Wed, 21 Oct 2026 09:28:00 +0200", 60.0),
    ("Wed, 32 Oct 2026 07:28:00 GMT", None),
    ("Wed, 21 Foo 2026 07:28:00 GMT", None),
]


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_parse_retry_after_treats_a_naive_now_as_utc() -> None:
    naive_now = NOW.replace(tzinfo=None)
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", naive_now) == 60.0


@given(st.text(max_size=40), st.datetimes(timezones=st.just(UTC)))
def test_parse_retry_after_never_raises_and_never_goes_negative(
    value: str, now: datetime
) -> None:
    seconds = parse_retry_after(value, now)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
       st.integers(min_value=0, max_value=10**6))
def test_an_http_date_in_the_future_gives_the_gap(now: datetime, gap: int) -> None:
    now = now.replace(microsecond=0, tzinfo=UTC)
    header = (now + timedelta(seconds=gap)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(header, now) == float(gap)


class _Top(random.Random):
    """A random source that always draws the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("attempt", "retry_after", "ceiling"),
    [
        (0, None, 0.5),
        (1, None, 1.0),
        (2, None, 2.0),
        (6, None, 32.0),
        (7, None, 60.0),
        (50, None, 60.0),
        (10_000, None, 60.0),
        (3, 2.0, 2.0),
        (0, 7.5, 7.5),
        (0, 3600.0, 60.0),
        (4, 0.0, 8.0),  # "retry now" does not mean hammer: back off as usual
        (4, math.inf, 8.0),
    ],
)
def test_backoff_table(attempt: int, retry_after: float | None, ceiling: float) -> None:
    assert backoff_delay(attempt, retry_after, _Top()) == ceiling


def test_backoff_honours_base_and_cap() -> None:
    assert backoff_delay(3, None, _Top(), base=1.0, cap=5.0) == 5.0
    assert backoff_delay(1, None, _Top(), base=0.1, cap=5.0) == 0.2
    assert backoff_delay(0, 30.0, _Top(), cap=10.0) == 10.0


@pytest.mark.parametrize(
    ("attempt", "base", "cap"), [(-1, 0.5, 60.0), (0, 0.0, 60.0), (0, 0.5, -1.0)]
)
def test_backoff_rejects_nonsense(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(InvalidArgumentError):
        backoff_delay(attempt, None, random.Random(1), base=base, cap=cap)


def test_backoff_is_jittered_across_the_whole_range() -> None:
    rng = random.Random(42)
    delays = [backoff_delay(5, None, rng) for _ in range(2000)]
    assert min(delays) < 1.0
    assert max(delays) > 15.0
    assert len(set(delays)) == len(delays)


@given(
    st.integers(min_value=0, max_value=2000),
    st.none() | st.floats(min_value=-10, max_value=1e6) | st.sampled_from([math.nan, math.inf]),
    st.integers(),
    st.floats(min_value=0.001, max_value=10),
    st.floats(min_value=0, max_value=600),
)
def test_backoff_delay_bounds(
    attempt: int, retry_after: float | None, seed: int, base: float, cap: float
) -> None:
    delay = backoff_delay(attempt, retry_after, random.Random(seed), base=base, cap=cap)
    assert 0.0 <= delay <= cap
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        assert delay == min(retry_after, cap)
    else:
        assert delay <= base * 2.0 ** min(attempt, 64)
