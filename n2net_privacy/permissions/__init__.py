"""Runtime permissions: the vocabulary, simulated Android and iOS, and the SDK's view.

>>> from n2net_privacy.permissions import (
...     Answer, AndroidPermissionProvider, PermissionService, ScriptedUser,
... )
>>> android = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.DENY]))
>>> service = PermissionService(android)
>>> service.request("contacts")
<PermissionStatus.DENIED: 'denied'>
>>> service.should_show_rationale("contacts")
True
"""

from __future__ import annotations

from n2net_privacy.permissions.android import AndroidPermissionProvider
from n2net_privacy.permissions.ios import IOSPermissionProvider, PickerResult
from n2net_privacy.permissions.prompt import (
    Answer,
    Prompt,
    PromptAnswer,
    PromptGate,
    Responder,
    SelectContacts,
)
from n2net_privacy.permissions.service import (
    JsonLearnedStatusStore,
    LearnedStatusStore,
    MemoryLearnedStatusStore,
    PermissionService,
)
from n2net_privacy.permissions.status import (
    Listener,
    Permission,
    PermissionChange,
    PermissionProvider,
    PermissionStatus,
    Platform,
    StateChanges,
    Unsubscribe,
)
from n2net_privacy.permissions.user import HoldOpen, ScriptedUser, ScriptItem

__all__ = [
    "AndroidPermissionProvider",
    "Answer",
    "HoldOpen",
    "IOSPermissionProvider",
    "JsonLearnedStatusStore",
    "LearnedStatusStore",
    "Listener",
    "MemoryLearnedStatusStore",
    "Permission",
    "PermissionChange",
    "PermissionProvider",
    "PermissionService",
    "PermissionStatus",
    "PickerResult",
    "Platform",
    "Prompt",
    "PromptAnswer",
    "PromptGate",
    "Responder",
    "ScriptItem",
    "ScriptedUser",
    "SelectContacts",
    "StateChanges",
    "Unsubscribe",
]
