"""The ingest conformance kit: check any ingest server against wire contract v1, black box.

``n2net-privacy conformance URL --app-key KEY --server-key ID=@PUB.pem`` runs
it from the command line (see docs/backend.md). In Python::

    egress = Egress(EgressPolicy({Purpose.N2NET_API: frozenset({"ingest.example"})}))
    with egress.client(Purpose.N2NET_API) as client:
        report = run_conformance(Target(url, app_key, keys), client)
    Path("conformance.xml").write_bytes(junit_xml(report))

``run_gateway_conformance(GatewayTarget.at(gateway_url), client)`` checks an
Oblivious HTTP gateway the same way (a client for purpose ``OHTTP_RELAY``).

The kit talks HTTP through the SDK's egress door only, seals with the SDK's
real sealing code and reads replies with the SDK's own parsers. It uses no
private server API, so it runs against any implementation.
"""

from __future__ import annotations

from n2net_privacy.testing.conformance.gateway import (
    GATEWAY_CHECKS,
    GatewayTarget,
    run_gateway_conformance,
)
from n2net_privacy.testing.conformance.model import (
    DEFAULT_OVERSIZE_BYTES,
    Check,
    CheckFailed,
    CheckResult,
    CheckSkipped,
    KitRuntime,
    Report,
    Target,
    Verdict,
)
from n2net_privacy.testing.conformance.reports import json_report, junit_xml
from n2net_privacy.testing.conformance.runner import CHECKS, run_conformance, select

__all__ = [
    "CHECKS",
    "DEFAULT_OVERSIZE_BYTES",
    "GATEWAY_CHECKS",
    "Check",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "GatewayTarget",
    "KitRuntime",
    "Report",
    "Target",
    "Verdict",
    "json_report",
    "junit_xml",
    "run_conformance",
    "run_gateway_conformance",
    "select",
]
