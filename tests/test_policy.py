"""The pure retry policy: classify and failure_reason (Retry-After and backoff: test_retry.py)."""

from __future__ import annotations

import pytest

from n2net_privacy import retry
from n2net_privacy.uploader.send.decisions import (
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


def test_the_retry_names_are_the_shared_ones() -> None:
    assert parse_retry_after is retry.parse_retry_after
    assert backoff_delay is retry.backoff_delay
