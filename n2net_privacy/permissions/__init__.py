"""Runtime permissions: the vocabulary, simulated Android and iOS, and the SDK's view.

The user who answers the dialogs is in :mod:`n2net_privacy.simulation`.

>>> from n2net_privacy.permissions import AndroidPermissionProvider, PermissionService
>>> from n2net_privacy.simulation import Answer, ScriptedUser
>>> android = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.DENY]))
>>> service = PermissionService(android)
>>> service.request("contacts")
<PermissionStatus.DENIED: 'denied'>
>>> service.should_show_rationale("contacts")
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names
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

if TYPE_CHECKING:
    from n2net_privacy.permissions.android import AndroidPermissionProvider
    from n2net_privacy.permissions.ios import IOSPermissionProvider, PickerResult

__all__ = [
    "AndroidPermissionProvider",
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
    "StateChanges",
    "Unsubscribe",
]

# The simulated platforms import the simulated user (n2net_privacy.simulation),
# which imports this package's status vocabulary: loading them on first use
# keeps that a chain, not a cycle.
__getattr__, __dir__ = lazy_names(
    __name__,
    globals(),
    {
        "AndroidPermissionProvider": "n2net_privacy.permissions.android",
        "IOSPermissionProvider": "n2net_privacy.permissions.ios",
        "PickerResult": "n2net_privacy.permissions.ios",
    },
    moved=dict.fromkeys(
        ["Answer", "HoldOpen", "Prompt", "PromptAnswer", "PromptGate", "Responder",
         "ScriptItem", "ScriptedUser", "SelectContacts"],
        "n2net_privacy.simulation",
    ),
)
