"""The queue's SQLite file: WAL mode, mode 0600, one locked connection, true totals.

Durability is SQLite's: with ``journal_mode=WAL`` and ``synchronous=NORMAL`` a
committed transaction survives the process being killed at any instruction
(the WAL frame is in the OS page cache); it may be lost only if the whole
device loses power before the next checkpoint. ``power_safe=True`` selects
``synchronous=FULL`` (an fsync per commit) to close that gap too.

The totals (events, sealed bytes, events in flight) live *in the file*, kept
by triggers inside the same transaction as every insert, delete and lease,
so they are exact whichever process wrote the rows, can never go negative,
and survive a restart. The file also carries a random 16-byte ``file_id``
that the at-rest AAD binds every row to, and the same trigger keeps the
highest ``seq`` ever inserted (``hwm``): an insert must be above it, so a
sequence number is never handed out twice for a file, even after the queue
drains. (``AUTOINCREMENT`` would give the same promise for one more page
written per commit.) New files use 1 KiB pages: every commit rewrites a
few pages into the WAL, so small pages halve the bytes written per event.

Checkpoints run PASSIVE from a second connection (:meth:`QueueFile.checkpoint`,
called by the sender thread), so a ``record_*`` call never pays for one; a
large ``wal_autocheckpoint`` is only the backstop.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from n2net_privacy.errors import UploaderError
from n2net_privacy.redact import get_logger

__all__ = ["BUMP", "QueueFile"]

FORMAT_VERSION = 2
_EVENTS = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, blob BLOB NOT NULL, batch_id TEXT)"
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, lo INTEGER NOT NULL,"
    " hi INTEGER NOT NULL, owner TEXT, expires REAL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " events INTEGER NOT NULL, bytes INTEGER NOT NULL, in_flight INTEGER NOT NULL,"
    " hwm INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0, 0)",
    "INSERT OR IGNORE INTO meta VALUES ('file_id', randomblob(16))",
    "INSERT OR IGNORE INTO meta VALUES ('legacy_hi', 0)",
)
_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS events_ins AFTER INSERT ON events BEGIN"
    " UPDATE totals SET events = events + 1, bytes = bytes + length(NEW.blob),"
    " in_flight = in_flight + (NEW.batch_id IS NOT NULL), hwm = max(hwm, NEW.seq)"
    " WHERE id = 1; END",
    "CREATE TRIGGER IF NOT EXISTS events_del AFTER DELETE ON events BEGIN"
    " UPDATE totals SET events = events - 1, bytes = bytes - length(OLD.blob),"
    " in_flight = in_flight - (OLD.batch_id IS NOT NULL) WHERE id = 1; END",
    "CREATE TRIGGER IF NOT EXISTS events_lease AFTER UPDATE OF batch_id ON events BEGIN"
    " UPDATE totals SET in_flight = in_flight + (NEW.batch_id IS NOT NULL)"
    " - (OLD.batch_id IS NOT NULL) WHERE id = 1; END",
)
BUMP = (
    "INSERT INTO counters (name, value) VALUES (?, ?)"
    " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value"
)
_PAGE_SIZE = 1024
_AUTOCHECKPOINT_PAGES = 16000  # 16 MiB of 1 KiB pages
# Above the WAL's steady-state size (the sender checkpoints every 1,000 commits),
# so the costly truncation only follows an exceptional burst.
_JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024
_HANDOFF_S = 20e-6
"""A real sleep (the kernel makes it ~60 us): long enough for a waiting writer to run."""
# Connections inherited across fork. Closing one in the child could release the
# parent's locks or checkpoint under it (SQLite forbids using them across fork),
# so they are kept alive, unused, for the life of the process.
_ABANDONED: list[sqlite3.Connection] = []
_log = get_logger(__name__)


def _abandon(conn: sqlite3.Connection) -> None:
    """Keep an inherited connection alive for good, even through interpreter exit.

    If the child closed it (at exit, say), SQLite would believe it the last
    connection (POSIX locks do not cross fork) and could checkpoint and
    delete the WAL under the parent. An extra reference that nothing ever
    drops keeps it from ever being deallocated.
    """
    import ctypes  # only in a forked child, so not at import

    _ABANDONED.append(conn)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))


def _create_or_migrate(conn: sqlite3.Connection) -> None:
    """Bring a new (0) or format-1 file to format 2 in one transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == FORMAT_VERSION:
        return
    if version not in (0, 1):
        raise UploaderError(f"queue file format {version}, expected {FORMAT_VERSION}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process won?
        if version == 1:
            # Format 1 bound rows to "n2net/queue/v1:" + seq only; they keep that
            # AAD (seq <= legacy_hi), every new row gets the file-bound one.
            conn.execute("ALTER TABLE events RENAME TO events_v1")
            conn.execute("ALTER TABLE batches ADD COLUMN owner TEXT")
            conn.execute("ALTER TABLE batches ADD COLUMN expires REAL")
        if version in (0, 1):
            conn.execute(_EVENTS)
            for statement in (*_SCHEMA, *_TRIGGERS):
                conn.execute(statement)
        if version == 1:
            conn.execute("INSERT INTO events SELECT seq, blob, batch_id FROM events_v1")
            conn.execute(
                "UPDATE meta SET value = (SELECT coalesce(max(seq), 0) FROM events_v1)"
                " WHERE name = 'legacy_hi'"
            )
            conn.execute("DROP TABLE events_v1")
        conn.execute(f"PRAGMA user_version={FORMAT_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _Locked:
    """What :meth:`QueueFile.locked` returns: a plain class, not a generator.

    It is entered on every ``record_*``, where ``contextlib.contextmanager``
    would add about a microsecond. It keeps no state of its own, so threads
    may share it.
    """

    __slots__ = ("_file", "_lock")

    def __init__(self, lock: threading.Lock, file: QueueFile) -> None:
        self._lock = lock
        self._file = file

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            return self._file.db
        except BaseException:  # closed: nothing to hold the lock for
            self._lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


class QueueFile:
    """One SQLite file and the lock that serializes every use of its connection.

    Every use of the connection is inside ``with file.locked() as db:`` (and a
    :meth:`transaction` inside that); the lock itself stays in here, where the
    fork hooks and :meth:`yield_to_writer` need it. ``file_id`` and
    ``legacy_hi`` are read once at open (they never change).
    """

    def __init__(self, path: str | os.PathLike[str], *, power_safe: bool = False) -> None:
        self.path = Path(path)
        self._power_safe = power_safe
        self._lock = threading.Lock()
        self._locked = _Locked(self._lock, self)
        self._checkpoint_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self.file_id = b""
        self.legacy_hi = 0
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # SQLite gives -wal and -shm the main file's mode, so creating it 0600 covers all three.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        try:
            conn.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # a no-op once the file has pages
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise UploaderError("the queue needs SQLite WAL mode; this file system refuses it")
            conn.execute(f"PRAGMA synchronous={'FULL' if self._power_safe else 'NORMAL'}")
            conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={_JOURNAL_SIZE_LIMIT}")
            _create_or_migrate(conn)
            meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
            self.file_id = bytes(meta["file_id"])
            self.legacy_hi = int(meta["legacy_hi"])
        except sqlite3.Error as exc:
            conn.close()
            raise UploaderError(f"cannot open the queue file: {type(exc).__name__}") from exc
        except UploaderError:
            conn.close()
            raise
        self._conn = conn

    @property
    def db(self) -> sqlite3.Connection:
        """The connection; use it inside :meth:`locked` only."""
        if self._conn is None:
            raise UploaderError("the queue is closed")
        return self._conn

    def locked(self) -> _Locked:
        """``with file.locked() as db:``: the connection, with its lock held."""
        return self._locked

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

    def totals(self) -> tuple[int, int, int]:
        """(events, sealed bytes, in flight), exact across processes. Inside :meth:`locked`."""
        row = self.db.execute("SELECT events, bytes, in_flight FROM totals").fetchone()
        return max(int(row[0]), 0), max(int(row[1]), 0), max(int(row[2]), 0)

    def yield_to_writer(self) -> None:
        """From a long Python loop of the sender: let a ``record_*`` mid-write finish first.

        A writer holds the lock while SQLite runs without the GIL; when
        SQLite returns it needs the GIL back, which a busy sender would keep
        for up to ``sys.getswitchinterval()`` (5 ms). ``sleep(0)`` is no
        handoff (the sender takes the GIL again before the woken writer
        runs), so the sender truly sleeps a moment, and only while a write
        is in progress: an idle phone's drain never pays for it.
        """
        if self._lock.locked():
            time.sleep(_HANDOFF_S)

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

    # -- fork ------------------------------------------------------------------

    def quiesce(self) -> None:
        """Before ``fork``: take both locks, so no thread is inside SQLite at the fork."""
        self._lock.acquire()
        self._checkpoint_lock.acquire()

    def resume(self) -> None:
        """After ``fork``, in the parent: give the locks back."""
        self._checkpoint_lock.release()
        self._lock.release()

    def after_fork(self) -> None:
        """In a forked child: fresh locks; the inherited connections are abandoned, not closed.

        The file is reopened lazily by :meth:`reopen` on first use in the child.
        """
        for conn in (self._conn, self._checkpointer):
            if conn is not None:
                _abandon(conn)
        self._lock = threading.Lock()
        self._locked = _Locked(self._lock, self)
        self._checkpoint_lock = threading.Lock()
        self._checkpointer = None

    def reopen(self) -> None:
        """In a forked child, before first use: a connection of its own."""
        self._conn = None
        self._open()

    def close(self) -> None:
        with self._lock, self._checkpoint_lock:
            for conn in (self._checkpointer, self._conn):
                if conn is not None:
                    conn.close()
            self._conn = self._checkpointer = None

    def bump(self, name: str, count: int = 1) -> None:
        """Add ``count`` to a persisted counter. Names never carry PII."""
        try:
            with self.locked() as db:
                db.execute(BUMP, (name, count))
        except sqlite3.Error as exc:
            _log.warning("counter update failed: %s", type(exc).__name__)

    def counters(self, prefix: str) -> dict[str, int]:
        """Counters whose name starts with ``prefix``, with the prefix stripped."""
        with self.locked() as db:
            rows = db.execute(
                "SELECT name, value FROM counters WHERE substr(name, 1, ?) = ? AND value > 0",
                (len(prefix), prefix),
            ).fetchall()
        return {name[len(prefix) :]: int(value) for name, value in rows}
