"""The reference server's SQLite store: exactly once per id, under threads and restarts."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from n2net_privacy.testing.servers.ingest_store import EventStore
from n2net_privacy.uploader.wire import EventBatch, WireEvent

AT = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def stores() -> Iterator[Callable[[], EventStore]]:
    """In-memory stores, closed after the test (3.13 reports unclosed SQLite)."""
    made: list[EventStore] = []

    def make() -> EventStore:
        made.append(EventStore())
        return made[-1]

    yield make
    for store in made:
        store.close()


def batch(evs: list[WireEvent]) -> EventBatch:
    return EventBatch.of(evs)


def test_events_come_back_as_sent_in_arrival_order(
    stores: Callable[[], EventStore],
) -> None:
    store = stores()
    sent = [
        WireEvent.sms(uuid.uuid4(), "+12025550143", AT),
        WireEvent.call(uuid.uuid4(), "+12025550144", AT, 61),
    ]
    store.store(batch(sent), idempotency_key="b1", digest=b"d1")
    assert store.events() == tuple(sent)
    assert store.count() == 2


def test_a_large_batch_is_deduplicated_beyond_one_in_chunk(
    stores: Callable[[], EventStore],
) -> None:
    store = stores()
    evs = [WireEvent.sms(uuid.uuid4(), "+12025550143", AT) for _ in range(1200)]
    store.store(batch(evs[:700]), idempotency_key="b1", digest=b"d1")
    result = store.store(batch(evs), idempotency_key="b2", digest=b"d2")
    reply = json.loads(result.reply)
    assert len(reply["duplicates"]) == 700
    assert len(reply["accepted"]) == 500
    assert store.count() == 1200


def test_concurrent_overlapping_batches_store_each_id_once(
    stores: Callable[[], EventStore],
) -> None:
    store = stores()
    pool = [WireEvent.sms(uuid.uuid4(), "+12025550143", AT) for _ in range(200)]
    accepted: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for round_ in range(10):
            chunk = pool[(n * 7 + round_ * 13) % 150 :][:50]
            result = store.store(batch(chunk), idempotency_key=f"{n}-{round_}", digest=b"d")
            with lock:
                accepted.extend(json.loads(result.reply)["accepted"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == len(set(accepted))
    assert store.count() == len(set(accepted))
    assert len({event.id for event in store.events()}) == store.count()


def test_events_and_idempotency_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "ingest.sqlite3"
    evs = [WireEvent.sms(uuid.uuid4(), "+12025550143", AT)]
    first = EventStore(db)
    original = first.store(batch(evs), idempotency_key="b1", digest=b"d1")
    first.close()
    second = EventStore(db)
    replay = second.store(batch(evs), idempotency_key="b1", digest=b"d1")
    assert second.count() == 1
    assert replay.replayed
    assert replay.reply == original.reply
    assert second.store(batch(evs), idempotency_key="b1", digest=b"other").conflict
    second.close()
