"""The system prompt: what it offers, what the user answered, one on screen at a time.

A provider describes each dialog it would show as a :class:`Prompt` and hands
it to a *responder* (a :class:`~n2net_privacy.simulation.user.ScriptedUser`
in tests and the demo). The responder returns an :data:`PromptAnswer`; the
provider checks with :func:`ensure_offered` that the platform offers that
choice before applying it.

:class:`PromptGate` enforces the platform rule that only one system prompt is
open at a time: a request made while a prompt for the same permission is on
screen waits for that prompt's answer and returns it, without a second dialog.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar, cast

from n2net_privacy.errors import InvalidArgumentTypeError, InvalidTransitionError
from n2net_privacy.permissions.status import Permission, Platform

__all__ = [
    "Answer",
    "Prompt",
    "PromptAnswer",
    "PromptGate",
    "Responder",
    "SelectContacts",
    "answer_kind",
    "ensure_offered",
]

T = TypeVar("T")


class Answer(StrEnum):
    """A choice on a system prompt. Which ones a prompt offers depends on the platform."""

    GRANT = "grant"
    DENY = "deny"
    #: Android 6-10, from the second dialog on: the "Don't ask again" checkbox.
    DENY_DONT_ASK_AGAIN = "deny_dont_ask_again"
    #: Android: back button or a tap outside. Not a denial.
    DISMISS = "dismiss"
    #: iOS 18+: share only chosen contacts. Answer with :class:`SelectContacts`.
    SELECT = "select"


@dataclass(frozen=True, slots=True, init=False)
class SelectContacts:
    """The iOS 18+ answer "select contacts": limited access to these contact ids.

    >>> SelectContacts(["c1", "c2"]).ids == frozenset({"c1", "c2"})
    True
    """

    ids: frozenset[str]

    def __init__(self, ids: Iterable[str] = ()) -> None:
        if isinstance(ids, str):
            # A bare string would silently become a set of characters.
            raise InvalidArgumentTypeError(
                "SelectContacts takes an iterable of contact ids, not one string"
            )
        object.__setattr__(self, "ids", frozenset(ids))


PromptAnswer = Answer | SelectContacts


def answer_kind(answer: PromptAnswer) -> Answer:
    """The :class:`Answer` an answer stands for (``SELECT`` for :class:`SelectContacts`)."""
    return Answer.SELECT if isinstance(answer, SelectContacts) else Answer(answer)


@dataclass(frozen=True, slots=True)
class Prompt:
    """One system dialog (or iOS contact picker) as the user sees it."""

    platform: Platform
    permission: Permission
    options: frozenset[Answer]
    #: 1 for the first dialog (or picker) this provider has shown; counts every one.
    number: int
    #: iOS: the app's usage description shown in the alert; None on Android.
    message: str | None = None
    #: True for the iOS 18 contact-access picker, which edits the limited selection.
    picker: bool = False
    #: The picker only: the contact ids selected when it opened. The answer
    #: (:class:`SelectContacts`) is the whole new selection, so a responder
    #: adds with ``SelectContacts(prompt.selected | {...})`` and removes with ``-``.
    selected: frozenset[str] = frozenset()


Responder = Callable[[Prompt], PromptAnswer]


def ensure_offered(prompt: Prompt, answer: object) -> Answer:
    """Return the answer's kind, or raise if the prompt does not offer it."""
    if not isinstance(answer, Answer | SelectContacts):
        raise InvalidTransitionError(f"{type(answer).__name__} is not an answer to a prompt")
    kind = answer_kind(answer)
    if kind not in prompt.options:
        offered = ", ".join(sorted(prompt.options))
        what = "picker" if prompt.picker else f"dialog #{prompt.number}"
        raise InvalidTransitionError(
            f"the {prompt.platform} {what} for {prompt.permission} does not offer "
            f"{kind!s}; it offers: {offered}"
        )
    return kind


class _Outcome:
    """What the prompt a caller is waiting on ended with."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: object = None
        self.error: BaseException | None = None


class PromptGate:
    """One system prompt on screen at a time; concurrent askers share its answer.

    ``run(key, show)`` calls ``show`` unless a prompt for the same ``key`` is
    already open, in which case it waits for that prompt and returns its result
    (or raises its error). Prompts for different keys take turns.

    >>> gate = PromptGate()
    >>> gate.run("contacts", lambda: "granted")
    'granted'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._screen = threading.Lock()
        self._open: dict[Hashable, _Outcome] = {}
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many callers are waiting on a prompt someone else opened."""
        with self._lock:
            return self._waiting

    def run(self, key: Hashable, show: Callable[[], T]) -> T:
        with self._lock:
            outcome = self._open.get(key)
            leader = outcome is None
            if outcome is None:
                outcome = self._open[key] = _Outcome()
            else:
                self._waiting += 1
        if not leader:
            # One key is only ever run with one kind of ``show``, so the type holds.
            return cast(T, self._join(outcome))
        try:
            with self._screen:
                value = show()
        except BaseException as exc:
            outcome.error = exc
            raise
        else:
            outcome.value = value
            return value
        finally:
            with self._lock:
                del self._open[key]
            outcome.done.set()

    def _join(self, outcome: _Outcome) -> object:
        try:
            outcome.done.wait()
        finally:
            with self._lock:
                self._waiting -= 1
        if outcome.error is not None:
            raise outcome.error
        return outcome.value
