"""No head-of-line blocking: batches that keep failing are parked, then split, then dropped.

Pure bookkeeping with an injected ``now`` (monotonic seconds); the sender
acts on what it says. When a batch is answered with a retryable *HTTP status*
(5xx, 3xx, 408, 429, an oversized reply), it may be the batch itself that
the server chokes on, so instead of retrying it in place the sender parks it
for its backoff and sends the batches behind it meanwhile.

A parked batch that has failed ``split_after_attempts`` times, or has kept
failing for ``split_after_s`` seconds, *while the server accepted other
batches since its first failure*, is split in two (the halves inherit its
record, so each further failure halves again) and, once it holds a single
event, dead-lettered under ``retries_exhausted``. The "while others were
accepted" condition keeps an outage (every batch failing) from throwing
events away: then nothing is split, and the usual backoff applies.

The record lives in memory: a restart gives every batch a fresh start.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ParkingLot"]


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
