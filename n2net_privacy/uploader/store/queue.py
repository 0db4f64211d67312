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
the server cannot dedup:

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

Leases: a batch is a row of ``batches`` (id, seq range, ``owner``,
``expires``) and the events whose ``batch_id`` is that id. Two processes on
one queue file (a forked worker, a second app process) never both send the
same batch: a batch is *leased* to one owner, a token made of the process id
and a random part, until ``expires`` (epoch seconds of the injected clock).
Before each attempt the sender renews its lease (:meth:`EventQueue.renew`); a
lease may be taken over only when it has expired, when its owner process no
longer exists (a crash, a killed child), or when its owner released it at
``close()``. New leases take the oldest free rows in one ``BEGIN IMMEDIATE``
transaction, so two processes never lease one row.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from n2net_privacy.errors import StorageError, UploaderError
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import utc_now
from n2net_privacy.uploader._process import CrashHook, CrashPoint
from n2net_privacy.uploader.store.at_rest import SEAL_OVERHEAD, AtRestKey, RowSeal
from n2net_privacy.uploader.store.drops import DropReason, Drops, OnDrop
from n2net_privacy.uploader.store.file import BUMP, QueueFile

__all__ = [
    "DropReason",
    "EventQueue",
    "OnDrop",
    "QueueStats",
    "QueuedBatch",
]

# One statement on the hot path: the insert happens only if ``seq`` is above
# every seq the file ever held and the bounds hold; otherwise the subquery is
# NULL, the NOT NULL constraint skips the row (OR IGNORE) and rowcount 0 sends
# us the slow way. (An ``INSERT ... SELECT`` costs a fifth more: with a trigger
# on the table, SQLite stages the selected row in a temporary table first.)
_INSERT = (
    "INSERT OR IGNORE INTO events (seq, blob) VALUES (?1, (SELECT ?2 FROM totals"
    " WHERE id = 1 AND ?1 > hwm AND events < ?3 AND bytes + length(?2) <= ?4))"
)
_MEMBERS = (
    "SELECT seq, blob FROM events WHERE seq BETWEEN ? AND ? AND batch_id = ? ORDER BY seq"
)
_REASSIGN = "UPDATE events SET batch_id = ? WHERE seq BETWEEN ? AND ? AND batch_id IS ?"
_NEW_BATCH = "INSERT INTO batches (id, lo, hi, owner, expires) VALUES (?, ?, ?, ?, ?)"
_Rows = list[tuple[int, bytes]]
_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class QueueStats:
    """How much is queued. ``in_flight`` events belong to a leased batch.

    Read from the file, so it counts what every process sharing the file queued.
    """

    events: int
    bytes: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """A leased batch: its id (the Idempotency-Key) and its decrypted payloads."""

    batch_id: str
    seqs: tuple[int, ...]
    payloads: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.payloads)


def _owner_alive(owner: str) -> bool:
    """Does the owner's process still exist (and is it another process than ours)?

    Our own pid under another token is a previous incarnation in this process
    id (a crashed app whose pid was reused, a closed uploader): not alive.
    """
    pid_text = owner.partition(":")[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: it exists, under another user
    return True


class EventQueue:
    """A bounded, encrypted, crash-safe FIFO of opaque event payloads, leased in batches.

    Thread-safe: every method takes the file's lock itself. ``clock`` (aware
    UTC ``datetime``) stamps lease expiries; two processes sharing the file
    must agree on it, which the wall clock does.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: AtRestKey,
        *,
        max_events: int = 100_000,
        max_bytes: int = 32 * 1024 * 1024,
        on_drop: OnDrop | None = None,
        on_storage_error: Callable[[StorageError], None] | None = None,
        crash_point: CrashHook | None = None,
        power_safe: bool = False,
        lease_s: float = 120.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if max_events < 1 or max_bytes < 1:
            raise UploaderError("queue bounds must be positive")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.lease_s = lease_s
        self._on_drop = on_drop
        self._on_storage_error = on_storage_error
        self._crash = crash_point
        self._clock = clock
        self.file = QueueFile(path, power_safe=power_safe)
        self._seal = RowSeal(key, self.file)
        self._next_seq = 0
        """A guess at the next free seq; the insert itself checks it against the file."""
        self.writes = 0
        """Commits so far in this process: the sender checkpoints every so many."""
        self.owner = self._new_owner()
        """This process's lease token."""

    @staticmethod
    def _new_owner() -> str:
        return f"{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def after_fork(self) -> None:
        """In a forked child (called from the at-fork hook): fresh locks, a new lease owner.

        A forked child must not resume its parent's leases.
        """
        self.file.after_fork()
        self.owner = self._new_owner()

    def reopen(self) -> None:
        """In a forked child, before first use: its own connection, if the queue was open."""
        if not self.file.closed:
            self.file.reopen()
            self._next_seq = 0

    def close(self) -> None:
        if not self.file.closed:
            try:
                self._release_mine()
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
            with self.file.locked() as db:
                seq = self._append_locked(db, payload, drops)
        except sqlite3.Error as exc:
            _log.warning("queue write failed: %s", type(exc).__name__)
            seq = None
            drops.append((DropReason.STORAGE_ERROR, 1))
            self.report_storage_error("writing an event", exc)
        if drops:
            self._report(drops)
        return seq

    def report_storage_error(self, doing: str, exc: BaseException) -> None:
        """Tell ``on_storage_error`` that the file failed while ``doing``; never raises.

        Only SQLite's own errors are storage trouble; a closed queue is not.
        """
        if self._on_storage_error is None or not isinstance(exc, sqlite3.Error):
            return
        error = StorageError(
            f"the upload queue failed while {doing}: {type(exc).__name__}",
            path=str(self.file.path),
        )
        try:
            self._on_storage_error(error)
        except Exception:
            _log.exception("on_storage_error callback raised; ignored")

    def _append_locked(self, db: sqlite3.Connection, payload: bytes, drops: Drops) -> int | None:
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
                self.writes += 1
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
        self.writes += 1
        return seq

    def _report(self, drops: Drops) -> None:
        for reason, count in drops:
            _log.warning("queue dropped %d events: %s", count, reason.value)
            if self._on_drop is not None:
                try:
                    self._on_drop(reason, count)
                except Exception:
                    _log.exception("on_drop callback raised; ignored")

    # -- batches: lease, resume, ack, split ---------------------------------------

    def next_batch(
        self,
        max_events: int,
        max_payload_bytes: int,
        *,
        lease_new: bool = True,
        skip: frozenset[str] = frozenset(),
    ) -> QueuedBatch | None:
        """The oldest batch this process may send (not in ``skip``), else a new lease.

        ``lease_new=False`` only resumes. A new lease is decrypted after the
        lock is released, so ``append`` never waits for that.
        """
        drops: Drops = []
        leased: tuple[str, _Rows] | None = None
        with self.file.locked() as db:
            batch = self._resume_locked(db, drops, skip)
            if batch is None and lease_new:
                leased = self._lease_locked(db, max_events, max_payload_bytes)
        if leased is not None:
            batch_id, rows = leased
            seqs, payloads, bad = self._seal.open_rows(rows)
            if bad:
                with self.file.locked():
                    batch = self._repair_locked(batch_id, seqs, payloads, bad, drops)
            else:
                batch = QueuedBatch(batch_id, tuple(seqs), tuple(payloads))
        self._report(drops)
        return batch

    def _repair_locked(
        self,
        batch_id: str,
        seqs: list[int],
        payloads: list[bytes],
        bad: list[tuple[int, int]],
        drops: Drops,
    ) -> QueuedBatch | None:
        """Drop a batch's rows that fail to open and move the rest to a new id.

        The content changed, so it must not go out under the old idempotency key.
        """
        new_id = str(uuid.uuid4())
        with self.file.transaction() as db:
            db.executemany("DELETE FROM events WHERE seq = ?", [(seq,) for seq, _ in bad])
            db.execute(BUMP, (f"dropped:{DropReason.UNDECRYPTABLE.value}", len(bad)))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            if seqs:
                db.execute(_REASSIGN, (new_id, seqs[0], seqs[-1], batch_id))
                db.execute(_NEW_BATCH, (new_id, seqs[0], seqs[-1], *self._stamp()))
        self.writes += 1
        drops.append((DropReason.UNDECRYPTABLE, len(bad)))
        return QueuedBatch(new_id, tuple(seqs), tuple(payloads)) if seqs else None

    def _now(self) -> float:
        return self._clock().timestamp()

    def _stamp(self) -> tuple[str, float]:
        return self.owner, self._now() + self.lease_s

    def _claim_locked(self, db: sqlite3.Connection, batch_id: str, owner: str | None) -> bool:
        """Take over a batch from ``owner`` (compare-and-set: one process wins)."""
        if owner == self.owner:
            return True
        claimed = db.execute(
            "UPDATE batches SET owner = ?, expires = ? WHERE id = ? AND owner IS ?",
            (*self._stamp(), batch_id, owner),
        ).rowcount
        if claimed:
            self.writes += 1
        return claimed == 1

    def _resume_locked(
        self, db: sqlite3.Connection, drops: Drops, skip: frozenset[str]
    ) -> QueuedBatch | None:
        now = self._now()
        for batch_id, lo, hi, owner, expires in db.execute(
            "SELECT id, lo, hi, owner, expires FROM batches ORDER BY lo"
        ).fetchall():
            if batch_id in skip:
                continue
            free = (
                owner is None
                or owner == self.owner
                or expires is None
                or expires <= now
                or not _owner_alive(owner)
            )
            if not free or not self._claim_locked(db, batch_id, owner):
                continue
            members = db.execute(_MEMBERS, (lo, hi, batch_id)).fetchall()
            seqs, payloads, bad = self._seal.open_rows(members, step_aside=False)
            if not bad and seqs:
                return QueuedBatch(batch_id, tuple(seqs), tuple(payloads))
            if not bad:  # an empty batch (a sibling acked its rows): forget it
                db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                continue
            repaired = self._repair_locked(batch_id, seqs, payloads, bad, drops)
            if repaired is not None:
                return repaired
        return None

    def _lease_locked(
        self, db: sqlite3.Connection, max_events: int, max_payload_bytes: int
    ) -> tuple[str, _Rows] | None:
        rows: _Rows = db.execute(
            "SELECT seq, blob FROM events WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
            (max_events,),
        ).fetchall()
        if not rows:
            return None
        # Each payload costs its size (sealed, less the seal) plus a comma.
        if sum(len(blob) for _, blob in rows) - len(rows) * (SEAL_OVERHEAD - 1) > (
            max_payload_bytes
        ):
            total, fits = 0, 0
            for _, blob in rows:
                total += len(blob) - SEAL_OVERHEAD + 1
                if fits and total > max_payload_bytes:
                    break
                fits += 1
            del rows[fits:]
        batch_id = str(uuid.uuid4())
        with self.file.transaction():
            self._assign(db, batch_id, [seq for seq, _ in rows])
            if self._crash is not None:
                self._crash(CrashPoint.LEASE_BEFORE_COMMIT)
        self.writes += 1
        return batch_id, rows

    def _assign(self, db: sqlite3.Connection, batch_id: str, seqs: list[int]) -> None:
        lo, hi = seqs[0], seqs[-1]
        if db.execute(_REASSIGN, (batch_id, lo, hi, None)).rowcount != len(seqs):
            # A sibling process wrote inside the range: lease exactly our rows.
            db.execute(_REASSIGN, (None, lo, hi, batch_id))
            db.executemany(
                "UPDATE events SET batch_id = ? WHERE seq = ? AND batch_id IS NULL",
                [(batch_id, seq) for seq in seqs],
            )
        db.execute(_NEW_BATCH, (batch_id, lo, hi, *self._stamp()))

    def renew(self, batch_id: str) -> bool:
        """Extend our lease before an attempt; False if the batch is gone or someone else's."""
        with self.file.locked() as db:
            renewed = db.execute(
                "UPDATE batches SET expires = ? WHERE id = ? AND owner = ?",
                (self._now() + self.lease_s, batch_id, self.owner),
            ).rowcount
        return renewed == 1

    def _release_mine(self) -> None:
        """At close: our leases may be taken over at once by the next process."""
        with self.file.locked() as db:
            db.execute("UPDATE batches SET owner = NULL WHERE owner = ?", (self.owner,))

    def _delete_batch(self, db: sqlite3.Connection, batch_id: str) -> int:
        row = db.execute("SELECT lo, hi FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if row is None:
            return 0  # a sibling process already finished it
        db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        deleted = db.execute(
            "DELETE FROM events WHERE seq BETWEEN ? AND ? AND batch_id = ?",
            (row[0], row[1], batch_id),
        ).rowcount
        self.writes += 1
        return int(deleted)

    def ack(self, batch_id: str) -> int:
        """Delete a delivered batch; return how many events it held."""
        with self.file.locked(), self.file.transaction() as db:
            deleted = self._delete_batch(db, batch_id)
            if self._crash is not None:
                self._crash(CrashPoint.ACK_BEFORE_COMMIT)
        return deleted

    def dead_letter(self, batch_id: str, reason: str) -> int:
        """Delete a batch the server will never accept, counting it under ``reason``."""
        with self.file.locked(), self.file.transaction() as db:
            deleted = self._delete_batch(db, batch_id)
            db.execute(BUMP, (f"dead_letter:{reason}", deleted))
        return deleted

    def split(self, batch_id: str) -> tuple[str, str] | None:
        """Replace a batch by its two halves, with new ids; None if it holds one event."""
        with self.file.locked() as db:
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
                    db.execute(_NEW_BATCH, (new_id, part[0], part[-1], *self._stamp()))
            self.writes += 1
            return halves[0][0], halves[1][0]

    def other_work(self, skip: frozenset[str] | set[str]) -> bool:
        """Is there anything to send besides the batches in ``skip``?"""
        with self.file.locked() as db:
            count, _, in_flight = self.file.totals()
            if count > in_flight:
                return True
            ids = db.execute("SELECT id FROM batches").fetchall()
        return any(batch_id not in skip for (batch_id,) in ids)

    # -- counts ---------------------------------------------------------------

    def dropped_counts(self) -> dict[DropReason, int]:
        return {DropReason(k): v for k, v in self.file.counters("dropped:").items()}

    def dead_letter_counts(self) -> dict[str, int]:
        return self.file.counters("dead_letter:")

    def stats(self) -> QueueStats:
        """The totals in the file (every process's events), never negative."""
        with self.file.locked():
            return QueueStats(*self.file.totals())

    def free_events(self) -> int:
        """Events not yet in a batch, whichever process queued them."""
        with self.file.locked():
            count, _, in_flight = self.file.totals()
        return max(count - in_flight, 0)

    def __len__(self) -> int:
        return self.stats().events
