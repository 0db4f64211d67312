"""The sender's decisions, pure: what to do after an attempt, which batch to park, when to cut.

No clock, no sleep, no network here: every time is passed in, so every
branch is a line in a table test. Three decisions:

**After an attempt** (:func:`classify`), modelled on anthropic-sdk-python's
``_should_retry`` and ``_calculate_retry_timeout``:

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

**Which batch to park** (:class:`ParkingLot`): no head-of-line blocking. A
batch answered with a retryable *HTTP status* may be the one the server
chokes on, so it is parked for its backoff and the batches behind it go
meanwhile. One that has failed ``split_after_attempts`` times, or for
``split_after_s`` seconds, *while the server accepted other batches since its
first failure*, is split in two (the halves inherit its record) and, once it
holds a single event, dead-lettered under ``retries_exhausted``. The "while
others were accepted" condition keeps an outage from throwing events away.
The record lives in memory: a restart gives every batch a fresh start.

**When to cut a batch** (:class:`Linger`): when it holds
``batch_max_events``, when the oldest waiting event has lingered
``linger_s`` since it *arrived*, or at once when asked (flush, stop, a fleet
device's drain). :class:`Pacer` adds what the sender thread needs on top: it
answers how long the thread may sleep, and with nothing queued and no retry
scheduled that is "until told", so an idle sender has no periodic tick. The
sender thread and the Locust kit's simulated device both decide with them,
so a simulated device batches exactly as a phone does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus

# The one Retry-After parser and backoff, re-exported under their old names.
from n2net_privacy.retry import backoff_delay, parse_retry_after

__all__ = [
    "Linger",
    "Outcome",
    "Pacer",
    "ParkingLot",
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


# -- parking failing batches --------------------------------------------------


@dataclass(slots=True)
class _Record:
    strikes: int
    first_at: float
    deliveries_at_first: int
    not_before: float


class ParkingLot:
    """Which batches are parked, until when, and which are exhausted."""

    def __init__(self, split_after_attempts: int, split_after_s: float) -> None:
        self.split_after_attempts = split_after_attempts
        self.split_after_s = split_after_s
        self._records: dict[str, _Record] = {}

    def strikes(self, batch_id: str) -> int:
        record = self._records.get(batch_id)
        return 0 if record is None else record.strikes

    def fail(self, batch_id: str, now: float, deliveries: int, wait: float) -> bool:
        """Count a failure and park the batch for ``wait`` s; True if it is exhausted.

        ``deliveries`` is the sender's running count of delivered batches.
        """
        record = self._records.get(batch_id)
        if record is None:
            record = self._records[batch_id] = _Record(0, now, deliveries, now)
        record.strikes += 1
        record.not_before = now + wait
        others_flow = deliveries > record.deliveries_at_first
        too_long = (
            record.strikes >= self.split_after_attempts
            or now - record.first_at >= self.split_after_s
        )
        return others_flow and too_long

    def inherit(self, parent: str, children: tuple[str, ...]) -> None:
        """The halves of a split keep the parent's record, due at once."""
        record = self._records.pop(parent, None)
        if record is None:
            return
        for child in children:
            self._records[child] = _Record(
                max(record.strikes, self.split_after_attempts - 1),
                record.first_at,
                record.deliveries_at_first,
                record.first_at,
            )

    def due_now(self, batch_id: str) -> None:
        """The batch is retried in place (nothing else to send): do not skip it."""
        record = self._records.get(batch_id)
        if record is not None:
            record.not_before = float("-inf")

    def forget(self, batch_id: str) -> None:
        self._records.pop(batch_id, None)

    def parked(self, now: float) -> frozenset[str]:
        """Batches still waiting out their backoff: the sender skips them."""
        return frozenset(b for b, r in self._records.items() if r.not_before > now)

    def next_due(self, now: float) -> float | None:
        """Seconds until the first parked batch may go again, or None if none is parked."""
        waits = [r.not_before - now for r in self._records.values() if r.not_before > now]
        return min(waits) if waits else None

    def clear(self) -> None:
        self._records.clear()


# -- lingering and pacing -----------------------------------------------------


class Linger:
    """The cut decision over an injected clock reading; no I/O, no threads."""

    __slots__ = ("batch_max_events", "linger_s", "since")

    def __init__(self, batch_max_events: int, linger_s: float) -> None:
        self.batch_max_events = batch_max_events
        self.linger_s = linger_s
        self.since: float | None = None
        """When the oldest waiting event arrived; None while nothing waits.

        Events nobody reported arriving (another process's, an earlier run's)
        count from when :meth:`should_cut` first sees them.
        """

    def arrived(self, at: float) -> None:
        """An event was queued at ``at``: the linger runs from the oldest arrival."""
        if self.since is None:
            self.since = at

    def should_cut(self, free: int, now: float, *, at_once: bool = False) -> bool:
        """``free`` events wait for a batch at ``now``: cut one?"""
        if free <= 0:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return at_once or free >= self.batch_max_events or now - self.since >= self.linger_s

    def cut(self) -> None:
        """A batch was cut: events arriving from now on start a new linger."""
        self.since = None

    def deadline(self) -> float | None:
        """When the waiting events must go (None while nothing waits)."""
        return None if self.since is None else self.since + self.linger_s

    @property
    def lingering(self) -> bool:
        """Events wait and the clock runs for them."""
        return self.since is not None


class Pacer:
    """When the sender thread must act next, from what it was told.

    The thread holds its lock around every call and does the waiting and the
    I/O itself; this object only keeps the state and decides. Times are the
    injected monotonic clock's.

    >>> pacer = Pacer(batch_max_events=500, linger_s=1.0)
    >>> pacer.timeout(now=0.0)  # just started: look at the queue now
    0.0
    >>> pacer.looking()
    False
    >>> pacer.looked(free=0, now=0.0)
    False
    >>> pacer.stepped(None, now=0.0)  # nothing to send
    >>> pacer.timeout(now=0.0) is None  # asleep until told: no idle tick
    True
    >>> pacer.arrived(at=5.0)  # wake the thread: it has a deadline now
    True
    >>> pacer.timeout(now=5.0)
    1.0
    """

    __slots__ = ("_arrivals", "_mark", "flushing", "linger", "look", "retry_at", "stopping",
                 "waiting")

    def __init__(self, batch_max_events: int, linger_s: float) -> None:
        self.linger = Linger(batch_max_events, linger_s)
        self.waiting = 0
        """Events known to wait unleased: the last count read, plus arrivals since."""
        self.look = True
        """The queue must be looked at (at start, after progress, on a flush or a kick)."""
        self.retry_at: float | None = None
        """The sender asked to be called again then (a backoff); arrivals do not cut it short."""
        self.flushing = 0
        """Callers in the sender thread's ``flush``: cut at once."""
        self.stopping = False
        self._arrivals = 0
        self._mark = 0

    # -- what the thread is told ---------------------------------------------------

    def arrived(self, at: float) -> bool:
        """An event was queued at ``at``. True if the thread must wake for it.

        Only the first event of a linger (the thread needs its deadline) and
        the one that fills a batch wake it; the rest cost no thread switch.
        """
        # On every record_*: this is wake_at() compared before and after, unrolled.
        self._arrivals += 1
        self.waiting += 1
        first = self.linger.since is None
        if first:
            self.linger.since = at
        if self.stopping or self.retry_at is not None or self.look:
            return False  # the thread acts now anyway, or only at the retry
        return first or (not self.flushing and self.waiting == self.linger.batch_max_events)

    def flush(self) -> None:
        """A caller waits for the queue to drain (``flushing`` > 0 cuts at once): look now."""
        self.look = True

    def kick(self) -> None:
        """The configuration changed (new server keys): a backoff is cut short."""
        self.retry_at = None
        self.look = True

    def stop(self) -> None:
        """The thread must leave at once, whatever it waits for."""
        self.stopping = True

    # -- what the thread decides and reports ------------------------------------

    def wake_at(self) -> float | None:
        """When the thread must act (``-inf``: now; None: only when told)."""
        if self.stopping:
            return float("-inf")
        if self.retry_at is not None:
            return self.retry_at
        if self.look:
            return float("-inf")
        deadline = self.linger.deadline()
        if deadline is None:
            return None
        if self.flushing or self.waiting >= self.linger.batch_max_events:
            return float("-inf")
        return deadline

    def timeout(self, now: float) -> float | None:
        """Seconds the thread may sleep from ``now`` (0: act now; None: until told)."""
        wake = self.wake_at()
        return None if wake is None else max(wake - now, 0.0)

    def looking(self) -> bool:
        """The thread acts now and will count the queue; True if it must cut at once."""
        self.look = False
        self.retry_at = None
        self._mark = self._arrivals
        return self.flushing > 0 or self.stopping

    def looked(self, free: int, now: float, *, at_once: bool = False) -> bool:
        """The queue held ``free`` unleased events at ``now``: cut a batch?"""
        # Arrivals since looking() may or may not be in ``free``: counting them
        # twice only wakes the thread early, never late.
        self.waiting = free + self._arrivals - self._mark
        cut = self.linger.should_cut(free, now, at_once=at_once)
        if cut:
            self.linger.cut()
            self.waiting = 0
        return cut

    def stepped(self, delay: float | None, now: float) -> None:
        """The sender's step asked for ``delay`` (0: again now; None: idle) at ``now``."""
        if delay is None:
            return
        if delay <= 0:
            self.look = True
        else:
            self.retry_at = now + delay
