"""The durable queue: sealed rows, lease/ack, split, dead letters, bounds and drops."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from n2net_privacy.errors import StorageError, UploaderError
from n2net_privacy.uploader._process import CrashPoint
from n2net_privacy.uploader.store.at_rest import AtRestKey
from n2net_privacy.uploader.store.drops import DropReason
from n2net_privacy.uploader.store.queue import EventQueue, QueueStats

KEY = AtRestKey(b"k" * 32)
BIG = 10**9


def payload(i: int) -> bytes:
    return b'{"event":%d,"secret":"SECRET-PAYLOAD"}' % i


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "queue.sqlite3"


_OPENED: list[EventQueue] = []


@pytest.fixture(autouse=True)
def _close_queues() -> Iterator[None]:
    """Close what a test opened: Python 3.13 reports an unclosed SQLite connection."""
    yield
    while _OPENED:
        _OPENED.pop().close()


def make(path: Path, **kwargs: object) -> EventQueue:
    queue = EventQueue(path, kwargs.pop("key", KEY), **kwargs)  # type: ignore[arg-type]
    _OPENED.append(queue)
    return queue


def drain(queue: EventQueue, max_events: int = 500) -> list[bytes]:
    out: list[bytes] = []
    while (batch := queue.next_batch(max_events, BIG)) is not None:
        out.extend(batch.payloads)
        queue.ack(batch.batch_id)
    return out


# -- the file ----------------------------------------------------------------


def test_file_is_wal_mode_0600_and_holds_no_plaintext(path: Path) -> None:
    queue = make(path)
    for i in range(20):
        queue.append(payload(i))
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert {p.name for p in files} >= {path.name, path.name + "-wal", path.name + "-shm"}
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        assert b"SECRET-PAYLOAD" not in file.read_bytes()
        assert b'"event":' not in file.read_bytes()
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    queue.close()
    assert queue.closed


def test_appended_events_survive_reopen_in_order(path: Path) -> None:
    queue = make(path)
    seqs = [queue.append(payload(i)) for i in range(7)]
    assert seqs == sorted(seqs)
    queue.close()
    reopened = make(path)
    assert len(reopened) == 7
    assert drain(reopened, max_events=3) == [payload(i) for i in range(7)]
    assert reopened.stats() == QueueStats(0, 0, 0)


def test_wrong_format_version_is_refused(path: Path) -> None:
    make(path).close()
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("PRAGMA user_version=99")
    with pytest.raises(UploaderError, match="format 99"):
        make(path)


def test_closed_queue_refuses_use(path: Path) -> None:
    queue = make(path)
    queue.close()
    with pytest.raises(UploaderError, match="closed"):
        queue.next_batch(10, BIG)


# -- lease and ack -----------------------------------------------------------


def test_a_leased_batch_comes_back_until_acked_even_after_restart(path: Path) -> None:
    queue = make(path)
    for i in range(5):
        queue.append(payload(i))
    first = queue.next_batch(3, BIG)
    assert first is not None
    assert first.payloads == tuple(payload(i) for i in range(3))
    assert queue.stats().in_flight == 3
    assert queue.free_events() == 2
    again = queue.next_batch(3, BIG)
    assert again == first  # same id: the same Idempotency-Key on every retry
    queue.close()
    reopened = make(path)
    assert reopened.next_batch(3, BIG) == first
    assert reopened.ack(first.batch_id) == 3
    rest = reopened.next_batch(3, BIG)
    assert rest is not None
    assert rest.batch_id != first.batch_id
    assert rest.payloads == (payload(3), payload(4))


def test_lease_new_false_only_resumes(path: Path) -> None:
    queue = make(path)
    queue.append(payload(0))
    assert queue.next_batch(10, BIG, lease_new=False) is None
    batch = queue.next_batch(10, BIG)
    assert queue.next_batch(10, BIG, lease_new=False) == batch


def test_lease_respects_the_byte_budget_but_takes_at_least_one(path: Path) -> None:
    queue = make(path)
    for i in range(5):
        queue.append(payload(i))
    size = len(payload(0)) + 1  # each payload plus one separator
    batch = queue.next_batch(10, 2 * size)
    assert batch is not None
    assert len(batch) == 2
    queue.ack(batch.batch_id)
    tiny = queue.next_batch(10, 1)
    assert tiny is not None
    assert len(tiny) == 1


def test_ack_of_unknown_batch_is_harmless(path: Path) -> None:
    queue = make(path)
    queue.append(payload(0))
    assert queue.ack("no-such-batch") == 0
    assert len(queue) == 1


def test_crash_inside_lease_transaction_leaves_rows_free(path: Path) -> None:
    def crash(point: CrashPoint) -> None:
        if point is CrashPoint.LEASE_BEFORE_COMMIT:
            raise KeyboardInterrupt  # stands in for the process dying mid-transaction

    queue = make(path, crash_point=crash)
    queue.append(payload(0))
    with pytest.raises(KeyboardInterrupt):
        queue.next_batch(10, BIG)
    queue.close()
    reopened = make(path)
    assert reopened.stats() == QueueStats(1, reopened.stats().bytes, 0)
    assert drain(reopened) == [payload(0)]


def test_crash_inside_ack_transaction_keeps_the_batch(path: Path) -> None:
    armed = [True]

    def crash(point: CrashPoint) -> None:
        if point is CrashPoint.ACK_BEFORE_COMMIT and armed[0]:
            raise KeyboardInterrupt

    queue = make(path, crash_point=crash)
    queue.append(payload(0))
    batch = queue.next_batch(10, BIG)
    assert batch is not None
    with pytest.raises(KeyboardInterrupt):
        queue.ack(batch.batch_id)
    armed[0] = False
    queue.close()
    assert make(path).next_batch(10, BIG) == batch


# -- split and dead letters --------------------------------------------------


def test_split_makes_two_new_batches_in_order(path: Path) -> None:
    queue = make(path)
    for i in range(5):
        queue.append(payload(i))
    batch = queue.next_batch(5, BIG)
    assert batch is not None
    halves = queue.split(batch.batch_id)
    assert halves is not None
    assert batch.batch_id not in halves
    first = queue.next_batch(5, BIG)
    assert first is not None
    assert (first.batch_id, first.payloads) == (halves[0], (payload(0), payload(1)))
    queue.ack(first.batch_id)
    second = queue.next_batch(5, BIG)
    assert second is not None
    assert (second.batch_id, second.payloads) == (halves[1], tuple(payload(i) for i in (2, 3, 4)))


def test_split_of_a_single_event_is_refused(path: Path) -> None:
    queue = make(path)
    queue.append(payload(0))
    batch = queue.next_batch(5, BIG)
    assert batch is not None
    assert queue.split(batch.batch_id) is None
    assert queue.split("unknown") is None


def test_dead_letter_deletes_and_counts_by_reason(path: Path) -> None:
    queue = make(path)
    for i in range(4):
        queue.append(payload(i))
    batch = queue.next_batch(3, BIG)
    assert batch is not None
    assert queue.dead_letter(batch.batch_id, "http_422") == 3
    assert queue.dead_letter_counts() == {"http_422": 3}
    assert len(queue) == 1
    queue.close()
    assert make(path).dead_letter_counts() == {"http_422": 3}


# -- bounds and drops --------------------------------------------------------


def test_full_by_events_drops_the_oldest_free_event(path: Path) -> None:
    seen: list[tuple[DropReason, int]] = []
    queue = make(path, max_events=3, on_drop=lambda r, n: seen.append((r, n)))
    for i in range(5):
        assert queue.append(payload(i)) is not None
    assert len(queue) == 3
    assert seen == [(DropReason.MAX_EVENTS, 1), (DropReason.MAX_EVENTS, 1)]
    assert queue.dropped_counts() == {DropReason.MAX_EVENTS: 2}
    assert drain(queue) == [payload(2), payload(3), payload(4)]


def test_full_by_bytes_drops_enough_oldest_events(path: Path) -> None:
    row = len(payload(0)) + 28
    queue = make(path, max_bytes=3 * row)
    for i in range(3):
        queue.append(payload(i))
    queue.append(payload(3) + b"x" * row)  # needs two rows' room
    assert queue.dropped_counts() == {DropReason.MAX_BYTES: 2}
    assert queue.stats().bytes <= 3 * row
    assert drain(queue) == [payload(2), payload(3) + b"x" * row]


def test_when_everything_is_in_flight_the_newcomer_is_dropped(path: Path) -> None:
    seen: list[tuple[DropReason, int]] = []
    queue = make(path, max_events=2, on_drop=lambda r, n: seen.append((r, n)))
    queue.append(payload(0))
    queue.append(payload(1))
    batch = queue.next_batch(10, BIG)
    assert batch is not None
    assert queue.append(payload(2)) is None
    assert seen == [(DropReason.MAX_EVENTS, 1)]
    assert queue.next_batch(10, BIG) == batch  # the in-flight batch is untouched


def test_on_drop_that_raises_is_contained(path: Path) -> None:
    def boom(reason: DropReason, count: int) -> None:
        raise RuntimeError("app bug")

    queue = make(path, max_events=1, on_drop=boom)
    queue.append(payload(0))
    assert queue.append(payload(1)) is not None


def test_disk_full_is_a_storage_error_drop_not_an_exception(path: Path) -> None:
    seen: list[tuple[DropReason, int]] = []
    queue = make(path, on_drop=lambda r, n: seen.append((r, n)))
    queue.append(payload(0))
    pages = queue.file.db.execute("PRAGMA page_count").fetchone()[0]
    queue.file.db.execute(f"PRAGMA max_page_count={pages}")
    results = [queue.append(payload(i) * 50) for i in range(200)]
    assert None in results
    assert (DropReason.STORAGE_ERROR, 1) in seen


def test_disk_full_is_told_to_on_storage_error_naming_the_file(path: Path) -> None:
    errors: list[StorageError] = []

    def boom(error: StorageError) -> None:
        errors.append(error)
        raise RuntimeError("an app callback that raises is ignored")

    queue = make(path, on_storage_error=boom)
    queue.append(payload(0))
    pages = queue.file.db.execute("PRAGMA page_count").fetchone()[0]
    queue.file.db.execute(f"PRAGMA max_page_count={pages}")
    results = [queue.append(payload(i) * 50) for i in range(200)]
    assert results.count(None) == len(errors) > 0
    assert {error.path for error in errors} == {str(path)}
    assert "writing an event" in str(errors[0]) and "SECRET" not in str(errors[0])


def test_bad_bounds_are_refused(path: Path) -> None:
    with pytest.raises(UploaderError):
        make(path, max_events=0)


# -- at-rest integrity -------------------------------------------------------


def test_rows_under_another_key_are_dropped_as_undecryptable(path: Path) -> None:
    queue = make(path)
    for i in range(3):
        queue.append(payload(i))
    queue.close()
    seen: list[tuple[DropReason, int]] = []
    rekeyed = make(path, key=AtRestKey(b"z" * 32), on_drop=lambda r, n: seen.append((r, n)))
    assert rekeyed.next_batch(10, BIG) is None
    assert seen == [(DropReason.UNDECRYPTABLE, 3)]
    assert len(rekeyed) == 0


def test_swapped_rows_fail_authentication(path: Path) -> None:
    queue = make(path)
    queue.append(payload(0))
    queue.append(payload(1))
    queue.append(payload(2))
    queue.close()
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        (a,), (b,) = raw.execute("SELECT blob FROM events WHERE seq IN (1, 2) ORDER BY seq")
        raw.execute("UPDATE events SET blob = ? WHERE seq = 1", (b,))
        raw.execute("UPDATE events SET blob = ? WHERE seq = 2", (a,))
    reopened = make(path)
    assert drain(reopened) == [payload(2)]
    assert reopened.dropped_counts() == {DropReason.UNDECRYPTABLE: 2}


def test_a_batch_that_lost_rows_resumes_under_a_new_id(path: Path) -> None:
    queue = make(path)
    for i in range(3):
        queue.append(payload(i))
    batch = queue.next_batch(10, BIG)
    assert batch is not None
    queue.close()
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("UPDATE events SET blob = x'00' WHERE seq = 2")
    reopened = make(path)
    resumed = reopened.next_batch(10, BIG)
    assert resumed is not None
    assert resumed.batch_id != batch.batch_id  # content changed: never the old key
    assert resumed.payloads == (payload(0), payload(2))


# -- concurrency and fork ----------------------------------------------------


def test_concurrent_appends_and_acks_lose_nothing(path: Path) -> None:
    queue = make(path)
    done = threading.Event()
    delivered: list[bytes] = []

    def writer(base: int) -> None:
        for i in range(200):
            assert queue.append(payload(base + i)) is not None

    def sender() -> None:
        while not done.is_set() or len(queue):
            batch = queue.next_batch(50, BIG)
            if batch is not None:
                delivered.extend(batch.payloads)
                queue.ack(batch.batch_id)

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    consumer = threading.Thread(target=sender)
    consumer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    consumer.join()
    assert sorted(delivered) == sorted(payload(k * 1000 + i) for k in range(4) for i in range(200))


def test_after_fork_reopens_and_keeps_working(path: Path) -> None:
    queue = make(path)
    queue.append(payload(0))
    owner = queue.owner
    queue.after_fork()  # in-process stand-in: the real fork is covered in test_fork
    queue.reopen()
    assert queue.owner != owner  # a child is a new lease owner
    queue.append(payload(1))
    assert drain(queue) == [payload(0), payload(1)]


def test_checkpoint_shrinks_nothing_but_never_fails(path: Path) -> None:
    queue = make(path)
    for i in range(50):
        queue.append(payload(i))
    queue.file.checkpoint()
    assert queue.writes == 50
    drain(queue)
    queue.file.checkpoint()
    queue.close()
    queue.file.checkpoint()  # closed: a no-op


# -- a model-based check of the whole state machine ---------------------------


class QueueMachine(RuleBasedStateMachine):
    """Whatever the interleaving, the queue delivers exactly what it accepted, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"qm-{os.getpid()}-{id(self)}"
        self.dir.mkdir(parents=True)
        self.queue = make(self.dir / "q.sqlite3")
        self.expected: list[bytes] = []
        self.delivered: list[bytes] = []
        self.n = 0

    @rule(count=st.integers(1, 5))
    def append(self, count: int) -> None:
        for _ in range(count):
            self.queue.append(payload(self.n))
            self.expected.append(payload(self.n))
            self.n += 1

    @rule(size=st.integers(1, 6))
    def deliver(self, size: int) -> None:
        batch = self.queue.next_batch(size, BIG)
        if batch is not None:
            self.delivered.extend(batch.payloads)
            self.queue.ack(batch.batch_id)

    @rule(size=st.integers(2, 6))
    def split(self, size: int) -> None:
        batch = self.queue.next_batch(size, BIG)
        if batch is not None:
            self.queue.split(batch.batch_id)

    @rule()
    def reopen(self) -> None:
        self.queue.close()
        self.queue = make(self.dir / "q.sqlite3")

    @invariant()
    def nothing_lost_or_duplicated(self) -> None:
        assert self.delivered == self.expected[: len(self.delivered)]
        assert len(self.queue) == len(self.expected) - len(self.delivered)

    def teardown(self) -> None:
        self.queue.close()
        for file in self.dir.iterdir():
            file.unlink()
        self.dir.rmdir()


TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = settings(
    max_examples=25, stateful_step_count=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_the_sender_steps_aside_only_while_a_write_is_in_progress(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sender's long loops (opening a leased batch, checking payloads) call
    # yield_to_writer between chunks. A record_* mid-write holds the file lock and
    # needs the GIL back when SQLite returns: the sender must truly sleep then
    # (sleep(0) hands nothing over), and must not slow an idle drain otherwise.
    from n2net_privacy.uploader.store import file as storage

    queue = make(path)
    for i in range(40):
        queue.append(payload(i))
    sleeps: list[float] = []
    monkeypatch.setattr(storage.time, "sleep", sleeps.append)
    batch = queue.next_batch(40, 1 << 20, lease_new=True)
    assert batch is not None and len(batch.seqs) == 40
    assert sleeps == []  # nobody writing: the drain runs at full speed

    writing = threading.Event()
    done = threading.Event()

    def writer() -> None:
        with queue.file.locked():  # what append holds around its INSERT
            writing.set()
            done.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(5)
        queue.file.yield_to_writer()
        queue.file.yield_to_writer()
    finally:
        done.set()
        thread.join(5)
    assert sleeps == [storage._HANDOFF_S] * 2
    assert storage._HANDOFF_S > 0

    # After a restart the batch is resumed while this process holds the lock
    # itself: that is no writer, and the drain must not pause for it.
    sleeps.clear()
    queue.close()
    reopened = make(path)
    resumed = reopened.next_batch(40, 1 << 20, lease_new=False)
    assert resumed is not None and resumed.batch_id == batch.batch_id
    assert sleeps == []
