"""The reference ingest server's storage: events deduplicated by id, in SQLite.

One connection behind one lock: a whole batch (dedup check, inserts and the
idempotency record) is one transaction, so concurrent POSTs of overlapping
batches still store each event id exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from n2net_privacy.uploader.wire import EventBatch, WireEvent

__all__ = ["EventStore", "StoreResult"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    number TEXT NOT NULL,
    at TEXT NOT NULL,
    duration_s INTEGER
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    digest BLOB NOT NULL,
    reply BLOB NOT NULL
);
"""
# Well under SQLite's host-parameter limit, whatever version is linked.
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class StoreResult:
    """What storing a batch produced: the reply body, or a key-reuse conflict."""

    reply: bytes
    replayed: bool = False
    conflict: bool = False


class EventStore:
    """Thread-safe SQLite storage of events and idempotency replies."""

    def __init__(self, db_path: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            ":memory:" if db_path is None else str(db_path),
            check_same_thread=False,
            isolation_level=None,
        )
        if db_path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def store(self, batch: EventBatch, *, idempotency_key: str, digest: bytes) -> StoreResult:
        """Store the batch's new events; replay the first reply for a repeated key.

        A key seen before with the same plaintext digest returns the stored
        reply unchanged; with a different digest it is a conflict and nothing
        is stored (as in the IETF Idempotency-Key draft).
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT digest, reply FROM idempotency WHERE key = ?", (idempotency_key,)
            ).fetchone()
            if row is not None:
                if bytes(row[0]) != digest:
                    return StoreResult(reply=b"", conflict=True)
                return StoreResult(reply=bytes(row[1]), replayed=True)
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                reply = self._insert(batch)
                self._conn.execute(
                    "INSERT INTO idempotency (key, digest, reply) VALUES (?, ?, ?)",
                    (idempotency_key, digest, reply),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return StoreResult(reply=reply)

    def _insert(self, batch: EventBatch) -> bytes:
        # One dump in pydantic-core is much cheaper than formatting per event.
        events: list[dict[str, Any]] = batch.model_dump(mode="json")["events"]
        ids = [event["id"] for event in events]
        known: set[str] = set()
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            known.update(
                row[0]
                for row in self._conn.execute(
                    f"SELECT id FROM events WHERE id IN ({marks})",  # noqa: S608 - only '?' marks
                    chunk,
                )
            )
        accepted: list[str] = []
        duplicates: list[str] = []
        rows: list[tuple[str, str, str, str, int | None]] = []
        for event in events:
            event_id = event["id"]
            if event_id in known:
                duplicates.append(event_id)
                continue
            known.add(event_id)
            accepted.append(event_id)
            rows.append(
                (event_id, event["type"], event["number"], event["at"], event["duration_s"])
            )
        self._conn.executemany(
            "INSERT INTO events (id, type, number, at, duration_s) VALUES (?, ?, ?, ?, ?)", rows
        )
        return json.dumps({"accepted": accepted, "duplicates": duplicates}).encode("utf-8")

    def events(self) -> tuple[WireEvent, ...]:
        """Every stored event, in the order it was first accepted."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, type, number, at, duration_s FROM events ORDER BY rowid"
            ).fetchall()
        return tuple(
            WireEvent.model_validate(
                {"id": id_, "type": type_, "number": number, "at": at}
                | ({} if duration is None else {"duration_s": duration})
            )
            for id_, type_, number, at, duration in rows
        )

    def count(self) -> int:
        """How many distinct events are stored."""
        with self._lock:
            (n,) = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
