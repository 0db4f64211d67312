"""Deprecated alias of :mod:`n2net_privacy.egress.transport`, kept for one release.

Importing it warns once (``DeprecationWarning``); the names are the same
objects as in the new module.
"""

from __future__ import annotations

import warnings

from n2net_privacy.egress.transport import (
    CALLER_HEADERS,
    STREAMED_BODY,
    USER_AGENT,
    AsyncAuditingTransport,
    AuditingTransport,
    Gate,
    InnerGate,
    check_transport,
    pin_checks,
)

__all__ = [
    "CALLER_HEADERS",
    "STREAMED_BODY",
    "USER_AGENT",
    "AsyncAuditingTransport",
    "AuditingTransport",
    "Gate",
    "InnerGate",
    "check_transport",
    "pin_checks",
]

warnings.warn(
    "n2net_privacy.egress_transport is deprecated and will be removed in the next release; "
    "import n2net_privacy.egress.transport",
    DeprecationWarning,
    stacklevel=2,
)
