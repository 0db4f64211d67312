"""The batch-cut rule that the worker thread and the Locust kit's devices share."""

from __future__ import annotations

import pytest

from n2net_privacy.uploader.send.decisions import Linger, Pacer


def test_nothing_waiting_never_cuts_even_when_asked() -> None:
    linger = Linger(batch_max_events=10, linger_s=1.0)
    assert linger.should_cut(0, now=5.0, at_once=True) is False
    assert linger.deadline() is None


def test_a_partial_batch_waits_for_its_linger_from_when_it_was_first_seen() -> None:
    linger = Linger(batch_max_events=10, linger_s=1.0)
    assert linger.should_cut(3, now=10.0) is False
    assert linger.deadline() == 11.0
    assert linger.should_cut(4, now=10.9) is False  # more events do not restart the clock
    assert linger.should_cut(4, now=11.0) is True


def test_a_full_batch_or_a_flush_cuts_at_once() -> None:
    assert Linger(batch_max_events=10, linger_s=1.0).should_cut(10, now=0.0) is True
    assert Linger(batch_max_events=10, linger_s=1.0).should_cut(1, now=0.0, at_once=True)


def test_after_a_cut_the_events_left_behind_linger_afresh() -> None:
    linger = Linger(batch_max_events=10, linger_s=1.0)
    linger.should_cut(3, now=0.0)
    assert linger.should_cut(3, now=1.0) is True
    linger.cut()
    # Two arrived while the batch was on the wire: they have not waited 1 s yet.
    assert linger.should_cut(2, now=1.2) is False
    assert linger.deadline() == 2.2


def test_the_queue_draining_to_empty_forgets_the_linger() -> None:
    linger = Linger(batch_max_events=10, linger_s=1.0)
    linger.should_cut(3, now=0.0)
    assert linger.should_cut(0, now=0.5) is False  # another process sent them
    assert linger.should_cut(1, now=5.0) is False  # a new event starts a new linger
    assert linger.deadline() == 6.0


def test_an_event_lingers_from_its_arrival_not_from_when_it_is_seen() -> None:
    linger = Linger(batch_max_events=10, linger_s=1.0)
    linger.arrived(2.0)
    linger.arrived(2.5)  # the oldest arrival sets the clock
    assert linger.deadline() == 3.0
    assert linger.should_cut(2, now=2.9) is False
    assert linger.should_cut(2, now=3.0) is True  # seen late, cut on time


# -- Pacer: when the sender thread must act ----------------------------------------


def idle_pacer(batch_max_events: int = 10, linger_s: float = 1.0) -> Pacer:
    """A pacer whose thread has looked at an empty queue and found nothing to do."""
    pacer = Pacer(batch_max_events, linger_s)
    assert pacer.timeout(0.0) == 0.0  # at start it looks at once (an earlier run's events)
    assert pacer.looking() is False
    assert pacer.looked(0, now=0.0) is False
    pacer.stepped(None, now=0.0)
    return pacer


def test_idle_means_no_deadline_at_all() -> None:
    pacer = idle_pacer()
    assert pacer.timeout(0.0) is None
    assert pacer.timeout(1e9) is None  # no tick, however long it sleeps


def test_only_the_first_arrival_and_the_one_that_fills_a_batch_wake_the_thread() -> None:
    pacer = idle_pacer(batch_max_events=3)
    assert [pacer.arrived(at) for at in (5.0, 5.1, 5.2)] == [True, False, True]
    assert pacer.timeout(5.2) == 0.0


def test_the_thread_sleeps_until_the_oldest_arrival_has_lingered() -> None:
    pacer = idle_pacer()
    pacer.arrived(5.0)
    pacer.arrived(5.5)
    assert pacer.timeout(5.5) == 0.5
    assert pacer.timeout(6.0) == 0.0
    assert pacer.looking() is False
    assert pacer.looked(2, now=6.0) is True
    pacer.stepped(0.0, now=6.1)  # delivered: look again at once
    assert pacer.timeout(6.1) == 0.0


def test_arrivals_during_a_request_linger_from_their_arrival() -> None:
    pacer = idle_pacer()
    pacer.arrived(0.0)
    assert pacer.looking() is False
    assert pacer.looked(1, now=1.0) is True  # cut: the request starts
    pacer.arrived(1.2)  # arrives while the batch is on the wire
    pacer.stepped(0.0, now=1.5)
    assert pacer.looking() is False
    assert pacer.looked(1, now=1.5) is False
    pacer.stepped(None, now=1.5)
    assert pacer.timeout(1.5) == pytest.approx(0.7)  # 2.2 - 1.5, not a full linger


def test_a_full_batch_counts_what_the_last_look_found() -> None:
    pacer = idle_pacer(batch_max_events=5)
    pacer.arrived(0.0)
    pacer.looking()
    assert pacer.looked(3, now=0.1) is False  # three wait (two from another process)
    pacer.stepped(None, now=0.1)
    assert pacer.arrived(0.2) is False
    assert pacer.arrived(0.3) is True  # the fifth
    assert pacer.timeout(0.3) == 0.0


def test_a_retry_is_the_only_deadline_and_arrivals_do_not_cut_it_short() -> None:
    pacer = idle_pacer()
    pacer.looking()
    pacer.stepped(30.0, now=1.0)
    assert pacer.timeout(1.0) == 30.0
    assert pacer.arrived(2.0) is False
    assert pacer.timeout(30.9) == pytest.approx(0.1)
    assert pacer.timeout(31.0) == 0.0


def test_a_kick_or_a_stop_cuts_a_retry_short() -> None:
    pacer = idle_pacer()
    pacer.stepped(30.0, now=0.0)
    pacer.kick()
    assert pacer.timeout(0.0) == 0.0
    pacer = idle_pacer()
    pacer.stepped(30.0, now=0.0)
    pacer.stop()
    assert pacer.timeout(0.0) == 0.0


def test_a_flush_cuts_a_lingering_batch_at_once() -> None:
    pacer = idle_pacer()
    pacer.arrived(0.0)
    pacer.flushing += 1
    pacer.flush()
    assert pacer.timeout(0.0) == 0.0
    assert pacer.looking() is True  # at once
    assert pacer.looked(1, now=0.0, at_once=True) is True
