"""The batch-cut rule that the worker thread and the Locust kit's devices share."""

from __future__ import annotations

from n2net_privacy.uploader.linger import Linger


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
