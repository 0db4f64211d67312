"""The two pydantic bases: strict for what we send, lenient for what we receive.

:class:`StrictModel` is for everything that leaves the device or is written
by us: frozen, and ``extra="forbid"`` so nothing extra can ride along.
:class:`LenientModel` is for replies from servers: ``extra="ignore"`` so a
server that adds a field tomorrow does not break today's app.

Both build their validators on first use (``defer_build``), not at import:
an app pays for the wire models when it first records an event, and
``import n2net_privacy`` pays for none (issue 25).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["LenientModel", "StrictModel"]


class StrictModel(BaseModel):
    """Outgoing or persisted data: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)


class LenientModel(BaseModel):
    """Server replies: unknown fields ignored, so the contract can grow."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)
