"""The durable on-device queue: every row sealed at rest, bounded, leased in batches.

Each queued event is one row of the :class:`~n2net_privacy.uploader.store.file.QueueFile`,
its payload sealed with AES-256-GCM under the key store's
:class:`~n2net_privacy.uploader.store.at_rest.AtRestKey` (random 96-bit nonce). The
associated data binds the row to the file's random ``file_id`` and to its
``seq``, which the file never hands out twice, even after a drain (see
:mod:`~n2net_privacy.uploader.store.file`). A row copied in from another queue
file, or from an older copy of this one into another row, fails to open; it
is dropped *and reported* as ``UNDECRYPTABLE`` (counter, log line and
``on_drop``), never silently. Nothing
about an event, not even its type, is readable in the file.

Lease and ack, so a crash at any point loses nothing and duplicates nothing
the server cannot dedup (see :mod:`~n2net_privacy.uploader.store.leases`):

1. :meth:`EventQueue.append` commits the sealed row before it returns.
2. :meth:`EventQueue.next_batch` returns the oldest batch this process may
   send, else leases the oldest free rows to a new batch id. The id is the
   ``Idempotency-Key``, so every retry, across restarts too, sends the same
   key with the same events.
3. :meth:`EventQueue.ack` deletes a delivered batch's rows.

Bounds and the drop policy: at most ``max_events`` rows and ``max_bytes``
sealed bytes, checked against the totals *in the file* (exact whichever
process wrote). A new event that does not fit evicts the *oldest events not
yet in a batch* (drop-oldest). If every stored event is in a batch in flight,
the new event is dropped instead, so a batch never changes under its
idempotency key. Every drop is counted by :class:`DropReason` and reported.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from n2net_privacy.errors import UploaderError
from n2net_privacy.redact import get_logger
from n2net_privacy.uploader.crashpoints import CrashHook
from n2net_privacy.uploader.store.at_rest import NONCE_BYTES, AtRestKey
from n2net_privacy.uploader.store.drops import DropReason, Drops, OnDrop
from n2net_privacy.uploader.store.file import BUMP, QueueFile
from n2net_privacy.uploader.store.leases import Leases, QueuedBatch, RowSeal

__all__ = [
    "DropReason",
    "EventQueue",
    "OnDrop",
    "QueueStats",
    "QueuedBatch",
]

SEAL_OVERHEAD = NONCE_BYTES + 16
# One statement on the hot path: the insert happens only if ``seq`` is above
# every seq the file ever held and the bounds hold; otherwise the subquery is
# NULL, the NOT NULL constraint skips the row (OR IGNORE) and rowcount 0 sends
# us the slow way. (An ``INSERT ... SELECT`` costs a fifth more: with a trigger
# on the table, SQLite stages the selected row in a temporary table first.)
_INSERT = (
    "INSERT OR IGNORE INTO events (seq, blob) VALUES (?1, (SELECT ?2 FROM totals"
    " WHERE id = 1 AND ?1 > hwm AND events < ?3 AND bytes + length(?2) <= ?4))"
)
_log = get_logger(__name__)




@dataclass(frozen=True, slots=True)
class QueueStats:
    """How much is queued. ``in_flight`` events belong to a leased batch.

    Read from the file, so it counts what every process sharing the file queued.
    """

    events: int
    bytes: int
    in_flight: int


class EventQueue:
    """A bounded, encrypted, crash-safe FIFO of opaque event payloads. Thread-safe."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: AtRestKey,
        *,
        max_events: int = 100_000,
        max_bytes: int = 32 * 1024 * 1024,
        on_drop: OnDrop | None = None,
        crash_point: CrashHook | None = None,
        power_safe: bool = False,
        lease_s: float = 120.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if max_events < 1 or max_bytes < 1:
            raise UploaderError("queue bounds must be positive")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._on_drop = on_drop
        self.file = QueueFile(path, power_safe=power_safe)
        try:
            self._seal = RowSeal(key, self.file)
            self.leases = Leases(
                self.file, self._seal, self._report, crash_point=crash_point, lease_s=lease_s,
                wall=wall,
            )
        except BaseException:
            self.file.close()  # do not leave the connection for the garbage collector
            raise
        self._next_seq = 0
        """A guess at the next free seq; the insert itself checks it against the file."""

    @property
    def writes(self) -> int:
        """Commits so far in this process: the sender checkpoints every so many."""
        return self.leases.writes

    def after_fork(self) -> None:
        """In a forked child (called from the at-fork hook): fresh locks, a new lease owner."""
        self.file.after_fork()
        self.leases.after_fork()

    def reopen(self) -> None:
        """In a forked child, before first use: its own connection, if the queue was open."""
        if not self.file.closed:
            self.file.reopen()
            self._next_seq = 0

    def close(self) -> None:
        if not self.file.closed:
            try:
                self.leases.release_mine()
            except (sqlite3.Error, UploaderError) as exc:
                _log.debug("lease release skipped: %s", type(exc).__name__)
        self.file.close()

    @property
    def closed(self) -> bool:
        return self.file.closed

    # -- writing --------------------------------------------------------------

    def append(self, payload: bytes) -> int | None:
        """Seal and commit one payload; return its seq, or None if it was dropped.

        Durable when it returns. Never raises for storage trouble: a failed
        write is a drop with reason ``STORAGE_ERROR``.
        """
        drops: Drops = []
        try:
            with self.file.lock:
                seq = self._append_locked(payload, drops)
        except sqlite3.Error as exc:
            _log.warning("queue write failed: %s", type(exc).__name__)
            seq = None
            drops.append((DropReason.STORAGE_ERROR, 1))
        if drops:
            self._report(drops)
        return seq

    def _append_locked(self, payload: bytes, drops: Drops) -> int | None:
        db = self.file.db
        execute = db.execute
        for _ in range(4):
            seq = self._next_seq or self._fresh_seq(db)
            blob = self._seal.seal(payload, seq)
            try:
                inserted = execute(_INSERT, (seq, blob, self.max_events, self.max_bytes)).rowcount
            except sqlite3.OperationalError:
                # Another process committed between our read and write (WAL
                # snapshot): retry inside an explicit write transaction.
                with self.file.transaction():
                    inserted = db.execute(
                        _INSERT, (seq, blob, self.max_events, self.max_bytes)
                    ).rowcount
            if inserted == 1:
                self._next_seq = seq + 1
                self.leases.writes += 1
                return seq
            fresh = self._fresh_seq(db)
            if fresh == seq:  # the seq was fine: the queue is full
                return self._evict_and_insert(payload, drops)
            self._next_seq = fresh  # a sibling process used this seq: take the next
        raise sqlite3.IntegrityError("could not allocate a queue sequence number")

    @staticmethod
    def _fresh_seq(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT hwm FROM totals").fetchone()[0]) + 1

    def _evict_and_insert(self, payload: bytes, drops: Drops) -> int | None:
        with self.file.transaction() as db:
            count, total, _ = self.file.totals()
            size = len(payload) + SEAL_OVERHEAD
            full = count + 1 > self.max_events
            reason = DropReason.MAX_EVENTS if full else DropReason.MAX_BYTES
            need_events = count + 1 - self.max_events
            need_bytes = total + size - self.max_bytes
            victims: list[tuple[int]] = []
            freed = 0
            for seq, length in db.execute(
                "SELECT seq, length(blob) FROM events WHERE batch_id IS NULL ORDER BY seq"
            ):
                if len(victims) >= need_events and freed >= need_bytes:
                    break
                victims.append((seq,))
                freed += length
            if len(victims) < need_events or freed < need_bytes:
                db.execute(BUMP, (f"dropped:{reason.value}", 1))  # all in flight: drop the newcomer
                drops.append((reason, 1))
                return None
            seq = self._fresh_seq(db)
            db.executemany("DELETE FROM events WHERE seq = ?", victims)
            db.execute(BUMP, (f"dropped:{reason.value}", len(victims)))
            db.execute(
                "INSERT INTO events (seq, blob) VALUES (?, ?)", (seq, self._seal.seal(payload, seq))
            )
        drops.append((reason, len(victims)))
        self._next_seq = seq + 1
        self.leases.writes += 1
        return seq

    def _report(self, drops: Drops) -> None:
        for reason, count in drops:
            _log.warning("queue dropped %d events: %s", count, reason.value)
            if self._on_drop is not None:
                try:
                    self._on_drop(reason, count)
                except Exception:
                    _log.exception("on_drop callback raised; ignored")

    # -- batches (see leases.py) ----------------------------------------------

    def next_batch(
        self,
        max_events: int,
        max_payload_bytes: int,
        *,
        lease_new: bool = True,
        skip: frozenset[str] = frozenset(),
    ) -> QueuedBatch | None:
        """The oldest batch this process may send (not in ``skip``), else a new lease."""
        return self.leases.next_batch(max_events, max_payload_bytes, lease_new=lease_new, skip=skip)

    def ack(self, batch_id: str) -> int:
        """Delete a delivered batch; return how many events it held."""
        return self.leases.ack(batch_id)

    def dead_letter(self, batch_id: str, reason: str) -> int:
        """Delete a batch the server will never accept, counting it under ``reason``."""
        return self.leases.dead_letter(batch_id, reason)

    def split(self, batch_id: str) -> tuple[str, str] | None:
        """Replace a batch by its two halves, with new ids; None if it holds one event."""
        return self.leases.split(batch_id)

    def renew(self, batch_id: str) -> bool:
        """Extend this process's lease on a batch; False if it is no longer ours."""
        return self.leases.renew(batch_id)

    def other_work(self, skip: frozenset[str] | set[str]) -> bool:
        """Is there anything to send besides the batches in ``skip``?"""
        with self.file.lock:
            count, _, in_flight = self.file.totals()
            if count > in_flight:
                return True
            ids = self.file.db.execute("SELECT id FROM batches").fetchall()
        return any(batch_id not in skip for (batch_id,) in ids)

    # -- counts ---------------------------------------------------------------

    def dropped_counts(self) -> dict[DropReason, int]:
        return {DropReason(k): v for k, v in self.file.counters("dropped:").items()}

    def dead_letter_counts(self) -> dict[str, int]:
        return self.file.counters("dead_letter:")

    def stats(self) -> QueueStats:
        """The totals in the file (every process's events), never negative."""
        with self.file.lock:
            return QueueStats(*self.file.totals())

    def free_events(self) -> int:
        """Events not yet in a batch, whichever process queued them."""
        with self.file.lock:
            count, _, in_flight = self.file.totals()
        return max(count - in_flight, 0)

    def __len__(self) -> int:
        return self.stats().events
