"""The sender thread on a fake clock: linger from arrival, cuts, idle sleep, retries, stop.

Every test injects the shared :class:`~_support.FakeClock`: its monotonic
time moves only when the test says, and its ``wait(condition, timeout)``
ends when the SDK notifies the condition or when the test moves the clock
past its deadline, as the kernel would, so no test sleeps in real time and
each one sees one interleaving. Real-time bounds (``HANG_GUARD_S``) only
turn a hang into a failure; no assertion depends on them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _support import HANG_GUARD_S, FakeClock

from n2net_privacy.egress.policy import (
    EgressResponse,
    OutgoingRequest,
    RequestClient,
)
from n2net_privacy.runtime import Runtime
from n2net_privacy.uploader.send.sender import Sender, SenderConfig
from n2net_privacy.uploader.send.worker import SenderThread
from n2net_privacy.uploader.store.at_rest import AtRestKey
from n2net_privacy.uploader.store.queue import EventQueue
from n2net_privacy.uploader.wire import ServerKeyPair, WireEvent

KEYS = ServerKeyPair.generate()
NOW = datetime(2026, 3, 1, tzinfo=UTC)
WORKER = "n2net-uploader"  # the sender thread's name


class Client(RequestClient):
    """Answers each POST with the next of ``statuses`` (the last repeats).

    With a ``gate``, a request announces itself on ``entered`` and then
    waits for the gate, as a request on a slow network would.
    """

    def __init__(self, *statuses: int, gate: threading.Event | None = None) -> None:
        self.statuses = list(statuses or (200,))
        self.gate = gate
        self.entered = threading.Semaphore(0)
        self.batch_sizes: list[int] = []

    def send(self, request: OutgoingRequest) -> EgressResponse:
        self.entered.release()
        if self.gate is not None:
            assert self.gate.wait(HANG_GUARD_S)
        events = json.loads(KEYS.open(request.whole_content() or b""))["events"]
        self.batch_sizes.append(len(events))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        body = b'{"accepted": [], "duplicates": []}'
        return EgressResponse(status, {"retry-after": "30"}, body)

    def close(self) -> None:
        pass

    def wait_entered(self) -> None:
        assert self.entered.acquire(timeout=HANG_GUARD_S), "no request was made"


def payload(i: int) -> bytes:
    eid = f"00000000-0000-4000-8000-{i:012d}"
    return WireEvent.sms(eid, "+12015550123", NOW).model_dump_json(exclude_none=True).encode()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EventQueue]:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    yield queue
    queue.close()  # Python 3.13 reports an unclosed SQLite connection


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(start=0.0, wall=NOW, watch=WORKER)


def worker(queue: EventQueue, client: Client, fake: FakeClock, **config: object) -> SenderThread:
    runtime = Runtime(monotonic=fake.monotonic, wait=fake.wait)
    sender = Sender(
        queue, lambda: client, events_url="https://x/v1/events", app_key="a",
        server_key=KEYS.public, config=SenderConfig(**config),  # type: ignore[arg-type]
        runtime=runtime,
    )
    return SenderThread(sender, queue, runtime=runtime)


def add(queue: EventQueue, thread: SenderThread, n: int, start: int = 0) -> None:
    """What ``record_*`` does: commit the event, then tell the thread it arrived."""
    for i in range(start, start + n):
        queue.append(payload(i))
        thread.notify()


def started(thread: SenderThread, fake: FakeClock) -> SenderThread:
    thread.start()
    assert fake.wait_number(1) is None  # it looked, found nothing, and sleeps until told
    return thread


def stop(thread: SenderThread, fake: FakeClock) -> None:
    assert fake.drive(lambda: thread.stop(5.0))


def test_a_partial_batch_lingers_from_arrival_then_goes(
    queue: EventQueue, fake: FakeClock
) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=0.3), fake)
    add(queue, thread, 3)  # only the first arrival wakes the thread: it has a deadline now
    assert fake.wait_number(2) == pytest.approx(0.3)
    fake.advance(0.29)
    assert fake.waits_begun() == 2 and fake.wakeups[WORKER] == 1  # nothing woke it
    fake.advance(0.01)
    assert fake.wait_number(3) is None  # it sent, and sleeps until told again
    assert client.batch_sizes == [3]
    stop(thread, fake)


def test_flush_cuts_at_once(queue: EventQueue, fake: FakeClock) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=0.3), fake)
    add(queue, thread, 3)
    assert thread.flush(2.0) is True  # the worker's progress wakes flush; the clock stands
    assert client.batch_sizes == [3]
    assert fake.now == 0.0
    stop(thread, fake)


def test_events_that_arrive_during_a_request_linger_from_their_arrival(
    queue: EventQueue, fake: FakeClock
) -> None:
    # A thread that looks at the queue late (here: it was on the wire) must
    # still count the linger from when the events arrived, and the linger
    # restarts after each cut rather than riding on the first event's.
    gate = threading.Event()
    client = Client(gate=gate)
    thread = started(worker(queue, client, fake, linger_s=1.0, batch_max_events=50), fake)
    add(queue, thread, 3)
    assert fake.wait_number(2) == pytest.approx(1.0)
    fake.advance(1.0)
    client.wait_entered()  # the 3 are on the wire
    add(queue, thread, 2, start=3)  # record_* never waits for the request
    fake.advance(0.5)
    gate.set()
    # Back at t=1.5, it finds 2 events that arrived at t=1.0: 0.5 s left, not 1 s.
    assert fake.wait_number(3) == pytest.approx(0.5)
    assert client.batch_sizes == [3]
    fake.advance(0.5)
    assert fake.wait_number(4) is None
    assert client.batch_sizes == [3, 2]
    stop(thread, fake)


def test_a_full_batch_goes_without_waiting_for_linger(queue: EventQueue, fake: FakeClock) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=1.0, batch_max_events=5), fake)
    add(queue, thread, 1)  # the first arrival wakes it: it has a deadline now
    assert fake.wait_number(2) == pytest.approx(1.0)
    add(queue, thread, 4, start=1)  # the fifth wakes it again
    # The clock never moves, so only the count can have cut this batch.
    assert fake.wait_number(3) is None
    assert client.batch_sizes == [5]
    assert fake.now == 0.0
    stop(thread, fake)


def test_an_idle_sender_never_wakes(queue: EventQueue, fake: FakeClock) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=0.1), fake)
    fake.advance(24 * 3600.0)  # a day with nothing queued
    assert fake.wakeups.get(WORKER, 0) == 0
    add(queue, thread, 1)
    assert fake.wait_number(2) == pytest.approx(0.1)
    fake.advance(0.1)
    assert fake.wait_number(3) is None  # sent, then asleep until told: no tick
    assert client.batch_sizes == [1]
    woken = fake.wakeups[WORKER]
    fake.advance(24 * 3600.0)
    assert fake.wakeups[WORKER] == woken
    assert fake.waits[WORKER] == [None, pytest.approx(0.1), None]
    stop(thread, fake)


def test_a_scheduled_retry_wakes_it_exactly_once(queue: EventQueue, fake: FakeClock) -> None:
    client = Client(503, 200)  # Retry-After: 30
    thread = started(worker(queue, client, fake, linger_s=0), fake)
    add(queue, thread, 1)
    assert fake.wait_number(2) == pytest.approx(30.0)  # Retry-After wins over the backoff
    woken = fake.wakeups[WORKER]
    add(queue, thread, 1, start=1)  # arrivals do not cut a backoff short
    fake.advance(29.9)
    assert fake.wakeups[WORKER] == woken
    fake.advance(0.1)
    assert fake.wait_number(3) is None  # retried, then sent the newcomer, then idle
    assert fake.wakeups[WORKER] == woken + 1
    assert client.batch_sizes == [1, 1, 1]
    assert len(queue) == 0
    stop(thread, fake)


def test_new_server_keys_cut_a_backoff_short(queue: EventQueue, fake: FakeClock) -> None:
    client = Client(503, 200)
    thread = started(worker(queue, client, fake, linger_s=0), fake)
    add(queue, thread, 1)
    assert fake.wait_number(2) == pytest.approx(30.0)
    thread.kick()
    assert fake.wait_number(3) is None
    assert client.batch_sizes == [1, 1]
    assert fake.now == 0.0
    stop(thread, fake)


def test_flush_gives_up_at_its_timeout(queue: EventQueue, fake: FakeClock) -> None:
    gate = threading.Event()
    client = Client(gate=gate)
    thread = started(worker(queue, client, fake), fake)
    add(queue, thread, 2)
    # The worker hangs in the request, so only the caller's waits let time pass.
    assert fake.drive(lambda: thread.flush(0.2), quiet=()) is False
    assert fake.now == pytest.approx(0.2)
    gate.set()
    assert thread.flush(5.0) is True
    stop(thread, fake)


def test_stop_never_waits_past_its_timeout_and_keeps_events(
    queue: EventQueue, fake: FakeClock
) -> None:
    gate = threading.Event()
    client = Client(gate=gate)
    thread = started(worker(queue, client, fake), fake)
    add(queue, thread, 2)
    # The worker is stuck in a request: stop gives up.
    assert fake.drive(lambda: thread.stop(0.3), quiet=()) is False
    assert fake.now == pytest.approx(0.3)
    assert len(queue) == 2  # nothing lost: it stays queued for the next start
    gate.set()  # the request returns; a second stop finds the thread and ends it
    stop(thread, fake)
    assert not thread.running


def test_a_worker_left_behind_releases_its_owners_file_when_its_request_ends(
    queue: EventQueue, fake: FakeClock
) -> None:
    """A close that gave up on a stuck request hands the file's release to the worker:
    the file closes when the request ends, not never (Python 3.13 reports a connection
    that is collected open), and not while the worker still uses it."""
    gate = threading.Event()
    client = Client(gate=gate)
    thread = started(worker(queue, client, fake), fake)
    add(queue, thread, 2)
    assert fake.drive(lambda: thread.stop(0.3), quiet=()) is False
    released = threading.Event()
    thread.after_exit(released.set)
    assert not released.is_set() and not queue.closed  # the worker is still in its request
    gate.set()
    assert released.wait(HANG_GUARD_S)  # the worker ran it on its way out
    assert not thread.running
    done = threading.Event()
    thread.after_exit(done.set)  # once it has exited: at once, on the caller's thread
    assert done.is_set()


def test_stop_cuts_a_backoff_wait_short(queue: EventQueue, fake: FakeClock) -> None:
    client = Client(503)  # Retry-After: 30
    thread = started(worker(queue, client, fake, linger_s=0), fake)
    add(queue, thread, 1)
    assert fake.wait_number(2) == pytest.approx(30.0)
    assert fake.drive(lambda: thread.stop(1.0)) is True
    assert fake.now < 30.0  # stopped without waiting out the backoff
    assert len(queue) == 1


def test_worker_survives_a_failing_step(queue: EventQueue, fake: FakeClock) -> None:
    thread = worker(queue, Client(), fake, backoff_base_s=0.05)
    queue.close()  # every step now raises
    thread.start()
    for n in (1, 2, 3):
        assert fake.wait_number(n) == pytest.approx(0.05)  # failed, backs off...
        fake.advance(0.05)  # ...and tries again
    assert thread.running
    stop(thread, fake)
    assert not thread.running
