"""The one egress door: every HTTP request the SDK makes leaves through here.

``policy`` (allowlists, the audit log, the request shape), ``headers`` (the
framing only the door writes) and ``tls`` (contexts and pins) are pure, and
their names are loaded here eagerly. ``transport`` (the gate around every
transport) and ``client`` (:class:`Egress` and its clients) are the only
modules in the SDK that import httpx; their names load on first use, so
``from n2net_privacy.egress import Purpose, PinSet`` loads no httpx. See
``docs/egress.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from n2net_privacy._lazy import lazy_names
from n2net_privacy.egress.headers import USER_AGENT
from n2net_privacy.egress.policy import (
    AuditEntry,
    AuditLog,
    EgressPolicy,
    EgressResponse,
    OutgoingRequest,
    Purpose,
    RequestInspector,
)
from n2net_privacy.egress.tls import PinSet, spki_sha256

if TYPE_CHECKING:
    from n2net_privacy.egress.client import (
        AsyncEgressClient,
        Egress,
        EgressClient,
        on_new_egress,
    )

__all__ = [
    "USER_AGENT",
    "AsyncEgressClient",
    "AuditEntry",
    "AuditLog",
    "Egress",
    "EgressClient",
    "EgressPolicy",
    "EgressResponse",
    "OutgoingRequest",
    "PinSet",
    "Purpose",
    "RequestInspector",
    "on_new_egress",
    "spki_sha256",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    globals(),
    {
        name: "n2net_privacy.egress.client"
        for name in ("AsyncEgressClient", "Egress", "EgressClient", "on_new_egress")
    },
)
