"""The durable on-device queue: every row sealed at rest, leased in batches.

Each queued event is one row of the :class:`~n2net_privacy.uploader.storage.QueueFile`,
its payload sealed with AES-256-GCM under the key store's
:class:`~n2net_privacy.uploader.keystore.AtRestKey` (random 96-bit nonce, the
row's ``seq`` as associated data, so rows cannot be swapped or replayed into
one another). Nothing about an event, not even its type, is readable in the file.

Lease and ack, so a crash at any point loses nothing and duplicates nothing
the server cannot dedup:

1. :meth:`EventQueue.append` commits the sealed row before it returns.
2. :meth:`EventQueue.next_batch` returns the oldest batch already persisted,
   else leases the oldest free rows to a new batch id in one transaction. The
   id is the ``Idempotency-Key``, so every retry, across restarts too, sends
   the same key with the same events.
3. :meth:`EventQueue.ack` deletes a delivered batch's rows. A crash between the
   server's 200 and this delete only causes a re-send, deduped by event id.

Bounds and the drop policy: at most ``max_events`` rows and ``max_bytes``
sealed bytes. A new event that does not fit evicts the *oldest events not yet
in a batch* (drop-oldest: recent activity is worth more than old). If every
stored event is in a batch in flight, the new event is dropped instead, so a
batch never changes under its idempotency key. Every drop is counted by
:class:`DropReason` and reported to ``on_drop``. The totals behind the bounds
are kept in memory per process; a forked sibling writing the same file makes
them approximate until the next open.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from n2net_privacy.errors import KeyStoreError, UploaderError
from n2net_privacy.redact import get_logger
from n2net_privacy.uploader.crashpoints import CrashHook, CrashPoint
from n2net_privacy.uploader.keystore import NONCE_BYTES, AtRestKey
from n2net_privacy.uploader.storage import BUMP, QueueFile

__all__ = [
    "DropReason",
    "EventQueue",
    "OnDrop",
    "QueueStats",
    "QueuedBatch",
]

SEAL_OVERHEAD = NONCE_BYTES + 16
_AAD_PREFIX = b"n2net/queue/v1:"
_INSERT = "INSERT INTO events (seq, blob) VALUES (?, ?)"
_MEMBERS = (
    "SELECT seq, blob FROM events WHERE seq BETWEEN ? AND ? AND batch_id = ? ORDER BY seq"
)
_REASSIGN = "UPDATE events SET batch_id = ? WHERE seq BETWEEN ? AND ? AND batch_id IS ?"
_NEW_BATCH = "INSERT INTO batches (id, lo, hi) VALUES (?, ?, ?)"
_log = get_logger(__name__)


class DropReason(StrEnum):
    """Why events were thrown away on the device."""

    MAX_EVENTS = "max_events"
    """The queue already held ``max_events`` events."""
    MAX_BYTES = "max_bytes"
    """The queue already held ``max_bytes`` sealed bytes."""
    UNDECRYPTABLE = "undecryptable"
    """The at-rest key changed (e.g. Android invalidated it) or the row is corrupt."""
    STORAGE_ERROR = "storage_error"
    """The write itself failed (disk full, I/O error)."""


OnDrop = Callable[[DropReason, int], None]
_Drops = list[tuple[DropReason, int]]


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """A leased batch: its id (the Idempotency-Key) and its decrypted payloads."""

    batch_id: str
    seqs: tuple[int, ...]
    payloads: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.payloads)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """How much is queued. ``in_flight`` events belong to a leased batch."""

    events: int
    bytes: int
    in_flight: int


def _aad(seq: int) -> bytes:
    return _AAD_PREFIX + seq.to_bytes(8, "big", signed=True)


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
    ) -> None:
        if max_events < 1 or max_bytes < 1:
            raise UploaderError("queue bounds must be positive")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._key = key
        self._on_drop = on_drop
        self._crash = crash_point
        self.file = QueueFile(path, power_safe=power_safe)
        self.writes = 0
        """Commits so far: the sender checkpoints every so many."""
        self._reload_totals()

    def _reload_totals(self) -> None:
        row = self.file.db.execute(
            "SELECT count(*), coalesce(sum(length(blob)), 0), count(batch_id),"
            " coalesce(max(seq), 0) FROM events"
        ).fetchone()
        self._count: int = int(row[0])
        self._bytes: int = int(row[1])
        self._in_flight: int = int(row[2])
        self._next_seq: int = int(row[3]) + 1

    def after_fork(self) -> None:
        """Reopen in a forked child before first use there."""
        self.file.after_fork()
        self._reload_totals()

    def close(self) -> None:
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
        drops: _Drops = []
        try:
            with self.file.lock:
                seq = self._append_locked(payload, len(payload) + SEAL_OVERHEAD, drops)
        except sqlite3.Error as exc:
            _log.warning("queue write failed: %s", type(exc).__name__)
            seq = None
            drops.append((DropReason.STORAGE_ERROR, 1))
        self._report(drops)
        return seq

    def _append_locked(self, payload: bytes, size: int, drops: _Drops) -> int | None:
        if self._count + 1 > self.max_events or self._bytes + size > self.max_bytes:
            return self._evict_and_insert(payload, size, drops)
        db = self.file.db
        for _ in range(3):
            seq = self._next_seq
            try:
                db.execute(_INSERT, (seq, self._key.seal(payload, _aad(seq))))
            except sqlite3.IntegrityError:
                # A forked sibling took this seq: catch up and try the next one.
                self._next_seq = self._max_seq() + 1
                continue
            self._next_seq = seq + 1
            self._count += 1
            self._bytes += size
            self.writes += 1
            return seq
        raise sqlite3.IntegrityError("could not allocate a queue sequence number")

    def _max_seq(self) -> int:
        return int(self.file.db.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def _evict_and_insert(self, payload: bytes, size: int, drops: _Drops) -> int | None:
        db = self.file.db
        full = self._count + 1 > self.max_events
        reason = DropReason.MAX_EVENTS if full else DropReason.MAX_BYTES
        need_events = self._count + 1 - self.max_events
        need_bytes = self._bytes + size - self.max_bytes
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
        seq = max(self._next_seq, self._max_seq() + 1)
        with self.file.transaction():
            db.executemany("DELETE FROM events WHERE seq = ?", victims)
            db.execute(BUMP, (f"dropped:{reason.value}", len(victims)))
            db.execute(_INSERT, (seq, self._key.seal(payload, _aad(seq))))
        drops.append((reason, len(victims)))
        self._next_seq = seq + 1
        self._count += 1 - len(victims)
        self._bytes += size - freed
        self.writes += 1
        return seq

    def _report(self, drops: _Drops) -> None:
        for reason, count in drops:
            _log.warning("queue dropped %d events: %s", count, reason.value)
            if self._on_drop is not None:
                try:
                    self._on_drop(reason, count)
                except Exception:
                    _log.exception("on_drop callback raised; ignored")

    # -- batches --------------------------------------------------------------

    def next_batch(
        self, max_events: int, max_payload_bytes: int, *, lease_new: bool = True
    ) -> QueuedBatch | None:
        """The oldest persisted batch, else (if ``lease_new``) a lease of the oldest free events.

        A new batch holds at most ``max_events`` payloads whose sizes plus one
        separator each sum to at most ``max_payload_bytes`` (always at least one).
        A new lease is decrypted after the lock is released, so ``append``
        never waits for that.
        """
        drops: _Drops = []
        leased: tuple[str, list[tuple[int, bytes]]] | None = None
        with self.file.lock:
            batch = self._resume_locked(drops)
            if batch is None and lease_new:
                leased = self._lease_locked(max_events, max_payload_bytes)
        if leased is not None:
            batch_id, rows = leased
            seqs, payloads, bad = self._open_rows(rows)
            if bad:
                with self.file.lock:
                    batch = self._repair_locked(batch_id, seqs, payloads, bad, drops)
            else:
                batch = QueuedBatch(batch_id, tuple(seqs), tuple(payloads))
        self._report(drops)
        return batch

    def _open_rows(
        self, rows: list[tuple[int, bytes]]
    ) -> tuple[list[int], list[bytes], list[tuple[int, int]]]:
        seqs: list[int] = []
        payloads: list[bytes] = []
        bad: list[tuple[int, int]] = []
        for seq, blob in rows:
            try:
                payloads.append(self._key.open(blob, _aad(seq)))
                seqs.append(seq)
            except KeyStoreError:
                bad.append((seq, len(blob)))
        return seqs, payloads, bad

    def _repair_locked(
        self,
        batch_id: str,
        seqs: list[int],
        payloads: list[bytes],
        bad: list[tuple[int, int]],
        drops: _Drops,
    ) -> QueuedBatch | None:
        """Drop a batch's undecryptable rows and move the rest to a new id.

        The content changed, so it must not go out under the old idempotency key.
        """
        db = self.file.db
        new_id = str(uuid.uuid4())
        with self.file.transaction():
            if bad:
                db.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in bad])
                db.execute(BUMP, (f"dropped:{DropReason.UNDECRYPTABLE.value}", len(bad)))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            if seqs:
                db.execute(_REASSIGN, (new_id, seqs[0], seqs[-1], batch_id))
                db.execute(_NEW_BATCH, (new_id, seqs[0], seqs[-1]))
        self._count -= len(bad)
        self._in_flight -= len(bad)
        self._bytes -= sum(length for _, length in bad)
        self.writes += 1
        if bad:
            drops.append((DropReason.UNDECRYPTABLE, len(bad)))
        return QueuedBatch(new_id, tuple(seqs), tuple(payloads)) if seqs else None

    def _resume_locked(self, drops: _Drops) -> QueuedBatch | None:
        db = self.file.db
        while True:
            row = db.execute("SELECT id, lo, hi FROM batches ORDER BY lo LIMIT 1").fetchone()
            if row is None:
                return None
            batch_id, lo, hi = row
            members = db.execute(_MEMBERS, (lo, hi, batch_id)).fetchall()
            seqs, payloads, bad = self._open_rows(members)
            if not bad and seqs:
                return QueuedBatch(batch_id, tuple(seqs), tuple(payloads))
            repaired = self._repair_locked(batch_id, seqs, payloads, bad, drops)
            if repaired is not None:
                return repaired

    def _lease_locked(
        self, max_events: int, max_payload_bytes: int
    ) -> tuple[str, list[tuple[int, bytes]]] | None:
        db = self.file.db
        rows: list[tuple[int, bytes]] = []
        total = 0
        for seq, blob in db.execute(
            "SELECT seq, blob FROM events WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
            (max_events,),
        ):
            total += len(blob) - SEAL_OVERHEAD + 1
            if rows and total > max_payload_bytes:
                break
            rows.append((seq, blob))
        if not rows:
            return None
        batch_id = str(uuid.uuid4())
        with self.file.transaction() as db:
            self._assign(db, batch_id, [seq for seq, _ in rows])
            if self._crash is not None:
                self._crash(CrashPoint.LEASE_BEFORE_COMMIT)
        self._in_flight += len(rows)
        self.writes += 1
        return batch_id, rows

    @staticmethod
    def _assign(db: sqlite3.Connection, batch_id: str, seqs: list[int]) -> None:
        lo, hi = seqs[0], seqs[-1]
        if db.execute(_REASSIGN, (batch_id, lo, hi, None)).rowcount != len(seqs):
            # A forked sibling wrote inside the range: lease exactly our rows.
            db.execute(_REASSIGN, (None, lo, hi, batch_id))
            db.executemany(
                "UPDATE events SET batch_id = ? WHERE seq = ? AND batch_id IS NULL",
                [(batch_id, seq) for seq in seqs],
            )
        db.execute(_NEW_BATCH, (batch_id, lo, hi))

    def _delete_batch(self, db: sqlite3.Connection, batch_id: str) -> int:
        row = db.execute("SELECT lo, hi FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            return 0  # a forked sibling already finished it
        db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        sizes = db.execute(
            "DELETE FROM events WHERE seq BETWEEN ? AND ? AND batch_id = ? RETURNING length(blob)",
            (row[0], row[1], batch_id),
        ).fetchall()
        self._count -= len(sizes)
        self._in_flight -= len(sizes)
        self._bytes -= sum(size for (size,) in sizes)
        self.writes += 1
        return len(sizes)

    def ack(self, batch_id: str) -> int:
        """Delete a delivered batch; return how many events it held."""
        with self.file.lock, self.file.transaction() as db:
            deleted = self._delete_batch(db, batch_id)
            if self._crash is not None:
                self._crash(CrashPoint.ACK_BEFORE_COMMIT)
        return deleted

    def dead_letter(self, batch_id: str, reason: str) -> int:
        """Delete a batch the server will never accept, counting it under ``reason``."""
        with self.file.lock, self.file.transaction() as db:
            deleted = self._delete_batch(db, batch_id)
            db.execute(BUMP, (f"dead_letter:{reason}", deleted))
        return deleted

    def split(self, batch_id: str) -> tuple[str, str] | None:
        """Replace a batch by its two halves, with new ids; None if it holds one event."""
        with self.file.lock:
            db = self.file.db
            row = db.execute("SELECT lo, hi FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if row is None:
                return None
            seqs = [seq for seq, _ in db.execute(_MEMBERS, (row[0], row[1], batch_id))]
            if len(seqs) < 2:
                return None
            half = len(seqs) // 2
            halves = ((str(uuid.uuid4()), seqs[:half]), (str(uuid.uuid4()), seqs[half:]))
            with self.file.transaction():
                db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                for new_id, part in halves:
                    db.execute(_REASSIGN, (new_id, part[0], part[-1], batch_id))
                    db.execute(_NEW_BATCH, (new_id, part[0], part[-1]))
            self.writes += 1
            return halves[0][0], halves[1][0]

    # -- counts ---------------------------------------------------------------

    def dropped_counts(self) -> dict[DropReason, int]:
        return {DropReason(k): v for k, v in self.file.counters("dropped:").items()}

    def dead_letter_counts(self) -> dict[str, int]:
        return self.file.counters("dead_letter:")

    def stats(self) -> QueueStats:
        with self.file.lock:
            return QueueStats(self._count, self._bytes, self._in_flight)

    def free_events(self) -> int:
        """Events not yet in a batch (an in-memory figure, no I/O)."""
        return max(self._count - self._in_flight, 0)

    def __len__(self) -> int:
        return self._count
