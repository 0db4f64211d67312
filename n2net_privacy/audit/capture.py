"""Audit captured traffic (HAR files, mitmproxy flows) with the egress auditor.

A capture comes from a real device, so it holds requests the SDK never made.
:class:`CaptureAudit` maps each captured exchange onto the auditor's view of
a request, so that every detector, decoder and redaction rule of
:class:`~n2net_privacy.audit.auditor.EgressAuditor` applies unchanged, and
adds what only a capture needs:

- the destination comes from a :class:`~n2net_privacy.audit.destinations.DestinationPolicy`;
  a host it does not declare is a ``destination.undeclared`` finding;
- cookies the exporter kept apart from the headers are inspected as a header;
- the response body is inspected too: personal data coming *back* from a
  server proves it left the device earlier;
- an entry too large to hold in memory is an ``audit.not_inspected`` finding.

The request id of a finding is the exchange's 1-based position in the
capture (HAR entry index + 1), so QA can find it in the tool that exported it.
"""

from __future__ import annotations

import calendar
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from n2net_privacy.audit.auditor import EgressAuditor
from n2net_privacy.audit.destinations import DestinationPolicy
from n2net_privacy.audit.detectors import AddressBookPii, ContactLike
from n2net_privacy.audit.findings import DataFlow, Finding, Rule
from n2net_privacy.audit.har import HarExchange, OversizedEntry
from n2net_privacy.audit.report import PrivacyReport, build_report
from n2net_privacy.egress_policy import AuditEntry, AuditLog, OutgoingRequest, Purpose
from n2net_privacy.manifest import DeclaredManifest

__all__ = ["CaptureAudit"]

_SDK_PURPOSES = {
    Purpose.N2NET_API.value: Purpose.N2NET_API,
    Purpose.GRAVATAR.value: Purpose.GRAVATAR,
}
_UNDECLARED = "undeclared"
_PII_RULES = frozenset({Rule.PII_EMAIL, Rule.PII_NAME, Rule.PII_PHONE, Rule.NOT_INSPECTED})
_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?")


# Media a server sends back that carry no text to find PII in; inspecting them
# (megabytes of images per capture) would cost time and find nothing.
_OPAQUE_MEDIA = ("image/", "audio/", "video/", "font/", "application/font")
_TEXT_IMAGES = ("image/svg+xml",)


def _inspect_response(exchange: HarExchange) -> bool:
    if not (exchange.response_body or exchange.response_headers):
        return False
    media = exchange.response_type
    return media in _TEXT_IMAGES or not media.startswith(_OPAQUE_MEDIA)


def _epoch(started: str) -> float | None:
    """Seconds since the epoch of a HAR ``startedDateTime`` (ISO 8601), or None."""
    match = _ISO.fullmatch(started.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = float(match.group(7)) if match.group(7) else 0.0
    zone = match.group(8) or "Z"
    offset = 0
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    try:
        base = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return base + fraction - offset


class CaptureAudit:
    """Feed it exchanges; ask it for findings, flows and a report.

    ``contacts`` is the device's address book. ``gravatar_enabled=False``
    says the app's Gravatar toggle was off during the capture, so an email
    hash sent anywhere, Gravatar included, is a finding. Thread-safe, so the
    mitmproxy addon can call :meth:`audit` from its worker threads.
    ``allow_loopback_http`` accepts plain HTTP to loopback (a lab set-up
    with the reference servers), as the SDK's test mode does. ``manifest``
    holds the SDK's requests to a privacy manifest (``manifest.undeclared``).
    """

    def __init__(
        self,
        contacts: AddressBookPii | Iterable[ContactLike],
        policy: DestinationPolicy | None = None,
        *,
        region: str | None = None,
        gravatar_enabled: bool = True,
        allow_loopback_http: bool = False,
        manifest: DeclaredManifest | None = None,
    ) -> None:
        self.policy = policy if policy is not None else DestinationPolicy.sdk_default()
        pii = (
            contacts
            if isinstance(contacts, AddressBookPii)
            else AddressBookPii.from_contacts(contacts)
        )
        allowed: dict[Purpose, set[str]] = {p: set() for p in Purpose}
        for destination in self.policy.destinations:
            purpose = _SDK_PURPOSES.get(destination.purpose, Purpose.APP)
            allowed[purpose].add(destination.host)
        # Requests and responses are inspected by two auditors of the same book,
        # so a response's findings never count as a request of their own.
        options: dict[str, Any] = {
            "mode": "record",
            "allowed_hosts": allowed,
            "region": region,
            "allow_loopback_http": allow_loopback_http,
        }
        self._requests = EgressAuditor(pii, manifest=manifest, **options)
        self._responses = EgressAuditor(pii, **options)
        if not gravatar_enabled:
            # QA says the toggle was off for the whole capture: any email hash is a leak.
            for auditor in (self._requests, self._responses):
                auditor.watch_gravatar_consent(lambda: False)
        self.log = AuditLog()
        self._lock = threading.Lock()
        self._extra: list[Finding] = []
        self._labels: dict[int, str] = {}
        self._first_at: float | None = None

    # -- feeding ---------------------------------------------------------------

    def audit(self, exchange: HarExchange, *, log: bool = True) -> tuple[Finding, ...]:
        """Inspect one exchange; return the findings it produced.

        ``log=False`` leaves the audit-log entry to :meth:`log_outcome`, for a
        live proxy that inspects a request before its response exists.
        """
        request_id = exchange.index + 1
        parts = urlsplit(exchange.url)
        scheme = (parts.scheme or "https").lower()
        declared = self.policy.purpose_for(exchange.host, exchange.port, scheme)
        purpose = _SDK_PURPOSES.get(declared or "", Purpose.APP)
        label = declared if declared is not None else _UNDECLARED
        headers = exchange.headers
        if exchange.cookies and not any(n.lower() == "cookie" for n, _ in headers):
            cookie = "; ".join(f"{n}={v}" for n, v in exchange.cookies)
            headers = (*headers, ("cookie", cookie))
        request = OutgoingRequest(
            purpose=purpose,
            method=exchange.method,
            url=exchange.url,
            scheme=scheme,
            host=exchange.host,
            path=parts.path or "/",
            query=parts.query,
            headers=headers,
            body=exchange.body,
            request_id=request_id,
        )
        before = {f for f in self._requests.findings() if f.request_id == request_id}
        self._requests.inspect(request)
        if _inspect_response(exchange):
            self._responses.inspect(
                replace(
                    request,
                    method=exchange.method,
                    url=f"{scheme}://{exchange.host}/",
                    path="/",
                    query="",
                    headers=exchange.response_headers,
                    body=exchange.response_body,
                )
            )
        at = _epoch(exchange.started)
        with self._lock:
            self._labels[request_id] = label
            if declared is None:
                self._extra.append(
                    Finding(
                        rule=Rule.DESTINATION_UNDECLARED,
                        request_id=request_id,
                        purpose=_UNDECLARED,
                        method=self._requests.redact_path(exchange.method),
                        host=self._requests.redact_path(exchange.host),
                        path=self._requests.redact_path(parts.path or "/"),
                        place="request",
                        detail="the destinations policy does not declare this host and port",
                    )
                )
            if at is not None and (self._first_at is None or at < self._first_at):
                self._first_at = at
        if log:
            self.log_outcome(exchange)
        return tuple(f for f in self.findings() if f.request_id == request_id and f not in before)

    def log_outcome(self, exchange: HarExchange, *, blocked: bool = False) -> None:
        """Add the audit-log entry of ``exchange``: its status, or that none came."""
        parts = urlsplit(exchange.url)
        scheme = (parts.scheme or "https").lower()
        declared = self.policy.purpose_for(exchange.host, exchange.port, scheme)
        at = _epoch(exchange.started)
        self.log.record(
            AuditEntry(
                at=at if at is not None else time.time(),
                purpose=_SDK_PURPOSES.get(declared or "", Purpose.APP),
                method=self._requests.redact_path(exchange.method),
                host=self._requests.redact_path(exchange.host),
                path=self._requests.redact_path(parts.path or "/"),
                request_bytes=len(exchange.body),
                status=exchange.status,
                blocked=blocked,
                request_id=exchange.index + 1,
                error=None if exchange.status is not None or blocked else "no response",
            )
        )

    def oversized(self, entry: OversizedEntry) -> Finding:
        """Record an entry that was too large to inspect: never a silent pass."""
        finding = Finding(
            rule=Rule.NOT_INSPECTED,
            request_id=entry.index + 1,
            purpose="unknown",
            method="?",
            host="?",
            path="?",
            place="entry",
            detail=f"not inspected: the entry is {entry.size} bytes, over the reader's limit",
        )
        with self._lock:
            self._extra.append(finding)
        return finding

    # -- results ---------------------------------------------------------------

    def findings(self) -> tuple[Finding, ...]:
        with self._lock:
            labels = dict(self._labels)
            extra = list(self._extra)
        out: list[Finding] = []
        for found in self._requests.findings():
            label = labels.get(found.request_id, found.purpose)
            if found.rule is Rule.HOST_NOT_ALLOWED and label == _UNDECLARED:
                continue  # said once, as destination.undeclared
            out.append(replace(found, purpose=label))
        for finding in self._responses.findings():
            if finding.rule in _PII_RULES:
                label = labels.get(finding.request_id, finding.purpose)
                out.append(replace(finding, purpose=label, place=f"response.{finding.place}"))
        out.extend(extra)
        return tuple(sorted(out, key=lambda f: (f.request_id, f.place, f.rule.value)))

    def data_flows(self) -> tuple[DataFlow, ...]:
        return self._requests.data_flows()

    def report(self, *, title: str = "N2Net privacy report: capture") -> PrivacyReport:
        return build_report(
            generated_at=time.time(),
            started_at=self._first_at,
            entries=self.log.entries(),
            findings=self.findings(),
            flows=self.data_flows(),
            title=title,
            redact=self._requests.redact_path,
            manifest=self._requests.manifest_check(),
        )
