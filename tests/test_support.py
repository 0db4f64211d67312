"""The shared fakes of ``_support``: one virtual clock, one polling helper."""

from __future__ import annotations

import datetime as dt
import threading

from _support import WALL, FakeClock, Recorder, wait_until


def test_every_view_of_the_fake_clock_moves_together(fake_clock: FakeClock) -> None:
    start = fake_clock.monotonic()
    assert fake_clock.clock() == WALL and fake_clock.clock().tzinfo is dt.UTC
    fake_clock.advance(90.0)
    fake_clock.sleep(10.0)
    assert fake_clock() == fake_clock.time() == fake_clock.monotonic() == start + 100.0
    assert fake_clock.clock() == WALL + dt.timedelta(seconds=100)
    assert fake_clock.sleeps == [10.0]


def test_a_wait_ends_when_the_clock_passes_its_deadline_and_not_before() -> None:
    clock = FakeClock(0.0, watch="sleeper")
    condition = threading.Condition()
    woke: list[float] = []

    def sleeper() -> None:
        with condition:
            clock.wait(condition, 5.0)
        woke.append(clock.monotonic())

    thread = threading.Thread(target=sleeper, name="sleeper")
    thread.start()
    assert clock.wait_number(1) == 5.0
    clock.advance(4.9)
    assert clock.wakeups.get("sleeper", 0) == 0
    clock.advance(0.1)
    thread.join(30)
    assert woke == [5.0]


def test_drive_moves_time_only_while_everyone_waits() -> None:
    clock = FakeClock(0.0)
    condition = threading.Condition()

    def nap() -> str:
        with condition:
            clock.wait(condition, 3.0)
        return "rested"

    assert clock.drive(nap) == "rested"
    assert clock.monotonic() == 3.0


def test_wait_until_is_true_once_the_condition_holds_and_false_on_a_hang() -> None:
    flag = threading.Event()
    threading.Timer(0.0, flag.set).start()
    assert wait_until(flag.is_set)
    assert wait_until(lambda: False, timeout=0.01) is False


def test_a_recorder_records_and_can_be_waited_on() -> None:
    seen: Recorder[int] = Recorder()
    threading.Thread(target=seen, args=(7,)).start()
    assert seen.wait_for(lambda items: items == [7])
