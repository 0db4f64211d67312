"""The consent core every component shares: one transition table, one order of effects.

* :mod:`~n2net_privacy.consent.state`: the pure tables (kinds, effects, their order).
* :mod:`~n2net_privacy.consent.dispatcher`: the one serial notification dispatcher.
* :mod:`~n2net_privacy.consent.core`: runs the effects (publish, cancel and purge,
  notify, persist) for Settings and the permission service.

A revocation is in force when the call that made it returns, whatever the
disk does; a grant the user gives in Settings counts only once it is saved.
"""

from __future__ import annotations

from n2net_privacy.consent.core import (
    Applied,
    ConsentCore,
    Proposal,
    StorageErrorCallback,
    WithdrawalScope,
)
from n2net_privacy.consent.dispatcher import Checkpoint, Dispatcher, Unsubscribe
from n2net_privacy.consent.state import (
    EFFECTS,
    KINDS,
    SUPERSEDED,
    Effect,
    Kind,
    Origin,
    Superseded,
    classify,
)

__all__ = [
    "EFFECTS",
    "KINDS",
    "SUPERSEDED",
    "Applied",
    "Checkpoint",
    "ConsentCore",
    "Dispatcher",
    "Effect",
    "Kind",
    "Origin",
    "Proposal",
    "StorageErrorCallback",
    "Superseded",
    "Unsubscribe",
    "WithdrawalScope",
    "classify",
]
