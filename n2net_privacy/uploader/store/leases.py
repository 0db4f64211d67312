"""Batches of queued rows, leased to one process at a time: lease, resume, ack, split.

A batch is a row of ``batches`` (id, seq range, ``owner``, ``expires``) and
the events whose ``batch_id`` is that id. The id is the ``Idempotency-Key``.

Two processes on one queue file (a forked worker, a second app process)
never both send the same batch: a batch is *leased* to one owner, a token
made of the process id and a random part, until ``expires`` (wall-clock
seconds). Before each attempt the sender renews its lease
(:meth:`Leases.renew`); a lease may be taken over only when it has expired,
when its owner process no longer exists (a crash, a killed child), or when
its owner released it at ``close()``. New leases take the oldest free rows in
one ``BEGIN IMMEDIATE`` transaction, so two processes never lease one row.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from n2net_privacy.errors import KeyStoreError
from n2net_privacy.uploader.crashpoints import CrashHook, CrashPoint
from n2net_privacy.uploader.store.at_rest import NONCE_BYTES, AtRestKey
from n2net_privacy.uploader.store.drops import DropReason, Drops
from n2net_privacy.uploader.store.file import BUMP, QueueFile

__all__ = ["Leases", "QueuedBatch", "RowSeal"]

_AAD_V1 = b"n2net/queue/v1:"
_AAD_V2 = b"n2net/queue/v2:"
_SEAL_OVERHEAD = NONCE_BYTES + 16
_YIELD_EVERY = 16  # rows opened between chances for a waiting record_* (~50 us)
_MEMBERS = (
    "SELECT seq, blob FROM events WHERE seq BETWEEN ? AND ? AND batch_id = ? ORDER BY seq"
)
_REASSIGN = "UPDATE events SET batch_id = ? WHERE seq BETWEEN ? AND ? AND batch_id IS ?"
_NEW_BATCH = "INSERT INTO batches (id, lo, hi, owner, expires) VALUES (?, ?, ?, ?, ?)"
_Rows = list[tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class QueuedBatch:
    """A leased batch: its id (the Idempotency-Key) and its decrypted payloads."""

    batch_id: str
    seqs: tuple[int, ...]
    payloads: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.payloads)


class RowSeal:
    """Seals a payload to its row: AAD = ``"n2net/queue/v2:" || file_id || seq``.

    Rows migrated from format 1 (``seq <= legacy_hi``) keep the old AAD.
    """

    def __init__(self, key: AtRestKey, file: QueueFile) -> None:
        self._key = key
        self._file = file
        self._prefix_of = b""
        self._prefix = _AAD_V2

    def _v2_prefix(self) -> bytes:
        file_id = self._file.file_id
        # file_id may change on reopen after fork (same file: same id), so check it each time.
        if file_id is not self._prefix_of:
            self._prefix_of = file_id
            self._prefix = _AAD_V2 + file_id
        return self._prefix

    def _aad(self, seq: int) -> bytes:
        if seq <= self._file.legacy_hi:
            return _AAD_V1 + seq.to_bytes(8, "big", signed=True)
        return self._v2_prefix() + seq.to_bytes(8, "big", signed=True)

    def seal(self, payload: bytes, seq: int) -> bytes:
        return self._key.seal(payload, self._aad(seq))

    def open_rows(
        self, rows: _Rows, *, step_aside: bool = True
    ) -> tuple[list[int], list[bytes], list[tuple[int, int]]]:
        """Open every row: (seqs, payloads) of the good ones, (seq, size) of the bad.

        ``step_aside=False`` when the caller holds the file lock: no write can be
        in progress then, and the lock would read as a writer's.
        """
        seqs: list[int] = []
        payloads: list[bytes] = []
        bad: list[tuple[int, int]] = []
        key_open, aad = self._key.open, self._aad
        prefix, legacy_hi = self._v2_prefix(), self._file.legacy_hi
        for start in range(0, len(rows), _YIELD_EVERY):
            chunk = rows[start : start + _YIELD_EVERY]
            try:  # the common case, a chunk of good rows, in one comprehension
                payloads += [
                    key_open(
                        blob,
                        prefix + seq.to_bytes(8, "big", signed=True)
                        if seq > legacy_hi
                        else aad(seq),
                    )
                    for seq, blob in chunk
                ]
                seqs += [seq for seq, _ in chunk]
            except KeyStoreError:
                for seq, blob in chunk:  # one of them is bad: row by row
                    try:
                        payloads.append(key_open(blob, aad(seq)))
                        seqs.append(seq)
                    except KeyStoreError:
                        bad.append((seq, len(blob)))
            if step_aside and len(chunk) == _YIELD_EVERY:
                self._file.yield_to_writer()
        return seqs, payloads, bad


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


class Leases:
    """The batch half of the queue. Every method takes the file's lock itself."""

    def __init__(
        self,
        file: QueueFile,
        seal: RowSeal,
        report: Callable[[Drops], None],
        *,
        crash_point: CrashHook | None,
        lease_s: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.file = file
        self._seal = seal
        self._report = report
        self._crash = crash_point
        self.lease_s = lease_s
        self._wall = wall
        self.writes = 0
        self.owner = self._new_owner()

    @staticmethod
    def _new_owner() -> str:
        return f"{os.getpid()}:{uuid.uuid4().hex[:12]}"

    def after_fork(self) -> None:
        """A forked child is a new owner: it must not resume its parent's leases."""
        self.owner = self._new_owner()

    def next_batch(
        self, max_events: int, max_payload_bytes: int, *, lease_new: bool, skip: frozenset[str]
    ) -> QueuedBatch | None:
        """The oldest batch this process may send, else (if ``lease_new``) a new lease.

        A new lease is decrypted after the lock is released, so ``append``
        never waits for that.
        """
        drops: Drops = []
        leased: tuple[str, _Rows] | None = None
        with self.file.lock:
            batch = self._resume_locked(drops, skip)
            if batch is None and lease_new:
                leased = self._lease_locked(max_events, max_payload_bytes)
        if leased is not None:
            batch_id, rows = leased
            seqs, payloads, bad = self._seal.open_rows(rows)
            if bad:
                with self.file.lock:
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

    def _stamp(self) -> tuple[str, float]:
        return self.owner, self._wall() + self.lease_s

    def _claim_locked(self, batch_id: str, owner: str | None) -> bool:
        """Take over a batch from ``owner`` (compare-and-set: one process wins)."""
        db = self.file.db
        if owner == self.owner:
            return True
        claimed = db.execute(
            "UPDATE batches SET owner = ?, expires = ? WHERE id = ? AND owner IS ?",
            (*self._stamp(), batch_id, owner),
        ).rowcount
        if claimed:
            self.writes += 1
        return claimed == 1

    def _resume_locked(self, drops: Drops, skip: frozenset[str]) -> QueuedBatch | None:
        db = self.file.db
        now = self._wall()
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
            if not free or not self._claim_locked(batch_id, owner):
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

    def _lease_locked(self, max_events: int, max_payload_bytes: int) -> tuple[str, _Rows] | None:
        db = self.file.db
        rows: _Rows = db.execute(
            "SELECT seq, blob FROM events WHERE batch_id IS NULL ORDER BY seq LIMIT ?",
            (max_events,),
        ).fetchall()
        if not rows:
            return None
        # Each payload costs its size (sealed, less the seal) plus a comma.
        if sum(len(blob) for _, blob in rows) - len(rows) * (_SEAL_OVERHEAD - 1) > (
            max_payload_bytes
        ):
            total, fits = 0, 0
            for _, blob in rows:
                total += len(blob) - _SEAL_OVERHEAD + 1
                if fits and total > max_payload_bytes:
                    break
                fits += 1
            del rows[fits:]
        batch_id = str(uuid.uuid4())
        with self.file.transaction() as db:
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
        with self.file.lock:
            renewed = self.file.db.execute(
                "UPDATE batches SET expires = ? WHERE id = ? AND owner = ?",
                (self._wall() + self.lease_s, batch_id, self.owner),
            ).rowcount
        return renewed == 1

    def release_mine(self) -> None:
        """At close: our leases may be taken over at once by the next process."""
        with self.file.lock:
            self.file.db.execute(
                "UPDATE batches SET owner = NULL WHERE owner = ?", (self.owner,)
            )

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
                    db.execute(_NEW_BATCH, (new_id, part[0], part[-1], *self._stamp()))
            self.writes += 1
            return halves[0][0], halves[1][0]
