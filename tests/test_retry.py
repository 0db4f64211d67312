"""The one Retry-After parser and backoff (n2net_privacy.retry), table- and property-tested."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.retry import backoff_delay, parse_retry_after

NOW = datetime(2026, 10, 21, 7, 27, 0, tzinfo=UTC)

RETRY_AFTER = [
    (None, None),
    ("", None),
    ("   ", None),
    ("0", 0.0),
    ("2", 2.0),
    (" 120 ", 120.0),
    ("1.5", None),  # delay-seconds is 1*DIGIT
    ("+5", None),
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
    ("Wed, 21 Oct 2026 07:26:59 GMT", 0.0),  # in the past: the wait is over
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


# Where gravatar/backoff.py and uploader/policy.py used to disagree, and what
# RFC 9110 (§10.2.3, §5.6.7) decides: (value, old gravatar, old uploader, now).
DISAGREEMENTS = [
    ("1.5", None, 1.5, None),  # delay-seconds = 1*DIGIT: invalid, ignored
    ("Wed, 21 Oct 2026 07:27:10 -0000", None, 10.0, 10.0),  # RFC 5322 "-0000" is UTC
    ("Wed, 21 Oct 2026 07:00:00 GMT", 0.0, None, 0.0),  # a valid date that has passed
    ("+5", None, 5.0, None),  # no sign in 1*DIGIT
]


@pytest.mark.parametrize(("value", "gravatar", "uploader", "expected"), DISAGREEMENTS)
def test_the_old_disagreements_are_settled_once(
    value: str, gravatar: float | None, uploader: float | None, expected: float | None
) -> None:
    assert gravatar != uploader  # the table documents a real disagreement
    assert parse_retry_after(value, NOW) == expected
    assert parse_retry_after(value, NOW.timestamp()) == expected  # epoch seconds too


def test_a_zone_less_date_is_utc_like_every_http_timestamp() -> None:
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00", NOW) == 60.0


@given(st.integers(min_value=0, max_value=10**12))
def test_any_ascii_digit_run_is_its_value(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == float(seconds)
    assert parse_retry_after(f" {seconds}\t", NOW) == float(seconds)


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["+", "-", "."]))
def test_a_signed_or_decimal_number_is_never_delay_seconds(seconds: int, mark: str) -> None:
    text = f"{mark}{seconds}" if mark != "." else f"{seconds}.5"
    assert parse_retry_after(text, NOW) is None


@given(
    st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from(["imf", "rfc850", "asctime", "minus-zero"]),
)
def test_every_accepted_date_form_gives_the_same_wait(
    now: datetime, gap: int, form: str
) -> None:
    now = now.replace(microsecond=0, tzinfo=UTC)
    when = now + timedelta(seconds=gap)
    if form == "rfc850" and not 1969 <= when.year <= 2068:
        return  # a two-digit year names one century only
    header = {
        "imf": format_datetime(when, usegmt=True),
        "rfc850": when.strftime("%A, %d-%b-%y %H:%M:%S GMT"),
        "asctime": when.strftime("%a %b ") + f"{when.day:2d}" + when.strftime(" %H:%M:%S %Y"),
        "minus-zero": when.strftime("%a, %d %b %Y %H:%M:%S -0000"),
    }[form]
    assert parse_retry_after(header, now) == float(max(gap, 0))


def test_the_retry_module_imports_no_network() -> None:
    # Principle 8: a pure module loads neither httpx, httpcore, h11 nor egress.
    code = (
        "import sys, n2net_privacy.retry; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('httpx', 'httpcore', 'h11') "
        "or m.startswith('n2net_privacy.egress')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
