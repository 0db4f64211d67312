"""The uploader's retry policy, as pure functions of what the last attempt saw.

Modelled on anthropic-sdk-python's ``_should_retry``,
``_parse_retry_after_header`` and ``_calculate_retry_timeout``: no clock, no
sleep, no network here, so every branch is a line in a table test.

=====================================  ===============
What the attempt saw                   Outcome
=====================================  ===============
2xx                                    DELIVERED
network error, timeout, no status      RETRY
408, 429, 5xx except 501 and 505       RETRY
1xx, 3xx, 0 (unusable reply)           RETRY
413                                    SPLIT
401 (app key or server key refused)    HOLD
501, 505, 400, 403, 422, other 4xx     DEAD_LETTER
=====================================  ===============

A 401 is a configuration problem of the client (a rotated server key, a
revoked app key), never a property of the events: they stay queued until
the configuration is fixed.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from http import HTTPStatus

from n2net_privacy.errors import InvalidArgumentError

__all__ = [
    "Outcome",
    "backoff_delay",
    "classify",
    "failure_reason",
    "parse_retry_after",
]

DEFAULT_BASE = 0.5
DEFAULT_CAP = 60.0
# 2.0 ** 1024 overflows a float; far past the cap anyway.
_MAX_EXPONENT = 64
_FINAL_5XX = frozenset({HTTPStatus.NOT_IMPLEMENTED, HTTPStatus.HTTP_VERSION_NOT_SUPPORTED})


class Outcome(StrEnum):
    """What the sender does with a batch after an attempt."""

    DELIVERED = "delivered"
    """The server stored (or already had) every event: delete them locally."""
    RETRY = "retry"
    """Transient trouble: keep the batch and try again after a backoff."""
    SPLIT = "split"
    """The body was too large: split the batch in two and send each half."""
    HOLD = "hold"
    """The server refused our credentials or key (401): keep everything, wait for config."""
    DEAD_LETTER = "dead_letter"
    """The server will never accept this batch: count it with its reason, drop it."""


_SPECIAL: dict[int, Outcome] = {
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: Outcome.SPLIT,
    HTTPStatus.UNAUTHORIZED: Outcome.HOLD,
    HTTPStatus.REQUEST_TIMEOUT: Outcome.RETRY,
    HTTPStatus.TOO_MANY_REQUESTS: Outcome.RETRY,
}


def classify(
    status: int | None, *, network_error: bool = False, timeout: bool = False
) -> Outcome:
    """Decide what to do after an attempt that got ``status`` (or no reply).

    >>> classify(503)
    <Outcome.RETRY: 'retry'>
    >>> classify(None, timeout=True)
    <Outcome.RETRY: 'retry'>
    """
    if network_error or timeout or status is None:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.DELIVERED
    special = _SPECIAL.get(status)
    if special is not None:
        return special
    if 400 <= status < 500 or status in _FINAL_5XX:
        return Outcome.DEAD_LETTER
    # 5xx, and statuses the contract never sends (1xx, 3xx, egress's 0 for an
    # oversized reply): retrying is safe because the server dedups by event id.
    return Outcome.RETRY


def failure_reason(
    status: int | None, *, network_error: bool = False, timeout: bool = False
) -> str:
    """A short, PII-free reason for counters and status callbacks.

    >>> failure_reason(401)
    'http 401 unauthorized'
    >>> failure_reason(None, timeout=True)
    'timeout'
    """
    if timeout:
        return "timeout"
    if network_error or status is None:
        return "network error"
    try:
        phrase = _RFC9110_PHRASES.get(status) or HTTPStatus(status).phrase.lower()
    except ValueError:
        return f"http {status}"
    return f"http {status} {phrase}"


# Python 3.13 renamed these phrases to RFC 9110's; pin them so a reason (a
# persisted counter key) does not change with the interpreter.
_RFC9110_PHRASES = {
    413: "content too large",
    414: "uri too long",
    416: "range not satisfiable",
    422: "unprocessable content",
}


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` if unusable.

    Accepts delay-seconds (``"120"``, and decimals like ``"1.5"``) and an
    HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``), measured from ``now``.
    Negative values, dates in the past, non-finite numbers and garbage give
    ``None`` so the caller falls back to its own backoff.

    >>> parse_retry_after("2", datetime(2026, 1, 1, tzinfo=UTC))
    2.0
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text[0].isascii() and (text[0].isdigit() or text[0] in "+-."):
        try:
            seconds = float(text)
        except ValueError:
            pass  # "21 Oct 2026 07:28:00 GMT" starts with a digit too
        else:
            return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    return seconds if seconds >= 0 else None


def backoff_delay(
    attempt: int,
    retry_after: float | None,
    rng: random.Random,
    base: float = DEFAULT_BASE,
    cap: float = DEFAULT_CAP,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` >= 0).

    A positive ``retry_after`` from the server wins, capped at ``cap``.
    Otherwise "full jitter": uniform in ``[0, min(cap, base * 2**attempt)]``,
    which spreads a crowd of clients that failed together.
    """
    if attempt < 0:
        raise InvalidArgumentError("attempt must be >= 0")
    if base <= 0 or cap < 0:
        raise InvalidArgumentError("base must be > 0 and cap >= 0")
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        return min(retry_after, cap)
    ceiling = min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)
