"""The sender thread on a fake clock: linger from arrival, cuts, idle sleep, retries, stop.

Every test injects :class:`FakeTime`, a monotonic clock that moves only when
the test says and the ``wait(condition, timeout)`` that goes with it. A wait
ends when the SDK notifies the condition or when the test moves the clock
past its deadline, as the kernel would, so no test sleeps in real time and
each one sees one interleaving. Real-time bounds (``_SAFETY_S``) only turn a
hang into a failure; no assertion depends on them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from n2net_privacy.egress.policy import ClientRequest, EgressResponse, RequestClient
from n2net_privacy.runtime import Runtime
from n2net_privacy.uploader.send.sender import Sender, SenderConfig
from n2net_privacy.uploader.send.worker import SenderThread
from n2net_privacy.uploader.store.at_rest import AtRestKey
from n2net_privacy.uploader.store.queue import EventQueue
from n2net_privacy.uploader.wire import ServerKeyPair, WireEvent

KEYS = ServerKeyPair.generate()
NOW = datetime(2026, 3, 1, tzinfo=UTC)
WORKER = "n2net-uploader"  # the sender thread's name
_SAFETY_S = 20.0
_RECHECK_S = 0.05


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

    def send(self, request: ClientRequest) -> EgressResponse:
        self.entered.release()
        if self.gate is not None:
            assert self.gate.wait(_SAFETY_S)
        events = json.loads(KEYS.open(request.whole_content() or b""))["events"]
        self.batch_sizes.append(len(events))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        body = b'{"accepted": [], "duplicates": []}'
        return EgressResponse(status, {"retry-after": "30"}, body)

    def close(self) -> None:
        pass

    def wait_entered(self) -> None:
        assert self.entered.acquire(timeout=_SAFETY_S), "no request was made"


@dataclass(eq=False)
class _Sleeper:
    thread: str
    deadline: float


class FakeTime:
    """A monotonic clock that moves only in :meth:`advance`, and its ``wait``.

    ``sleeps[name]`` lists the timeout of every wait thread ``name`` began,
    and ``wakeups[name]`` counts the waits it came back from.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: dict[str, list[float | None]] = {}
        self.wakeups: dict[str, int] = {}
        self._sleepers: dict[_Sleeper, threading.Condition] = {}
        self._version = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        """Called with ``condition`` held, like :meth:`threading.Condition.wait`."""
        name = threading.current_thread().name
        with self._lock:
            self.sleeps.setdefault(name, []).append(timeout)
            sleeper = _Sleeper(name, float("inf") if timeout is None else self.now + timeout)
            self._sleepers[sleeper] = condition
            self._bump()
        try:
            # advance() needs ``condition`` to notify us, so it cannot miss this wait.
            if not condition.wait(_SAFETY_S):
                raise AssertionError(f"{name} waited {_SAFETY_S} s of real time: a hang")
        finally:
            with self._lock:
                del self._sleepers[sleeper]
                self.wakeups[name] = self.wakeups.get(name, 0) + 1
                self._bump()
        return True

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def advance(self, seconds: float) -> None:
        """Move the clock; wake every wait whose deadline has come, and only those."""
        with self._lock:
            self.now += seconds
            due = {id(c): c for s, c in self._sleepers.items() if s.deadline <= self.now}
        for condition in due.values():
            with condition:
                condition.notify_all()

    def sleep_number(self, n: int, thread: str = WORKER) -> float | None:
        """Block until ``thread`` has begun its ``n``-th wait; return that wait's timeout."""
        with self._changed:
            began = self._changed.wait_for(
                lambda: len(self.sleeps.get(thread, [])) >= n, _SAFETY_S
            )
            assert began, f"{thread} never began wait {n}: {self.sleeps.get(thread)}"
            return self.sleeps[thread][n - 1]

    def waits_begun(self, thread: str = WORKER) -> int:
        with self._lock:
            return len(self.sleeps.get(thread, []))

    def drive(
        self, call: Callable[[], bool], *, quiet: tuple[str, ...] = (WORKER,)
    ) -> bool:
        """Run ``call`` on a thread, moving the clock to its next deadline whenever all wait.

        Time passes only while the caller and every thread in ``quiet`` are
        asleep, none of them notified yet: virtual time, as a simulator keeps
        it. (A thread deliberately stuck elsewhere, such as in a gated
        request, is left out of ``quiet``.)
        """
        result: list[bool] = []

        def run() -> None:
            try:
                result.append(call())
            finally:
                with self._lock:
                    self._bump()

        runner = threading.Thread(target=run, name="caller")
        runner.start()
        seen = -1
        quiet_since = time.monotonic()
        while True:
            # Re-check every _RECHECK_S as well: a thread that ends after its last
            # wait (the worker leaving on stop) changes the "all asleep" answer
            # without a bump. Only the hang guard is real time.
            with self._changed:
                changed = self._changed.wait_for(
                    lambda seen=seen: self._version != seen, _RECHECK_S  # type: ignore[misc]
                )
                if changed:
                    seen = self._version
                    quiet_since = time.monotonic()
                else:
                    assert time.monotonic() - quiet_since < _SAFETY_S, "nothing happened: a hang"
            if not runner.is_alive():
                runner.join()
                assert result, "the call raised"
                return result[0]
            deadline = self._all_asleep_until("caller", quiet)
            if deadline is not None:
                self.advance(max(deadline - self.monotonic(), 0.0))

    def _all_asleep_until(self, name: str, quiet: tuple[str, ...]) -> float | None:
        """``name``'s deadline if it and ``quiet`` all wait un-notified; else None."""
        with self._lock:
            conditions = {id(c): c for c in self._sleepers.values()}
        for condition in conditions.values():
            with condition:  # every sleeper on it is inside wait(), or notified
                with self._lock:
                    mine = sum(c is condition for c in self._sleepers.values())
                # A notified waiter has left the condition's list (CPython's
                # threading.Condition) but not yet returned.
                if mine != len(condition._waiters):  # type: ignore[attr-defined]
                    return None
        with self._lock:
            asleep = {s.thread for s in self._sleepers}
            deadlines = [s.deadline for s in self._sleepers if s.thread == name]
        alive = {t.name for t in threading.enumerate()}
        if not deadlines or any(t in alive and t not in asleep for t in quiet):
            return None
        return min(deadlines)


def payload(i: int) -> bytes:
    eid = f"00000000-0000-4000-8000-{i:012d}"
    return WireEvent.sms(eid, "+12015550123", NOW).model_dump_json(exclude_none=True).encode()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EventQueue]:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    yield queue
    queue.close()  # Python 3.13 reports an unclosed SQLite connection


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def worker(queue: EventQueue, client: Client, fake: FakeTime, **config: object) -> SenderThread:
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


def started(thread: SenderThread, fake: FakeTime) -> SenderThread:
    thread.start()
    assert fake.sleep_number(1) is None  # it looked, found nothing, and sleeps until told
    return thread


def stop(thread: SenderThread, fake: FakeTime) -> None:
    assert fake.drive(lambda: thread.stop(5.0))


def test_a_partial_batch_lingers_from_arrival_then_goes(
    queue: EventQueue, fake: FakeTime
) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=0.3), fake)
    add(queue, thread, 3)  # only the first arrival wakes the thread: it has a deadline now
    assert fake.sleep_number(2) == pytest.approx(0.3)
    fake.advance(0.29)
    assert fake.waits_begun() == 2 and fake.wakeups[WORKER] == 1  # nothing woke it
    fake.advance(0.01)
    assert fake.sleep_number(3) is None  # it sent, and sleeps until told again
    assert client.batch_sizes == [3]
    stop(thread, fake)


def test_flush_cuts_at_once(queue: EventQueue, fake: FakeTime) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=0.3), fake)
    add(queue, thread, 3)
    assert thread.flush(2.0) is True  # the worker's progress wakes flush; the clock stands
    assert client.batch_sizes == [3]
    assert fake.now == 0.0
    stop(thread, fake)


def test_events_that_arrive_during_a_request_linger_from_their_arrival(
    queue: EventQueue, fake: FakeTime
) -> None:
    # A thread that looks at the queue late (here: it was on the wire) must
    # still count the linger from when the events arrived, and the linger
    # restarts after each cut rather than riding on the first event's.
    gate = threading.Event()
    client = Client(gate=gate)
    thread = started(worker(queue, client, fake, linger_s=1.0, batch_max_events=50), fake)
    add(queue, thread, 3)
    assert fake.sleep_number(2) == pytest.approx(1.0)
    fake.advance(1.0)
    client.wait_entered()  # the 3 are on the wire
    add(queue, thread, 2, start=3)  # record_* never waits for the request
    fake.advance(0.5)
    gate.set()
    # Back at t=1.5, it finds 2 events that arrived at t=1.0: 0.5 s left, not 1 s.
    assert fake.sleep_number(3) == pytest.approx(0.5)
    assert client.batch_sizes == [3]
    fake.advance(0.5)
    assert fake.sleep_number(4) is None
    assert client.batch_sizes == [3, 2]
    stop(thread, fake)


def test_a_full_batch_goes_without_waiting_for_linger(queue: EventQueue, fake: FakeTime) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=1.0, batch_max_events=5), fake)
    add(queue, thread, 1)  # the first arrival wakes it: it has a deadline now
    assert fake.sleep_number(2) == pytest.approx(1.0)
    add(queue, thread, 4, start=1)  # the fifth wakes it again
    # The clock never moves, so only the count can have cut this batch.
    assert fake.sleep_number(3) is None
    assert client.batch_sizes == [5]
    assert fake.now == 0.0
    stop(thread, fake)


def test_an_idle_sender_never_wakes(queue: EventQueue, fake: FakeTime) -> None:
    client = Client()
    thread = started(worker(queue, client, fake, linger_s=0.1), fake)
    fake.advance(24 * 3600.0)  # a day with nothing queued
    assert fake.wakeups.get(WORKER, 0) == 0
    add(queue, thread, 1)
    assert fake.sleep_number(2) == pytest.approx(0.1)
    fake.advance(0.1)
    assert fake.sleep_number(3) is None  # sent, then asleep until told: no tick
    assert client.batch_sizes == [1]
    woken = fake.wakeups[WORKER]
    fake.advance(24 * 3600.0)
    assert fake.wakeups[WORKER] == woken
    assert fake.sleeps[WORKER] == [None, pytest.approx(0.1), None]
    stop(thread, fake)


def test_a_scheduled_retry_wakes_it_exactly_once(queue: EventQueue, fake: FakeTime) -> None:
    client = Client(503, 200)  # Retry-After: 30
    thread = started(worker(queue, client, fake, linger_s=0), fake)
    add(queue, thread, 1)
    assert fake.sleep_number(2) == pytest.approx(30.0)  # Retry-After wins over the backoff
    woken = fake.wakeups[WORKER]
    add(queue, thread, 1, start=1)  # arrivals do not cut a backoff short
    fake.advance(29.9)
    assert fake.wakeups[WORKER] == woken
    fake.advance(0.1)
    assert fake.sleep_number(3) is None  # retried, then sent the newcomer, then idle
    assert fake.wakeups[WORKER] == woken + 1
    assert client.batch_sizes == [1, 1, 1]
    assert len(queue) == 0
    stop(thread, fake)


def test_new_server_keys_cut_a_backoff_short(queue: EventQueue, fake: FakeTime) -> None:
    client = Client(503, 200)
    thread = started(worker(queue, client, fake, linger_s=0), fake)
    add(queue, thread, 1)
    assert fake.sleep_number(2) == pytest.approx(30.0)
    thread.kick()
    assert fake.sleep_number(3) is None
    assert client.batch_sizes == [1, 1]
    assert fake.now == 0.0
    stop(thread, fake)


def test_flush_gives_up_at_its_timeout(queue: EventQueue, fake: FakeTime) -> None:
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
    queue: EventQueue, fake: FakeTime
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


def test_stop_cuts_a_backoff_wait_short(queue: EventQueue, fake: FakeTime) -> None:
    client = Client(503)  # Retry-After: 30
    thread = started(worker(queue, client, fake, linger_s=0), fake)
    add(queue, thread, 1)
    assert fake.sleep_number(2) == pytest.approx(30.0)
    assert fake.drive(lambda: thread.stop(1.0)) is True
    assert fake.now < 30.0  # stopped without waiting out the backoff
    assert len(queue) == 1


def test_worker_survives_a_failing_step(queue: EventQueue, fake: FakeTime) -> None:
    thread = worker(queue, Client(), fake, backoff_base_s=0.05)
    queue.close()  # every step now raises
    thread.start()
    for n in (1, 2, 3):
        assert fake.sleep_number(n) == pytest.approx(0.05)  # failed, backs off...
        fake.advance(0.05)  # ...and tries again
    assert thread.running
    stop(thread, fake)
    assert not thread.running
