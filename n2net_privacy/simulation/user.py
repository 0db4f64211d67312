"""A scriptable simulated user who answers system prompts.

Tests and the demo decide up front how each dialog is answered:

>>> from n2net_privacy.simulation.prompt import Answer, SelectContacts
>>> user = ScriptedUser([Answer.DENY, Answer.GRANT])
>>> limited = ScriptedUser([SelectContacts(["c1", "c2"])])
>>> patient = ScriptedUser.always(Answer.GRANT)

The iOS 18 contact-access picker opens on the current selection
(``prompt.selected``) and its answer is the whole new selection, so a user who
adds one contact and removes another answers:

>>> editor = ScriptedUser(
...     respond=lambda prompt: SelectContacts((prompt.selected | {"c3"}) - {"c1"})
... )

The user only *chooses*; whether the platform offers that choice is the
provider's call, which raises :class:`~n2net_privacy.errors.InvalidTransitionError`
for an option the dialog does not have. Settings changes are made on the
provider itself (``settings_grant()``, ``settings_revoke()``, ...), from any
thread, at any moment.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from n2net_privacy.checks import require_type
from n2net_privacy.errors import (
    InvalidArgumentTypeError,
    PermissionModelError,
    UserScriptExhaustedError,
)
from n2net_privacy.simulation.prompt import Prompt, PromptAnswer, Responder

__all__ = ["HoldOpen", "ScriptItem", "ScriptedUser"]

DEFAULT_HOLD_TIMEOUT = 10.0


class HoldOpen:
    """A scripted answer that keeps its prompt on screen until :meth:`release`.

    Lets a test prove the one-prompt rule: while the dialog is held open,
    other threads' requests must wait instead of opening a second one.

    >>> from n2net_privacy.simulation.prompt import Answer
    >>> hold = HoldOpen(Answer.GRANT)
    >>> hold.release()  # may be released before it is even shown
    >>> hold.hold()
    <Answer.GRANT: 'grant'>
    """

    def __init__(self, answer: PromptAnswer, *, timeout: float = DEFAULT_HOLD_TIMEOUT) -> None:
        self.answer = answer
        self.timeout = timeout
        self.opened = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        """Let the user tap the scripted answer."""
        self._released.set()

    def wait_opened(self, timeout: float = DEFAULT_HOLD_TIMEOUT) -> bool:
        """Block until the prompt is on screen; False on timeout."""
        return self.opened.wait(timeout)

    def hold(self) -> PromptAnswer:
        """Called by the user when the prompt appears: wait, then answer."""
        self.opened.set()
        # A forgotten release must fail the test, not hang the suite.
        if not self._released.wait(self.timeout):
            raise PermissionModelError(f"held prompt was not released within {self.timeout}s")
        return self.answer


ScriptItem = PromptAnswer | HoldOpen


class ScriptedUser:
    """Answers prompts from a queue of scripted answers, then from ``respond``.

    Every prompt shown is recorded in :attr:`prompts`. With the queue empty and
    no ``respond`` callable, a prompt raises :class:`UserScriptExhaustedError`:
    the script did not expect that dialog. Thread-safe.
    """

    def __init__(
        self, answers: Iterable[ScriptItem] = (), *, respond: Responder | None = None
    ) -> None:
        if isinstance(answers, str):
            raise InvalidArgumentTypeError(
                "answers must be a list of answers, such as [Answer.GRANT], not one str"
            )
        require_type("answers", answers, Iterable, hint="such as [Answer.GRANT]")
        self._lock = threading.Lock()
        self._queue: deque[ScriptItem] = deque(answers)
        self._respond = respond
        self._prompts: list[Prompt] = []

    @classmethod
    def always(cls, answer: PromptAnswer) -> ScriptedUser:
        """A user who gives the same answer to every prompt."""
        return cls(respond=lambda _prompt: answer)

    def push(self, *answers: ScriptItem) -> None:
        """Queue more answers, after those already scripted."""
        with self._lock:
            self._queue.extend(answers)

    @property
    def remaining(self) -> int:
        """Scripted answers not used yet."""
        with self._lock:
            return len(self._queue)

    @property
    def prompts(self) -> list[Prompt]:
        """Every prompt this user has been shown, oldest first."""
        with self._lock:
            return list(self._prompts)

    def __call__(self, prompt: Prompt) -> PromptAnswer:
        with self._lock:
            self._prompts.append(prompt)
            item = self._queue.popleft() if self._queue else None
        if item is None:
            if self._respond is None:
                what = "picker" if prompt.picker else f"dialog #{prompt.number}"
                raise UserScriptExhaustedError(
                    f"no scripted answer left for the {prompt.platform} {what} "
                    f"asking for {prompt.permission}"
                )
            return self._respond(prompt)
        if isinstance(item, HoldOpen):
            return item.hold()
        return item
