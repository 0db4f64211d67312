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
the configuration is fixed. ``Retry-After`` and the backoff live in
:mod:`n2net_privacy.retry`, shared with the Gravatar fetcher.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus

# The one Retry-After parser and backoff, re-exported under their old names.
from n2net_privacy.retry import backoff_delay, parse_retry_after

__all__ = [
    "Outcome",
    "backoff_delay",
    "classify",
    "failure_reason",
    "parse_retry_after",
]

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
