"""Test doubles for app developers, backend teams and QA.

:mod:`.servers` holds the loopback servers (ingest, Gravatar stand-in, OHTTP
relay and gateway, TCP tap) and their one lifecycle; :mod:`.load` the fleet
load test; :mod:`.conformance` the ingest conformance kit; :mod:`.plugin` the
pytest plugin. Nothing here is imported by the SDK itself; it uses the SDK's
public API only.
"""

from __future__ import annotations

from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.servers.gravatar import (
    Fault,
    FaultKind,
    GravatarStandIn,
    RecordedRequest,
    make_png,
    png_for_hash,
)
from n2net_privacy.testing.servers.ingest import IngestRequest, IngestServer

__all__ = [
    "Fault",
    "FaultKind",
    "FileKeyStore",
    "GravatarStandIn",
    "IngestRequest",
    "IngestServer",
    "RecordedRequest",
    "make_png",
    "png_for_hash",
]
