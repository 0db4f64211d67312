"""The simulated OS: the user who answers system prompts, and the prompts themselves.

Tests, the demo and the scenario runner script a user up front; the simulated
platforms (:mod:`n2net_privacy.permissions.android`, ``.ios``) show it their
dialogs:

>>> from n2net_privacy.permissions import AndroidPermissionProvider
>>> from n2net_privacy.simulation import Answer, ScriptedUser
>>> android = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.DENY]))
>>> android.request("contacts")
<PermissionStatus.DENIED: 'denied'>
"""

from __future__ import annotations

from n2net_privacy.simulation.prompt import (
    Answer,
    Prompt,
    PromptAnswer,
    PromptGate,
    Responder,
    SelectContacts,
)
from n2net_privacy.simulation.user import HoldOpen, ScriptedUser, ScriptItem

__all__ = [
    "Answer",
    "HoldOpen",
    "Prompt",
    "PromptAnswer",
    "PromptGate",
    "Responder",
    "ScriptItem",
    "ScriptedUser",
    "SelectContacts",
]
