"""The scripted user: queued answers, a fallback callable, held-open prompts."""

from __future__ import annotations

import threading

import pytest

from n2net_privacy.errors import PermissionModelError, UserScriptExhaustedError
from n2net_privacy.permissions.status import Permission, Platform
from n2net_privacy.simulation.prompt import Answer, Prompt, SelectContacts
from n2net_privacy.simulation.user import HoldOpen, ScriptedUser


def prompt(number: int = 1, *, picker: bool = False) -> Prompt:
    options = frozenset({Answer.GRANT, Answer.DENY})
    return Prompt(Platform.ANDROID, Permission.CONTACTS, options, number, picker=picker)


def test_answers_in_order_and_records_prompts() -> None:
    user = ScriptedUser([Answer.DENY, SelectContacts(["a"])])
    assert user.remaining == 2
    assert user(prompt(1)) == Answer.DENY
    assert user(prompt(2)) == SelectContacts(["a"])
    assert user.remaining == 0
    assert [p.number for p in user.prompts] == [1, 2]


@pytest.mark.parametrize(("picker", "what"), [(False, "dialog #3"), (True, "picker")])
def test_running_out_is_a_typed_error_naming_the_prompt(picker: bool, what: str) -> None:
    user = ScriptedUser()
    with pytest.raises(UserScriptExhaustedError, match=what) as caught:
        user(prompt(3, picker=picker))
    assert isinstance(caught.value, PermissionModelError)
    assert "contacts" in str(caught.value)


def test_queue_first_then_callable() -> None:
    seen: list[int] = []

    def respond(p: Prompt) -> Answer:
        seen.append(p.number)
        return Answer.GRANT

    user = ScriptedUser([Answer.DENY], respond=respond)
    assert [user(prompt(n)) for n in (1, 2, 3)] == [Answer.DENY, Answer.GRANT, Answer.GRANT]
    assert seen == [2, 3]


def test_always_and_push() -> None:
    assert ScriptedUser.always(Answer.DISMISS)(prompt()) == Answer.DISMISS
    user = ScriptedUser([Answer.DENY])
    user.push(Answer.GRANT, Answer.DISMISS)
    assert [user(prompt()) for _ in range(3)] == [Answer.DENY, Answer.GRANT, Answer.DISMISS]


def test_hold_open_waits_for_release() -> None:
    hold = HoldOpen(Answer.GRANT)
    user = ScriptedUser([hold])
    answers: list[object] = []
    thread = threading.Thread(target=lambda: answers.append(user(prompt())))
    thread.start()
    assert hold.wait_opened()
    thread.join(timeout=0.05)
    assert thread.is_alive() and answers == []
    hold.release()
    thread.join(timeout=5)
    assert answers == [Answer.GRANT]


def test_forgotten_hold_fails_instead_of_hanging() -> None:
    hold = HoldOpen(Answer.GRANT, timeout=0.01)
    with pytest.raises(PermissionModelError, match="not released"):
        ScriptedUser([hold])(prompt())
    assert hold.wait_opened(timeout=0)
