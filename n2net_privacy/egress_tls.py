"""Deprecated alias of :mod:`n2net_privacy.egress.tls`, kept for one release.

Importing it warns once (``DeprecationWarning``); the names are the same
objects as in the new module.
"""

from __future__ import annotations

import warnings

from n2net_privacy.egress.tls import (
    MINIMUM_TLS,
    PinCheck,
    PinSet,
    PinVerdict,
    check_context,
    harden,
    pin_verdict,
    spki_sha256,
    verified_chain,
    verified_chain_available,
)

__all__ = [
    "MINIMUM_TLS",
    "PinCheck",
    "PinSet",
    "PinVerdict",
    "check_context",
    "harden",
    "pin_verdict",
    "spki_sha256",
    "verified_chain",
    "verified_chain_available",
]

warnings.warn(
    "n2net_privacy.egress_tls is deprecated and will be removed in the next release; "
    "import n2net_privacy.egress.tls",
    DeprecationWarning,
    stacklevel=2,
)
