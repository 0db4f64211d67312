"""When to cut a batch, and when the sender thread must next wake: pure, no threads.

Events wait (linger) so that a batch fills: a batch is cut when it holds
``batch_max_events``, when the oldest waiting event has lingered ``linger_s``
since it *arrived*, or at once when asked (flush, stop, a fleet device's
drain). After each cut the linger starts again with the events that arrive
next.

:class:`Linger` is that rule. :class:`~n2net_privacy.uploader.send.worker.SenderThread`
and the Locust kit's :class:`~n2net_privacy.testing.fleet.Device` (which
drives the sender itself on a greenlet) both decide with it, so a simulated
device batches exactly as a phone does.

:class:`Pacer` adds what the sender thread needs on top: it is told of
arrivals, flushes, retries and stops, and answers how long the thread may
sleep. Nothing queued and no retry scheduled means "until told": the thread
has no periodic tick, so an idle sender costs no wakeups.
"""

from __future__ import annotations

__all__ = ["Linger", "Pacer"]


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
