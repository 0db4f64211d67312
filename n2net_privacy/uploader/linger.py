"""When to cut a batch: the one rule, pure, for the worker thread and for drivers.

Events wait (linger) so that a batch fills: a batch is cut when it holds
``batch_max_events``, when the oldest waiting event has lingered
``linger_s``, or at once when asked (flush, stop, a fleet device's drain).
After each cut the linger starts again with the events left behind.

:class:`~n2net_privacy.uploader.worker.SenderThread` and the Locust kit's
:class:`~n2net_privacy.testing.fleet.Device`, which drives the sender itself
on a greenlet, both decide with this class, so a simulated device batches
exactly as a phone does.
"""

from __future__ import annotations

__all__ = ["Linger"]


class Linger:
    """The cut decision over an injected clock reading; no I/O, no threads."""

    __slots__ = ("batch_max_events", "linger_s", "since")

    def __init__(self, batch_max_events: int, linger_s: float) -> None:
        self.batch_max_events = batch_max_events
        self.linger_s = linger_s
        self.since: float | None = None
        """When the oldest waiting event was first seen; None while nothing waits."""

    def should_cut(self, free: int, now: float, *, at_once: bool = False) -> bool:
        """``free`` events wait for a batch at ``now``: cut one?"""
        if free <= 0:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return at_once or free >= self.batch_max_events or now - self.since >= self.linger_s

    def cut(self) -> None:
        """A batch was cut: the events left behind start a new linger."""
        self.since = None

    def deadline(self) -> float | None:
        """When the waiting events must go (None while nothing waits)."""
        return None if self.since is None else self.since + self.linger_s

    @property
    def lingering(self) -> bool:
        """Events wait and the clock runs for them."""
        return self.since is not None
