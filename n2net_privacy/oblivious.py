"""Deprecated alias of :mod:`n2net_privacy.ohttp.client`, kept for one release.

Importing it warns once (``DeprecationWarning``); the names are the same
objects as in the new module.
"""

from __future__ import annotations

import warnings

from n2net_privacy.ohttp.client import (
    AsyncObliviousClient,
    AsyncRelayClient,
    KeyConfigSource,
    ObliviousClient,
    ObliviousConfig,
    RelayClient,
    is_key_problem,
)

__all__ = [
    "AsyncObliviousClient",
    "AsyncRelayClient",
    "KeyConfigSource",
    "ObliviousClient",
    "ObliviousConfig",
    "RelayClient",
    "is_key_problem",
]

warnings.warn(
    "n2net_privacy.oblivious is deprecated and will be removed in the next release; "
    "import n2net_privacy.ohttp.client",
    DeprecationWarning,
    stacklevel=2,
)
