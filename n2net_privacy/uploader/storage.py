"""The queue's SQLite file: WAL mode, mode 0600, one locked connection, counters.

Durability is SQLite's: with ``journal_mode=WAL`` and ``synchronous=NORMAL`` a
committed transaction survives the process being killed at any instruction
(the WAL frame is in the OS page cache); it may be lost only if the whole
device loses power before the next checkpoint. ``power_safe=True`` selects
``synchronous=FULL`` (an fsync per commit) to close that gap too.

Checkpoints run PASSIVE from a second connection (:meth:`QueueFile.checkpoint`,
called by the sender thread), so a ``record_*`` call never pays for one; a
large ``wal_autocheckpoint`` is only the backstop.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from n2net_privacy.errors import UploaderError
from n2net_privacy.redact import get_logger

__all__ = ["BUMP", "QueueFile"]

FORMAT_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events"
    " (seq INTEGER PRIMARY KEY, blob BLOB NOT NULL, batch_id TEXT)",
    "CREATE TABLE IF NOT EXISTS batches"
    " (id TEXT PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
BUMP = (
    "INSERT INTO counters (name, value) VALUES (?, ?)"
    " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)
_AUTOCHECKPOINT_PAGES = 4000
# Above the WAL's steady-state size (the sender checkpoints every 1,000 commits),
# so the costly truncation only follows an exceptional burst.
_JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024
# Connections inherited across fork. Closing one in the child could release the
# parent's locks or checkpoint under it (SQLite forbids using them across fork),
# so they are kept alive, unused, for the life of the process.
_ABANDONED: list[sqlite3.Connection] = []
_log = get_logger(__name__)


class QueueFile:
    """One SQLite file and the lock that serializes every use of its connection.

    Callers hold :attr:`lock` around :attr:`db` and :meth:`transaction`.
    """

    def __init__(self, path: str | os.PathLike[str], *, power_safe: bool = False) -> None:
        self.path = Path(path)
        self._power_safe = power_safe
        self.lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # SQLite gives -wal and -shm the main file's mode, so creating it 0600 covers all three.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise UploaderError("the queue needs SQLite WAL mode; this file system refuses it")
            conn.execute(f"PRAGMA synchronous={'FULL' if self._power_safe else 'NORMAL'}")
            conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={_JOURNAL_SIZE_LIMIT}")
            for statement in _SCHEMA:
                conn.execute(statement)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                conn.execute(f"PRAGMA user_version={FORMAT_VERSION}")
            elif version != FORMAT_VERSION:
                raise UploaderError(f"queue file format {version}, expected {FORMAT_VERSION}")
        except sqlite3.Error as exc:
            conn.close()
            raise UploaderError(f"cannot open the queue file: {type(exc).__name__}") from exc
        except UploaderError:
            conn.close()
            raise
        self._conn = conn

    @property
    def db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise UploaderError("the queue is closed")
        return self._conn

    @property
    def closed(self) -> bool:
        return self._conn is None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def checkpoint(self) -> None:
        """Copy the WAL into the main file without blocking the writer (PASSIVE)."""
        with self._checkpoint_lock:
            if self._conn is None:
                return
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=0.0
                )
            try:
                self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                _log.debug("checkpoint skipped: %s", type(exc).__name__)

    def after_fork(self) -> None:
        """Reopen in a forked child; the inherited connections are abandoned, not closed."""
        _ABANDONED.extend(c for c in (self._conn, self._checkpointer) if c is not None)
        self.lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()
        self._conn = self._checkpointer = None
        self._open()

    def close(self) -> None:
        with self.lock, self._checkpoint_lock:
            for conn in (self._checkpointer, self._conn):
                if conn is not None:
                    conn.close()
            self._conn = self._checkpointer = None

    def bump(self, name: str, count: int = 1) -> None:
        """Add ``count`` to a persisted counter. Names never carry PII."""
        try:
            with self.lock:
                self.db.execute(BUMP, (name, count))
        except sqlite3.Error as exc:
            _log.warning("counter update failed: %s", type(exc).__name__)

    def counters(self, prefix: str) -> dict[str, int]:
        """Counters whose name starts with ``prefix``, with the prefix stripped."""
        with self.lock:
            rows = self.db.execute(
                "SELECT name, value FROM counters WHERE substr(name, 1, ?) = ? AND value > 0",
                (len(prefix), prefix),
            ).fetchall()
        return {name[len(prefix) :]: int(value) for name, value in rows}
