"""Back-off after 429/503: Retry-After parsing and the per-host closed state."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.gravatar import BackoffPolicy, parse_retry_after
from n2net_privacy.gravatar.backoff import HostBackoff

NOW = 1_700_000_000.0


def _http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits are not delta-seconds
        (_http_date(NOW + 30), 30.0),
        (_http_date(NOW - 30), 0.0),
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: unusable
    ],
)
def test_parse_retry_after_table(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@given(st.text())
def test_parse_retry_after_never_raises_and_is_never_negative(value: str) -> None:
    result = parse_retry_after(value, NOW)
    assert result is None or result >= 0


@pytest.mark.parametrize(
    ("refusals", "retry_after", "low", "high"),
    [
        (1, None, 0.5, 1.0),
        (2, None, 1.0, 2.0),
        (3, None, 2.0, 4.0),
        (30, None, 1800.0, 3600.0),  # capped
        (1, 10.0, 10.0, 10.0),  # Retry-After wins
        (5, 0.0, 0.0, 0.0),
        (1, 99999.0, 3600.0, 3600.0),  # capped too
    ],
)
def test_delay_table(refusals: int, retry_after: float | None, low: float, high: float) -> None:
    delay = BackoffPolicy().delay(refusals, retry_after, random.Random(7))
    assert low <= delay <= high


def test_host_closes_after_a_refusal_and_reopens_when_time_passes() -> None:
    backoff = HostBackoff(BackoffPolicy(), random.Random(1))
    assert backoff.wait_for("gravatar.com", NOW) == 0
    assert backoff.refused("gravatar.com", 30.0, NOW) == 30.0
    assert backoff.wait_for("gravatar.com", NOW + 10) == 20.0
    assert backoff.wait_for("www.gravatar.com", NOW + 10) == 0  # per host
    assert backoff.wait_for("gravatar.com", NOW + 30) == 0


def test_a_shorter_later_retry_after_does_not_reopen_early() -> None:
    backoff = HostBackoff(BackoffPolicy(), random.Random(1))
    backoff.refused("h", 60.0, NOW)
    backoff.refused("h", 1.0, NOW + 1)
    assert backoff.wait_for("h", NOW + 30) == 30.0


def test_streak_doubles_until_an_answer_resets_it() -> None:
    policy = BackoffPolicy(base=10.0)
    backoff = HostBackoff(policy, random.Random(3))
    first = backoff.refused("h", None, NOW)
    second = backoff.refused("h", None, NOW + first)
    assert 5 <= first <= 10 and 10 <= second <= 20
    backoff.answered("h")
    assert 5 <= backoff.refused("h", None, NOW + 100) <= 10
