"""The sender thread: linger and count cuts, flush and stop timeouts, backoff waits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from n2net_privacy.egress_policy import EgressResponse
from n2net_privacy.uploader.keystore import AtRestKey
from n2net_privacy.uploader.queue import EventQueue
from n2net_privacy.uploader.sender import Sender, SenderConfig
from n2net_privacy.uploader.wire import ServerKeyPair, WireEvent
from n2net_privacy.uploader.worker import SenderThread

KEYS = ServerKeyPair.generate()
NOW = datetime(2026, 3, 1, tzinfo=UTC)


class Client:
    """Answers ``status`` to each POST, after waiting on ``gate`` if one is set."""

    def __init__(self, status: int = 200, gate: threading.Event | None = None) -> None:
        self.status = status
        self.gate = gate
        self.batch_sizes: list[int] = []
        self.sent_at: list[float] = []

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        if self.gate is not None:
            self.gate.wait(10)
        self.sent_at.append(time.monotonic())
        self.batch_sizes.append(len(json.loads(KEYS.open(content or b""))["events"]))
        body = b'{"accepted": [], "duplicates": []}'
        return EgressResponse(self.status, {"retry-after": "30"}, body)

    def close(self) -> None:
        pass


def payload(i: int) -> bytes:
    eid = f"00000000-0000-4000-8000-{i:012d}"
    return WireEvent.sms(eid, "+12015550123", NOW).model_dump_json(exclude_none=True).encode()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EventQueue]:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    yield queue
    queue.close()  # Python 3.13 reports an unclosed SQLite connection


class FakeClock:
    """A monotonic clock that moves only when told (``step`` per read, if set)."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step
        self.reads = 0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.reads += 1
            self.now += self.step
            return self.now


def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait for ``condition`` (bounded); the bound is a safety net, never the assertion."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def worker(
    queue: EventQueue,
    client: Client,
    sleep: object = None,
    clock: FakeClock | None = None,
    **config: object,
) -> SenderThread:
    sender = Sender(
        queue, lambda: client, events_url="https://x/v1/events", app_key="a",
        server_key=KEYS.public, config=SenderConfig(**config),  # type: ignore[arg-type]
    )
    return SenderThread(
        sender, queue, sleep=sleep, monotonic=clock or time.monotonic  # type: ignore[arg-type]
    )


def add(queue: EventQueue, thread: SenderThread, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        queue.append(payload(i))
        thread.notify()


def test_a_partial_batch_waits_for_linger(queue: EventQueue) -> None:
    clock = FakeClock()  # stands still unless advanced
    client = Client()
    thread = worker(queue, client, clock=clock, linger_s=0.3)
    thread.start()
    add(queue, thread, 3)
    assert thread.flush(2.0) is True  # flush cuts at once
    assert client.batch_sizes == [3]
    add(queue, thread, 2, start=3)
    reads = clock.reads
    assert until(lambda: clock.reads >= reads + 2)  # the worker looked, and...
    assert client.batch_sizes == [3]  # ...kept lingering: no linger_s has passed
    clock.now += 0.3
    thread.notify()
    assert until(lambda: client.batch_sizes == [3, 2])
    assert thread.stop(2.0)


def test_the_linger_restarts_after_each_cut(queue: EventQueue) -> None:
    # Under a steady stream, events arrive while a batch is on the wire. They
    # must linger (and fill a batch) too, not ride on the first event's linger.
    clock = FakeClock()
    gate = threading.Event()
    client = Client(gate=gate)
    thread = worker(queue, client, clock=clock, linger_s=1.0, batch_max_events=50)
    thread.start()
    add(queue, thread, 3)
    clock.now += 1.0
    thread.notify()
    assert until(lambda: queue.free_events() == 0)  # the 3 were leased (the request waits)
    add(queue, thread, 2, start=3)  # arrive while the batch is on the wire
    gate.set()
    assert until(lambda: client.batch_sizes == [3])
    reads = clock.reads
    thread.notify()
    assert until(lambda: clock.reads >= reads + 2)  # the worker looked, and...
    assert client.batch_sizes == [3]  # ...lingers: the 2 have not waited 1 s
    clock.now += 1.0
    thread.notify()
    assert until(lambda: client.batch_sizes == [3, 2])
    assert thread.stop(2.0)


def test_a_full_batch_goes_without_waiting_for_linger(queue: EventQueue) -> None:
    client = Client()
    thread = worker(queue, client, clock=FakeClock(), linger_s=1.0, batch_max_events=5)
    thread.start()
    add(queue, thread, 5)
    # The clock never moves, so only the count can have cut this batch.
    assert until(lambda: client.batch_sizes == [5])
    assert thread.stop(2.0)


def test_flush_gives_up_at_its_timeout(queue: EventQueue) -> None:
    gate = threading.Event()
    thread = worker(queue, Client(gate=gate), clock=FakeClock(step=0.05))
    thread.start()
    add(queue, thread, 2)
    assert thread.flush(0.2) is False  # the request hangs; the (injected) deadline passes
    gate.set()
    assert thread.flush(5.0) is True
    assert thread.stop(1.0)


def test_stop_never_waits_past_its_timeout_and_keeps_events(queue: EventQueue) -> None:
    gate = threading.Event()
    thread = worker(queue, Client(gate=gate), clock=FakeClock(step=0.05))
    thread.start()
    add(queue, thread, 2)
    assert thread.stop(0.3) is False  # the worker is stuck in a request: stop gives up
    assert len(queue) == 2  # nothing lost: it stays queued for the next start
    gate.set()


def test_stop_cuts_a_backoff_wait_short(queue: EventQueue) -> None:
    client = Client(status=503)  # Retry-After: 30
    thread = worker(queue, client, linger_s=0)
    thread.start()
    add(queue, thread, 1)
    assert until(lambda: bool(client.batch_sizes))
    # The worker now waits 30 s; stop succeeds within 1 s only if the wait is cut short.
    assert thread.stop(1.0) is True
    assert len(queue) == 1


def test_injected_sleep_receives_the_backoff(queue: EventQueue) -> None:
    waits: list[float] = []
    release = threading.Event()

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 3:
            release.wait(5)

    thread = worker(queue, Client(status=503), sleep=sleep, linger_s=0)
    thread.start()
    add(queue, thread, 1)
    deadline = time.monotonic() + 3
    while len(waits) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert waits[:3] == [30.0, 30.0, 30.0]  # Retry-After wins over the jittered backoff
    release.set()
    thread.stop(0.5)


def test_worker_survives_a_failing_step(queue: EventQueue) -> None:
    waits: list[float] = []
    thread = worker(queue, Client(), sleep=waits.append, backoff_base_s=0.05)
    queue.close()  # every step now raises
    thread.start()
    thread.notify()
    assert until(lambda: len(waits) >= 3)  # it failed, backed off, and tried again
    assert thread.running
    assert waits[:3] == [0.05, 0.05, 0.05]
    # A closed queue never drains, so stop() spends its budget flushing; on a busy
    # machine the join may then miss its share. What matters: the worker ends.
    thread.stop(1.0)
    assert until(lambda: not thread.running, timeout=10.0)
