"""Deprecated alias of :mod:`n2net_privacy.egress.headers`, kept for one release.

Importing it warns once (``DeprecationWarning``); the names are the same
objects as in the new module.
"""

from __future__ import annotations

import warnings

from n2net_privacy.egress.headers import (
    DOOR_HEADERS,
    USER_AGENT,
    check_framing,
    check_userinfo,
    host_header,
    is_reserved,
    refuse_reserved,
)

__all__ = [
    "DOOR_HEADERS",
    "USER_AGENT",
    "check_framing",
    "check_userinfo",
    "host_header",
    "is_reserved",
    "refuse_reserved",
]

warnings.warn(
    "n2net_privacy.egress_headers is deprecated and will be removed in the next release; "
    "import n2net_privacy.egress.headers",
    DeprecationWarning,
    stacklevel=2,
)
