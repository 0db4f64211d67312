"""Per-host back-off after a 429 or 503, so a busy Gravatar is not hammered.

:class:`BackoffPolicy` is pure; ``Retry-After`` parsing and the jittered
backoff are :mod:`n2net_privacy.retry`'s (``parse_retry_after`` is
re-exported here under its old name).
:class:`HostBackoff` is the small thread-safe state ("host X is closed
until T") the fetcher consults before every request. Time is always passed
in, never read here, so tests drive it with a fake clock.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

from n2net_privacy.checks import require_int, require_type
from n2net_privacy.errors import InvalidArgumentError

# The one Retry-After parser and backoff (shared with the uploader).
from n2net_privacy.retry import backoff_delay, parse_retry_after

__all__ = ["REFUSAL_STATUSES", "BackoffPolicy", "HostBackoff", "parse_retry_after"]

#: Replies that mean "slow down", not "no avatar".
REFUSAL_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long a host stays closed after a refusal, and how long a fetch waits.

    A positive ``Retry-After`` wins (capped at ``cap``); otherwise the wait
    doubles per consecutive refusal from ``base`` with the SDK's one "full
    jitter" (:func:`n2net_privacy.retry.backoff_delay`). A fetch sleeps for a
    closed host only when it reopens within ``max_wait``; otherwise it
    returns "no avatar" at once, so the app is never held up.
    ``max_attempts`` bounds the requests one fetch makes.
    """

    base: float = 1.0
    cap: float = 3600.0
    max_wait: float = 5.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        # Refused here, when the app builds it, not at the first 429 inside a fetch.
        for name in ("base", "cap", "max_wait"):
            value = getattr(self, name)
            require_type(f"backoff.{name}", value, (int, float))
            if not math.isfinite(value) or value < 0 or (name == "base" and value == 0):
                wanted = "> 0" if name == "base" else ">= 0"
                raise InvalidArgumentError(f"backoff.{name} must be finite and {wanted}")
        require_int("backoff.max_attempts", self.max_attempts, 1)

    def delay(self, refusals: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to keep the host closed after the ``refusals``-th refusal in a row."""
        return backoff_delay(
            max(refusals - 1, 0), retry_after, rng, base=self.base, cap=self.cap
        )


class HostBackoff:
    """Which hosts are closed and until when. Thread-safe."""

    def __init__(self, policy: BackoffPolicy, rng: random.Random) -> None:
        self.policy = policy
        self._rng = rng
        self._lock = threading.Lock()
        self._closed_until: dict[str, float] = {}
        self._refusals: dict[str, int] = {}

    def wait_for(self, host: str, now: float) -> float:
        """Seconds until ``host`` may be asked again (0 when open)."""
        with self._lock:
            return max(0.0, self._closed_until.get(host, 0.0) - now)

    def refused(self, host: str, retry_after: float | None, now: float) -> float:
        """Record a 429/503 from ``host``; returns how long it is now closed for."""
        with self._lock:
            refusals = self._refusals.get(host, 0) + 1
            self._refusals[host] = refusals
            delay = self.policy.delay(refusals, retry_after, self._rng)
            until = max(self._closed_until.get(host, 0.0), now + delay)
            self._closed_until[host] = until
            return until - now

    def answered(self, host: str) -> None:
        """Record a real answer from ``host``: the refusal streak is over."""
        with self._lock:
            self._refusals.pop(host, None)
