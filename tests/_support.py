"""The tests' shared fakes: one virtual clock, one polling helper, one recorder.

Every test that needs time injects a :class:`FakeClock` (through the
``fake_clock`` fixture of ``conftest.py``, or built directly when a test
wants another start). Time moves only when a test says so or when the code
under test sleeps or waits on it, so no test sleeps in real time and each
one sees one interleaving.

Real time appears in one way only: :data:`HANG_GUARD_S` bounds every wait,
so a hang becomes a failure. It is never a pass condition, and a busy
machine only makes it further away from mattering.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["HANG_GUARD_S", "WALL", "FakeClock", "Recorder", "wait_until"]

#: How long (real seconds) a test waits for something before calling it a hang.
HANG_GUARD_S = 30.0
#: The aware-UTC wall time a :class:`FakeClock` starts at, unless told otherwise.
WALL = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)
_RECHECK_S = 0.05
_POLL_S = 0.001
T = TypeVar("T")


def wait_until(
    predicate: Callable[[], bool], *, timeout: float = HANG_GUARD_S, interval: float = _POLL_S
) -> bool:
    """Poll ``predicate`` until it holds; False after ``timeout`` real seconds.

    For state that announces itself to nobody (a gate's waiter count, a
    child process). Use it as ``assert wait_until(...)``, as one does
    ``assert event.wait(...)``: the timeout is a hang guard, not a pass
    condition. Something that can notify should be waited on instead.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


class Recorder(list[T], Generic[T]):
    """A callback that records what it is called with, and that a test can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()

    def __call__(self, item: T) -> None:
        with self._changed:
            self.append(item)
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[list[T]], bool], timeout: float = HANG_GUARD_S
    ) -> bool:
        """True once ``predicate(self)`` holds; False only after the hang guard."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout=timeout)


@dataclass(eq=False)
class _Sleeper:
    thread: str
    deadline: float


class FakeClock:
    """Virtual time: one float ``now`` that moves only in :meth:`advance`, :meth:`sleep` and waits.

    Four views of it, to inject where the code asks for them:

    * ``clock()``: the aware-UTC :class:`~datetime.datetime` (``WALL`` plus
      the seconds elapsed);
    * ``monotonic()``, ``time()`` and the clock itself called: the float
      seconds (``start`` at first);
    * ``sleep(s)`` / ``async_sleep(s)``: record ``s`` in :attr:`sleeps` and
      advance by it;
    * ``wait(condition, timeout)``: the wait of a thread that holds
      ``condition``, as :meth:`threading.Condition.wait`. It ends when the
      code notifies ``condition`` or when the test moves the clock past its
      deadline, as the kernel would. :attr:`waits` lists each thread's
      timeouts, :attr:`wakeups` counts its returns, and :meth:`drive` moves
      time whenever every thread it watches is asleep. ``watch`` names the
      thread those helpers look at unless told another.
    """

    def __init__(
        self,
        start: float = 1_000_000.0,
        *,
        wall: dt.datetime = WALL,
        watch: str | None = None,
    ) -> None:
        self.now = start
        self.watch = watch
        self._start = start
        self._wall = wall
        self.sleeps: list[float] = []
        self.waits: dict[str, list[float | None]] = {}
        self.wakeups: dict[str, int] = {}
        self._sleepers: dict[_Sleeper, threading.Condition] = {}
        self._version = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    # -- reading -------------------------------------------------------------

    def __call__(self) -> float:
        return self.monotonic()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def time(self) -> float:
        """The float seconds, for code that takes epoch seconds."""
        return self.monotonic()

    def clock(self) -> dt.datetime:
        """The aware-UTC wall time now."""
        return self._wall + dt.timedelta(seconds=self.monotonic() - self._start)

    # -- moving --------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock; wake every wait whose deadline has come, and only those."""
        with self._lock:
            self.now += seconds
            due = {id(c): c for s, c in self._sleepers.items() if s.deadline <= self.now}
        for condition in due.values():
            with condition:
                condition.notify_all()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)

    # -- waiting threads -----------------------------------------------------

    def wait(self, condition: threading.Condition, timeout: float | None) -> bool:
        """Called with ``condition`` held, like :meth:`threading.Condition.wait`."""
        name = threading.current_thread().name
        with self._lock:
            self.waits.setdefault(name, []).append(timeout)
            sleeper = _Sleeper(name, float("inf") if timeout is None else self.now + timeout)
            self._sleepers[sleeper] = condition
            self._bump()
        try:
            # advance() needs ``condition`` to notify us, so it cannot miss this wait.
            if not condition.wait(HANG_GUARD_S):
                raise AssertionError(f"{name} waited {HANG_GUARD_S} s of real time: a hang")
        finally:
            with self._lock:
                del self._sleepers[sleeper]
                self.wakeups[name] = self.wakeups.get(name, 0) + 1
                self._bump()
        return True

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _watched(self, thread: str | None) -> str:
        name = thread or self.watch
        assert name is not None, "name the thread, or build the FakeClock with watch="
        return name

    def wait_number(self, n: int, thread: str | None = None) -> float | None:
        """Block until ``thread`` has begun its ``n``-th wait; return that wait's timeout."""
        thread = self._watched(thread)
        with self._changed:
            began = self._changed.wait_for(
                lambda: len(self.waits.get(thread, [])) >= n, HANG_GUARD_S
            )
            assert began, f"{thread} never began wait {n}: {self.waits.get(thread)}"
            return self.waits[thread][n - 1]

    def waits_begun(self, thread: str | None = None) -> int:
        thread = self._watched(thread)
        with self._lock:
            return len(self.waits.get(thread, []))

    def drive(self, call: Callable[[], T], *, quiet: tuple[str, ...] | None = None) -> T:
        """Run ``call`` on a thread, moving the clock to its next deadline whenever all wait.

        Time passes only while the caller and every thread in ``quiet`` are
        asleep, none of them notified yet: virtual time, as a simulator keeps
        it. (A thread deliberately stuck elsewhere, such as in a gated
        request, is left out of ``quiet``.) ``quiet`` is the watched thread
        unless told otherwise.
        """
        if quiet is None:
            quiet = () if self.watch is None else (self.watch,)
        result: list[T] = []

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
            # wait (a worker leaving on stop) changes the "all asleep" answer
            # without a bump. Only the hang guard is real time.
            with self._changed:
                changed = self._changed.wait_for(
                    lambda seen=seen: self._version != seen, _RECHECK_S  # type: ignore[misc]
                )
                if changed:
                    seen = self._version
                    quiet_since = time.monotonic()
                else:
                    assert time.monotonic() - quiet_since < HANG_GUARD_S, "nothing happened: a hang"
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
