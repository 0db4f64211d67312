"""The simulated OS: the user who answers system prompts, the prompts, the key stores.

Tests, the demo and the scenario runner script a user up front; the simulated
platforms (:mod:`n2net_privacy.permissions.android`, ``.ios``) show it their
dialogs:

>>> from n2net_privacy.permissions import AndroidPermissionProvider
>>> from n2net_privacy.simulation import Answer, ScriptedUser
>>> android = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.DENY]))
>>> android.request("contacts")
<PermissionStatus.DENIED: 'denied'>

:class:`SimulatedAndroidKeystore` and :class:`SimulatedIOSKeychain` are the
phone's key stores for the uploader's at-rest key, in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names
from n2net_privacy.simulation.prompt import (
    Answer,
    Prompt,
    PromptAnswer,
    PromptGate,
    Responder,
    SelectContacts,
)
from n2net_privacy.simulation.user import HoldOpen, ScriptedUser, ScriptItem

if TYPE_CHECKING:
    from n2net_privacy.simulation.keystores import SimulatedAndroidKeystore, SimulatedIOSKeychain

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
    "SimulatedAndroidKeystore",
    "SimulatedIOSKeychain",
]

# The key stores bring cryptography, which a script of answers does not need.
__getattr__, __dir__ = lazy_names(__name__, globals(), dict.fromkeys(
    ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"], "n2net_privacy.simulation.keystores"
))
