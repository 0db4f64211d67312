"""Faults the uploader must survive: key rotation, a poison batch, copied rows, shared files."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _support import FakeClock

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.egress.policy import (
    EgressResponse,
    OutgoingRequest,
    RequestClient,
)
from n2net_privacy.runtime import Runtime
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import Endpoint, UploaderEvents
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import Sender, SenderConfig, SendState, SendStatus
from n2net_privacy.uploader.store.at_rest import AtRestKey
from n2net_privacy.uploader.store.drops import DropReason
from n2net_privacy.uploader.store.file import QueueFile
from n2net_privacy.uploader.store.queue import EventQueue
from n2net_privacy.uploader.wire import ServerKeyPair, WireEvent

K1 = ServerKeyPair.generate(key_id="k1")
K2 = ServerKeyPair.generate(key_id="k2")
APP_KEY = "app-key-1"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
BIG = 1 << 20


def loopback() -> Egress:
    return Egress(
        EgressPolicy(allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)
    )


def payload(i: int) -> bytes:
    eid = f"00000000-0000-4000-8000-{i:012d}"
    return WireEvent.sms(eid, "+12015550123", NOW).model_dump_json(exclude_none=True).encode()


# -- key rotation --------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer(K1, app_key=APP_KEY) as running:
        yield running


def test_rotation_with_then_without_grace_loses_nothing(
    tmp_path: Path, server: IngestServer
) -> None:
    statuses: list[SendStatus] = []
    uploader = Uploader(
        Endpoint(server.url, APP_KEY, K1.public), tmp_path,
        key_store=FileKeyStore(tmp_path / "keys"), egress=loopback(), region="US",
        sending=SenderConfig(linger_s=0.0, backoff_cap_s=30.0),
        events=UploaderEvents(on_status=statuses.append), start=False,
    )
    recorded = [uploader.record_sms(f"+121555501{i:02d}").event_id for i in range(10)]
    server.rotate_key(K2, grace=True)  # both keys served: k1 uploads still go
    assert server.key_ids() == ("k1", "k2")
    assert uploader.sender.step() == 0.0
    assert server.count() == 10

    recorded += [uploader.record_sms(f"+121555502{i:02d}").event_id for i in range(10)]
    server.retire_key("k1")  # the grace period ends before the app learned of k2
    for _ in range(3):
        uploader.sender.step()
    assert uploader.dead_letter_counts() == {}  # never dead-lettered
    assert uploader.pending().events == 10  # still queued
    assert SendState.KEY_REJECTED in {s.state for s in statuses}
    assert server.count() == 10

    uploader.set_server_keys([K2.public])  # the app is given k2
    assert uploader.sender.step() == 0.0
    assert uploader.pending().events == 0
    assert {e.id for e in server.events()} == set(recorded)
    assert uploader.close(1)


def test_a_configured_next_key_takes_over_without_the_app_doing_anything(
    tmp_path: Path, server: IngestServer
) -> None:
    server.rotate_key(K2, grace=False)  # the server already moved on to k2 alone
    with Uploader(
        Endpoint(server.url, APP_KEY, [K1.public, K2.public]), tmp_path,
        key_store=FileKeyStore(tmp_path / "keys"), egress=loopback(), region="US", start=False,
    ) as uploader:
        uploader.record_sms("+12155550100")
        uploader.sender.step()  # 401 unknown_key_id under k1
        uploader.sender.step()  # the same batch, sealed to k2
        assert server.count() == 1
        assert [r.headers["n2net-key-id"] for r in server.requests()] == ["k1", "k2"]
        assert len({r.headers["idempotency-key"] for r in server.requests()}) == 1


def test_a_refused_app_key_holds_the_events(tmp_path: Path) -> None:
    with IngestServer(K1, app_key="another-key") as other:
        statuses: list[SendStatus] = []
        with Uploader(
            Endpoint(other.url, APP_KEY, K1.public), tmp_path,
            key_store=FileKeyStore(tmp_path / "keys"), egress=loopback(), region="US",
            events=UploaderEvents(on_status=statuses.append), start=False,
        ) as uploader:
            uploader.record_sms("+12155550100")
            assert uploader.sender.step() == 60.0
            assert [s.state for s in statuses] == [SendState.UNAUTHORIZED]
            assert uploader.pending().events == 1
            assert uploader.dead_letter_counts() == {}


# -- a poison batch --------------------------------------------------------------


class PoisonClient(RequestClient):
    """Answers 500 to every batch holding the poison event, 200 to the rest."""

    def __init__(self, poison: str) -> None:
        self.poison = poison
        self.delivered: list[str] = []
        self.posts = 0

    def send(self, request: OutgoingRequest) -> EgressResponse:
        self.posts += 1
        ids = [e["id"] for e in json.loads(K1.open(request.whole_content() or b""))["events"]]
        if self.poison in ids:
            return EgressResponse(500, {}, b'{"error": "internal"}')
        self.delivered.extend(ids)
        return EgressResponse(200, {}, json.dumps({"accepted": ids, "duplicates": []}).encode())

    def close(self) -> None:
        pass


def test_a_batch_answered_500_forever_does_not_block_the_1000_behind_it(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    for i in range(1100):
        queue.append(payload(i))
    poison = f"00000000-0000-4000-8000-{37:012d}"  # inside the first batch
    client = PoisonClient(poison)
    monotonic = FakeClock(0.0)
    statuses: list[SendStatus] = []
    sender = Sender(
        queue, lambda: client, events_url="http://127.0.0.1:9/v1/events", app_key="a",
        server_key=K1.public, config=SenderConfig(split_after_attempts=3, split_after_s=600),
        runtime=Runtime(clock=lambda: NOW, monotonic=monotonic, rng=random.Random(3)),
        on_status=statuses.append,
    )
    for _ in range(500):
        delay = sender.step()
        if delay is None:
            break
        monotonic.advance(delay)  # the worker's wait, without waiting
    assert len(queue) == 0
    assert len(client.delivered) == 1099 == len(set(client.delivered))
    assert poison not in client.delivered
    assert queue.dead_letter_counts() == {"retries_exhausted": 1}  # dead-lettered by event
    states = [s.state for s in statuses]
    assert SendState.SPLIT in states
    assert states.count(SendState.DEAD_LETTERED) == 1
    assert client.posts < 150
    queue.close()


def test_an_outage_is_not_mistaken_for_a_poison_batch(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    for i in range(20):
        queue.append(payload(i))
    monotonic = FakeClock(0.0)

    class Down(PoisonClient):
        def send(self, request: OutgoingRequest) -> EgressResponse:
            self.posts += 1
            return EgressResponse(500, {}, b"")

    client = Down("")
    sender = Sender(
        queue, lambda: client, events_url="http://127.0.0.1:9/v1/events", app_key="a",
        server_key=K1.public, config=SenderConfig(batch_max_events=5, split_after_attempts=2),
        runtime=Runtime(monotonic=monotonic, rng=random.Random(3)),
    )
    waits = []
    for _ in range(40):
        delay = sender.step()
        assert delay is not None
        waits.append(delay)
        monotonic.advance(delay)
    assert len(queue) == 20 and queue.dead_letter_counts() == {}  # nothing thrown away
    assert sum(waits) > 10  # and it backed off as a whole
    queue.close()


# -- rows bound to their file and seq --------------------------------------------


def rows(path: Path) -> list[tuple[int, bytes]]:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT seq, blob FROM events ORDER BY seq").fetchall()
    db.close()
    return found


def test_seq_never_restarts_after_a_drain(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    first = [queue.append(payload(i)) for i in range(3)]
    batch = queue.next_batch(10, BIG)
    assert batch is not None
    queue.ack(batch.batch_id)
    queue.close()
    reopened = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    later = reopened.append(payload(9))
    assert later is not None and later > max(s for s in first if s is not None)
    reopened.close()


def test_a_row_copied_from_before_a_drain_or_another_file_is_reported(tmp_path: Path) -> None:
    key = AtRestKey(b"k" * 32)  # the same key everywhere: only the binding can catch it
    drops: list[tuple[DropReason, int]] = []
    path = tmp_path / "q.sqlite3"
    queue = EventQueue(path, key, on_drop=lambda r, n: drops.append((r, n)))
    queue.append(payload(1))
    old_seq, old_blob = rows(path)[0]
    batch = queue.next_batch(10, BIG)
    assert batch is not None
    queue.ack(batch.batch_id)  # drained
    new_seq = queue.append(payload(2))
    other = EventQueue(tmp_path / "other.sqlite3", key)
    other.append(payload(3))
    _, other_blob = rows(tmp_path / "other.sqlite3")[0]
    other.close()
    queue.append(payload(4))
    with sqlite3.connect(path) as db:  # an attacker with write access to the file
        db.execute("UPDATE events SET blob = ? WHERE seq = ?", (old_blob, new_seq))
        db.execute("INSERT INTO events (seq, blob) VALUES (?, ?)", (new_seq + 5, other_blob))
    db.close()
    assert old_seq != new_seq
    batch = queue.next_batch(10, BIG)
    assert batch is not None and batch.payloads == (payload(4),)  # only the genuine row
    assert drops == [(DropReason.UNDECRYPTABLE, 2)]  # reported, not silently dropped
    assert queue.dropped_counts() == {DropReason.UNDECRYPTABLE: 2}
    queue.close()


# -- two processes on one file -----------------------------------------------------


def test_a_leased_batch_is_not_sent_by_a_second_owner_until_released(tmp_path: Path) -> None:
    wall = FakeClock(1000.0)
    key = AtRestKey(b"k" * 32)
    one = EventQueue(tmp_path / "q.sqlite3", key, lease_s=60, clock=wall.clock)
    two = EventQueue(tmp_path / "q.sqlite3", key, lease_s=60, clock=wall.clock)
    one.owner = f"{os.getppid()}:other"  # as if ``one`` lived in another, live process
    for i in range(4):
        one.append(payload(i))
    mine = one.next_batch(2, BIG)
    theirs = two.next_batch(2, BIG)
    assert mine is not None and theirs is not None
    assert set(mine.seqs).isdisjoint(theirs.seqs)  # never the same batch or rows
    assert two.next_batch(2, BIG) == theirs
    assert two.next_batch(2, BIG, lease_new=False) == theirs
    # one's lease expired: two may take it over, one may not renew it
    wall.advance(61)
    assert two.next_batch(10, BIG, skip=frozenset({theirs.batch_id})) == mine
    assert not one.renew(mine.batch_id)
    assert one.stats().events == two.stats().events == 4  # the truth, from the file
    one.close()
    two.close()


def test_a_lease_of_a_dead_process_or_a_reused_pid_is_taken_over_at_once(
    tmp_path: Path,
) -> None:
    key = AtRestKey(b"k" * 32)
    one = EventQueue(tmp_path / "q.sqlite3", key, lease_s=3600)
    one.append(payload(1))
    batch = one.next_batch(10, BIG)
    assert batch is not None
    one.close()
    with sqlite3.connect(tmp_path / "q.sqlite3") as db:
        # The owner crashed (no release at close) and its pid now belongs to us.
        db.execute("UPDATE batches SET owner = ?", (f"{os.getpid()}:crashed",))
    db.close()
    restarted = EventQueue(tmp_path / "q.sqlite3", key, lease_s=3600)
    assert restarted.next_batch(10, BIG) == batch  # no waiting out the hour-long lease
    restarted.close()


def test_a_format_1_file_is_migrated_and_its_rows_still_open(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    key = AtRestKey(b"k" * 32)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, blob BLOB NOT NULL, batch_id TEXT)"
        )
        db.execute(
            "CREATE TABLE batches (id TEXT PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL)"
        )
        db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        for seq in (1, 2):
            aad = b"n2net/queue/v1:" + seq.to_bytes(8, "big", signed=True)
            blob = key.seal(payload(seq), aad)
            db.execute("INSERT INTO events VALUES (?, ?, NULL)", (seq, blob))
        db.execute("PRAGMA user_version=1")
    db.close()
    queue = EventQueue(path, key)
    assert queue.stats().events == 2
    queue.append(payload(3))
    batch = queue.next_batch(10, BIG)
    assert batch is not None and batch.payloads == (payload(1), payload(2), payload(3))
    queue.close()
    file = QueueFile(path)
    assert file.legacy_hi == 2 and len(file.file_id) == 16
    file.close()
