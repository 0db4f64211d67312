"""Prompt vocabulary and the one-prompt-at-a-time gate."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from _support import wait_until

from n2net_privacy.errors import InvalidTransitionError
from n2net_privacy.permissions.status import Permission, Platform
from n2net_privacy.simulation.prompt import (
    Answer,
    Prompt,
    PromptGate,
    SelectContacts,
    answer_kind,
    ensure_offered,
)


def test_select_contacts_normalizes_ids() -> None:
    answer = SelectContacts(["b", "a", "a"])
    assert answer.ids == frozenset({"a", "b"})
    assert answer == SelectContacts({"a", "b"})
    assert hash(answer) == hash(SelectContacts(("b", "a")))
    assert SelectContacts().ids == frozenset()


def test_select_contacts_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError):
        SelectContacts("abc")


@pytest.mark.parametrize(
    ("answer", "kind"),
    [(Answer.GRANT, Answer.GRANT), (SelectContacts(["x"]), Answer.SELECT),
     (Answer.DISMISS, Answer.DISMISS)],
)
def test_answer_kind(answer: Answer | SelectContacts, kind: Answer) -> None:
    assert answer_kind(answer) is kind


ANDROID_FIRST = Prompt(
    Platform.ANDROID, Permission.CONTACTS,
    frozenset({Answer.GRANT, Answer.DENY, Answer.DISMISS}), number=1,
)


def test_ensure_offered() -> None:
    assert ensure_offered(ANDROID_FIRST, Answer.DENY) is Answer.DENY
    with pytest.raises(InvalidTransitionError, match=r"dialog #1.*deny_dont_ask_again"):
        ensure_offered(ANDROID_FIRST, Answer.DENY_DONT_ASK_AGAIN)
    with pytest.raises(InvalidTransitionError, match="select"):
        ensure_offered(ANDROID_FIRST, SelectContacts(["a"]))
    with pytest.raises(InvalidTransitionError, match="not an answer"):
        ensure_offered(ANDROID_FIRST, "grant")


def test_gate_runs_each_prompt_when_none_is_open() -> None:
    gate = PromptGate()
    calls: list[str] = []

    def show() -> int:
        calls.append("shown")
        return len(calls)

    assert [gate.run("k", show) for _ in range(3)] == [1, 2, 3]
    assert gate.waiting == 0


def test_gate_shares_one_prompt_between_concurrent_askers() -> None:
    gate = PromptGate()
    opened, release = threading.Event(), threading.Event()
    shows: list[str] = []

    def show() -> str:
        shows.append("shown")
        opened.set()
        assert release.wait(5)
        return "answer"

    with ThreadPoolExecutor(max_workers=4) as pool:
        leader = pool.submit(gate.run, "contacts", show)
        assert opened.wait(5)
        joiners = [pool.submit(gate.run, "contacts", show) for _ in range(3)]
        assert wait_until(lambda: gate.waiting >= 3)
        release.set()
        results = [f.result(timeout=5) for f in [leader, *joiners]]
    assert results == ["answer"] * 4
    assert shows == ["shown"]
    assert gate.waiting == 0


def test_gate_hands_the_leaders_error_to_joiners() -> None:
    gate = PromptGate()
    opened, release = threading.Event(), threading.Event()

    def show() -> str:
        opened.set()
        assert release.wait(5)
        raise InvalidTransitionError("not offered")

    with ThreadPoolExecutor(max_workers=2) as pool:
        leader = pool.submit(gate.run, "k", show)
        assert opened.wait(5)
        joiner = pool.submit(gate.run, "k", show)
        assert wait_until(lambda: gate.waiting >= 1)
        release.set()
        for future in (leader, joiner):
            with pytest.raises(InvalidTransitionError):
                future.result(timeout=5)
    assert gate.run("k", lambda: "fresh") == "fresh"  # the failed prompt is gone


def test_gate_never_shows_two_prompts_at_once() -> None:
    gate = PromptGate()
    lock = threading.Lock()
    on_screen = peak = 0

    def show() -> None:
        nonlocal on_screen, peak
        with lock:
            on_screen += 1
            peak = max(peak, on_screen)
        time.sleep(0.002)
        with lock:
            on_screen -= 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        for future in [pool.submit(gate.run, f"key{n % 3}", show) for n in range(30)]:
            future.result(timeout=5)
    assert peak == 1
