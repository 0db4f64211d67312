"""Back-off after 429/503: Retry-After parsing and the per-host closed state."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from n2net_privacy import retry
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.gravatar import BackoffPolicy, parse_retry_after
from n2net_privacy.gravatar.backoff import HostBackoff

NOW = 1_700_000_000.0


class _Top(random.Random):
    """A random source that always draws the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


def test_parse_retry_after_is_the_shared_one() -> None:
    # Table and property tests of the parser: tests/test_retry.py.
    assert parse_retry_after is retry.parse_retry_after
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(_http_date(NOW + 30), NOW) == 30.0


@pytest.mark.parametrize(
    ("refusals", "retry_after", "low", "high"),
    [
        (1, None, 0.0, 1.0),  # full jitter: anywhere up to the ceiling
        (2, None, 0.0, 2.0),
        (3, None, 0.0, 4.0),
        (30, None, 0.0, 3600.0),  # capped
        (1, 10.0, 10.0, 10.0),  # Retry-After wins
        (5, 0.0, 0.0, 16.0),  # "retry now" does not open the host to a crowd
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
    backoff = HostBackoff(policy, _Top())
    first = backoff.refused("h", None, NOW)
    second = backoff.refused("h", None, NOW + first)
    assert (first, second) == (10.0, 20.0)
    backoff.answered("h")
    assert backoff.refused("h", None, NOW + 100) == 10.0


@pytest.mark.parametrize(
    "kwargs",
    [{"base": 0.0}, {"base": -1.0}, {"cap": -1.0}, {"max_wait": float("nan")},
     {"max_attempts": 0}],
)
def test_a_nonsense_policy_is_refused_when_built(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError, match="backoff"):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]
