"""The serial dispatcher: in ticket order, no lost wakeup, outside every lock, isolated."""

from __future__ import annotations

import threading

import pytest
from _support import HANG_GUARD_S

from n2net_privacy.consent import Dispatcher

WAIT = HANG_GUARD_S  # real seconds: turns a hang into a failure, never a pass condition


def test_a_change_handed_over_while_the_deliverer_finishes_is_delivered() -> None:
    """The lost-wakeup interleaving, forced deterministically.

    The deliverer has delivered its change and is about to look for more and
    give up its role. Another thread hands over a change at exactly that
    moment: it finds someone delivering and leaves. The change must still
    arrive, delivered by the deliverer.
    """
    paused, resume = threading.Event(), threading.Event()

    def checkpoint(point: str) -> None:
        if point == "delivered" and threading.current_thread().name == "deliverer":
            paused.set()
            assert resume.wait(WAIT)

    dispatcher: Dispatcher[str] = Dispatcher("test", checkpoint=checkpoint)
    seen: list[str] = []
    dispatcher.subscribe(seen.append)
    deliverer = threading.Thread(target=dispatcher.post, args=("first",), name="deliverer")
    deliverer.start()
    assert paused.wait(WAIT)
    dispatcher.post("second")  # returns at once: the deliverer owns the queue
    assert seen == ["first"]
    resume.set()
    deliverer.join(WAIT)
    assert not deliverer.is_alive()
    assert seen == ["first", "second"]
    dispatcher.post("third")  # and the role was given up: the next poster delivers
    assert seen == ["first", "second", "third"]


def test_changes_are_delivered_in_ticket_order_not_hand_over_order() -> None:
    dispatcher: Dispatcher[int] = Dispatcher("test")
    seen: list[int] = []
    dispatcher.subscribe(seen.append)
    first, second, third = dispatcher.reserve(), dispatcher.reserve(), dispatcher.reserve()
    dispatcher.fulfil(third, 3)
    dispatcher.fulfil(second, 2)
    assert seen == []  # the first change is not handed over yet
    dispatcher.fulfil(first, 1)
    assert seen == [1, 2, 3]


def test_a_ticket_without_a_change_lets_the_next_one_through() -> None:
    dispatcher: Dispatcher[int] = Dispatcher("test")
    seen: list[int] = []
    dispatcher.subscribe(seen.append)
    empty, full = dispatcher.reserve(), dispatcher.reserve()
    dispatcher.fulfil(full, 2)
    dispatcher.fulfil(empty, None)
    assert seen == [2]


def test_listeners_run_outside_every_lock_and_may_call_back() -> None:
    dispatcher: Dispatcher[int] = Dispatcher("test")
    seen: list[int] = []

    def reentrant(change: int) -> None:
        seen.append(change)
        if change < 3:
            dispatcher.post(change + 1)  # delivered after this listener returns
            assert seen[-1] == change
        dispatcher.subscribe(lambda _c: None)()  # subscribing from a listener never deadlocks

    dispatcher.subscribe(reentrant)
    dispatcher.post(1)
    assert seen == [1, 2, 3]


def test_a_listener_that_raises_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher: Dispatcher[str] = Dispatcher("test")
    seen: list[str] = []

    def broken(change: str) -> None:
        raise RuntimeError(f"secret {change}")

    dispatcher.subscribe(broken)
    dispatcher.subscribe(seen.append)
    dispatcher.post("ann@example.com")
    assert seen == ["ann@example.com"]
    assert "listener raised RuntimeError" in caplog.text
    assert "ann@example.com" not in caplog.text  # only the type is logged


def test_a_lazy_change_is_computed_in_turn_and_none_tells_nobody() -> None:
    dispatcher: Dispatcher[str] = Dispatcher("test")
    seen: list[str] = []
    state = ["a"]
    dispatcher.subscribe(seen.append)
    ticket = dispatcher.reserve()
    dispatcher.post_lazy(lambda: "".join(state))
    state.append("b")  # computed at delivery, after the earlier ticket
    dispatcher.post_lazy(lambda: None)
    dispatcher.fulfil(ticket, "first")
    assert seen == ["first", "ab"]


def test_unsubscribe_is_idempotent_and_clear_forgets_everyone() -> None:
    dispatcher: Dispatcher[int] = Dispatcher("test")
    seen: list[int] = []
    unsubscribe = dispatcher.subscribe(seen.append)
    dispatcher.post(1)
    unsubscribe()
    unsubscribe()
    dispatcher.post(2)
    dispatcher.subscribe(seen.append)
    dispatcher.clear()
    dispatcher.post(3)
    assert seen == [1]
    assert dispatcher.listener_count == 0


def test_many_threads_lose_nothing_and_keep_per_thread_order() -> None:
    dispatcher: Dispatcher[tuple[int, int]] = Dispatcher("test")
    seen: list[tuple[int, int]] = []
    dispatcher.subscribe(seen.append)
    start = threading.Barrier(4)

    def post(thread: int) -> None:
        start.wait(WAIT)
        for i in range(500):
            dispatcher.post((thread, i))

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(seen) == 2000
    for n in range(4):
        assert [i for t, i in seen if t == n] == list(range(500))


def test_a_waiting_hand_over_returns_only_once_its_change_is_delivered() -> None:
    """Another thread is delivering (stopped inside a listener) when a change is
    handed over with wait=True: the hand-over must block until it is delivered."""
    in_listener, release, waiting = threading.Event(), threading.Event(), threading.Event()

    def checkpoint(point: str) -> None:
        if point == "waiting" and threading.current_thread().name == "waiter":
            waiting.set()

    dispatcher: Dispatcher[str] = Dispatcher("test", checkpoint=checkpoint)
    seen: list[str] = []

    def slow(change: str) -> None:
        if change == "first":
            in_listener.set()
            assert release.wait(WAIT)
        seen.append(change)

    dispatcher.subscribe(slow)
    deliverer = threading.Thread(target=dispatcher.post, args=("first",), name="deliverer")
    deliverer.start()
    assert in_listener.wait(WAIT)
    seen_on_return: list[list[str]] = []

    def wait_for_second() -> None:
        dispatcher.post("second", wait=True)
        seen_on_return.append(list(seen))

    waiter = threading.Thread(target=wait_for_second, name="waiter")
    waiter.start()
    assert waiting.wait(WAIT)  # queued behind "first", and blocked
    assert seen_on_return == []
    release.set()
    waiter.join(WAIT)
    deliverer.join(WAIT)
    assert not waiter.is_alive() and not deliverer.is_alive()
    assert seen_on_return == [["first", "second"]]


def test_a_waiting_hand_over_inside_a_listener_does_not_wait_for_itself() -> None:
    dispatcher: Dispatcher[int] = Dispatcher("test")
    seen: list[int] = []

    def cascade(change: int) -> None:
        seen.append(change)
        if change < 3:
            dispatcher.post(change + 1, wait=True)  # delivered after this listener returns
            assert seen[-1] == change

    dispatcher.subscribe(cascade)
    dispatcher.post(1, wait=True)
    assert seen == [1, 2, 3]
