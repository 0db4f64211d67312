"""What the simulated Android and iOS permission systems share.

The user who answers their dialogs, the rule of one dialog on screen at a
time (:class:`~n2net_privacy.simulation.prompt.PromptGate`), the state lock
with its ordered stream of changes
(:class:`~n2net_privacy.permissions.status.StateChanges`), the count of
dialogs shown, and the version a dialog's answer is checked against: a
Settings change made while a dialog was up moves it, and has the last word.
"""

from __future__ import annotations

from n2net_privacy.permissions.status import Listener, StateChanges, Unsubscribe
from n2net_privacy.simulation.prompt import PromptGate, Responder
from n2net_privacy.simulation.user import ScriptedUser

__all__ = ["SimulatedProvider"]


class SimulatedProvider:
    """The common part of a simulated platform; ``user`` defaults to a :class:`ScriptedUser`."""

    def __init__(self, name: str, user: Responder | None) -> None:
        self.user: Responder = user if user is not None else ScriptedUser()
        self.prompt_gate = PromptGate()
        self._changes = StateChanges(name)
        self._lock = self._changes.lock  # for reads that change nothing
        self._version = 0  # moves with every change of state
        self._dialogs = 0

    @property
    def dialogs_shown(self) -> int:
        """How many system permission dialogs the user has seen."""
        with self._lock:
            return self._dialogs

    def subscribe(self, listener: Listener) -> Unsubscribe:
        return self._changes.subscribe(listener)
