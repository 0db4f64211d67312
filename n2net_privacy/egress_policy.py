"""Deprecated alias of :mod:`n2net_privacy.egress.policy`, kept for one release.

Importing it warns once (``DeprecationWarning``); the names are the same
objects as in the new module.
"""

from __future__ import annotations

import warnings

from n2net_privacy.egress.policy import (
    DEFAULT_PORTS,
    AdmittedRequest,
    AuditEntry,
    AuditLog,
    EgressPolicy,
    EgressResponse,
    InnerDoor,
    OutgoingRequest,
    Purpose,
    RequestClient,
    RequestInspector,
    is_loopback,
    parse_endpoint,
)

__all__ = [
    "DEFAULT_PORTS",
    "AdmittedRequest",
    "AuditEntry",
    "AuditLog",
    "EgressPolicy",
    "EgressResponse",
    "InnerDoor",
    "OutgoingRequest",
    "Purpose",
    "RequestClient",
    "RequestInspector",
    "is_loopback",
    "parse_endpoint",
]

warnings.warn(
    "n2net_privacy.egress_policy is deprecated and will be removed in the next release; "
    "import n2net_privacy.egress.policy",
    DeprecationWarning,
    stacklevel=2,
)
