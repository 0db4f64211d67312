"""Audit captured traffic (HAR files, mitmproxy flows) with the egress auditor.

A capture comes from a real device, so it holds requests the SDK never made.
:class:`CaptureAudit` maps each captured exchange onto the auditor's view of
a request, so that every detector, decoder and redaction rule of
:class:`~n2net_privacy.audit.auditor.EgressAuditor` applies unchanged, and
adds what only a capture needs:

- the destination comes from a :class:`~n2net_privacy.audit.destinations.DestinationPolicy`;
  a host it does not declare is a ``destination.undeclared`` finding;
- cookies the exporter kept apart from the headers are inspected as a header;
- the response (headers and body) is inspected too: personal data coming
  *back* from a server proves it left the device earlier;
- each WebSocket message is inspected, its place naming the frame and its
  direction (``websocket.sent[2].body``, ``websocket.received[0].body``);
- an entry too large to hold in memory, or a body the capture kept only as a
  size or never held (:attr:`HarExchange.unrecorded`), is an
  ``audit.not_inspected`` finding.

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
from n2net_privacy.audit.har import HarExchange, OversizedEntry, WebSocketFrame
from n2net_privacy.audit.report import PrivacyReport, build_report
from n2net_privacy.audit.spool import RequestSpool
from n2net_privacy.egress.policy import AuditEntry, AuditLog, OutgoingRequest, Purpose
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


def _order(finding: Finding) -> tuple[int, str, str]:
    return finding.request_id, finding.place, finding.rule.value


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
    ``spool`` keeps the request rows on disk (:class:`RequestSpool`) for a
    capture fed in request order, so its report fits in bounded memory (audit-har).
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
        spool: bool = False,
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
        self.log: AuditLog | RequestSpool = RequestSpool() if spool else AuditLog()
        self._lock = threading.Lock()
        self._found: list[Finding] = []
        self._first_at: float | None = None

    # -- feeding ---------------------------------------------------------------

    def audit(self, exchange: HarExchange, *, log: bool = True) -> tuple[Finding, ...]:
        """Inspect one exchange (request, response, WebSocket frames); return its findings.

        ``log=False`` leaves the audit-log entry to :meth:`log_outcome`, for a
        live proxy that inspects a request before its response exists. The
        cost of a call does not grow with the findings already stored.
        """
        request, label = self._as_request(exchange)
        found: list[Finding] = []
        for finding in self._requests.inspect_findings(request):
            if finding.rule is Rule.HOST_NOT_ALLOWED and label == _UNDECLARED:
                continue  # said once, as destination.undeclared
            found.append(replace(finding, purpose=label))
        if label == _UNDECLARED:
            found.append(self._about(
                exchange, request, _UNDECLARED, rule=Rule.DESTINATION_UNDECLARED, place="request",
                detail="the destinations policy does not declare this host and port",
            ))
        found += self._unrecorded(exchange, request, label, response=False)
        found += self._response(exchange, request, label)
        for frame in exchange.frames:
            found += self._frame(frame, request, label)
        at = _epoch(exchange.started)
        with self._lock:
            if at is not None and (self._first_at is None or at < self._first_at):
                self._first_at = at
        if log:
            self.log_outcome(exchange)
        return self._keep(found)

    def audit_response(self, exchange: HarExchange) -> tuple[Finding, ...]:
        """Inspect only the response of ``exchange`` (a live proxy's second look)."""
        request, label = self._as_request(exchange)
        return self._keep(self._response(exchange, request, label))

    def audit_frame(self, exchange: HarExchange, frame: WebSocketFrame) -> tuple[Finding, ...]:
        """Inspect one WebSocket message of ``exchange``; its place names the frame."""
        request, label = self._as_request(exchange)
        return self._keep(self._frame(frame, request, label))

    def _as_request(self, exchange: HarExchange) -> tuple[OutgoingRequest, str]:
        parts = urlsplit(exchange.url)
        scheme = (parts.scheme or "https").lower()
        declared = self.policy.purpose_for(exchange.host, exchange.port, scheme)
        headers = exchange.headers
        if exchange.cookies and not any(n.lower() == "cookie" for n, _ in headers):
            cookie = "; ".join(f"{n}={v}" for n, v in exchange.cookies)
            headers = (*headers, ("cookie", cookie))
        request = OutgoingRequest(
            exchange.method,
            exchange.url,
            headers=headers,
            content=exchange.body,
            purpose=_SDK_PURPOSES.get(declared or "", Purpose.APP),
            scheme=scheme,
            host=exchange.host,
            path=parts.path or "/",
            query=parts.query,
            request_id=exchange.index + 1,
        )
        return request, declared if declared is not None else _UNDECLARED

    def _response(
        self, exchange: HarExchange, request: OutgoingRequest, label: str
    ) -> list[Finding]:
        found = self._unrecorded(exchange, request, label, response=True)
        if not _inspect_response(exchange):
            return found
        # Headers and body only: the response has no method, host or path of its own.
        response = replace(request, headers=exchange.response_headers,
                           content=exchange.response_body)
        found += [
            replace(f, purpose=label, place=f"response.{f.place}")
            for f in self._responses.inspect_findings(response, content_only=True)
            if f.rule in _PII_RULES
        ]
        return found

    def _frame(
        self, frame: WebSocketFrame, request: OutgoingRequest, label: str
    ) -> list[Finding]:
        message = replace(request, headers=(), content=frame.content)
        auditor = self._requests if frame.sent else self._responses
        return [
            replace(f, purpose=label, place=f"{frame.place}.{f.place}")
            for f in auditor.inspect_findings(message, content_only=True)
            if f.rule in _PII_RULES
        ]

    def _unrecorded(
        self, exchange: HarExchange, request: OutgoingRequest, label: str, *, response: bool
    ) -> list[Finding]:
        return [
            self._about(
                exchange, request, label,
                rule=Rule.NOT_INSPECTED, place=place, detail=f"not inspected: {why}",
            )
            for place, why in exchange.unrecorded
            if place.startswith("response.") == response
        ]

    def _about(
        self, exchange: HarExchange, request: OutgoingRequest, label: str, *, rule: Rule,
        place: str, detail: str,
    ) -> Finding:
        """A finding about the exchange as a whole, its method, host and path redacted."""
        return Finding(
            rule=rule,
            request_id=request.request_id,
            purpose=label,
            method=self._requests.redact_path(exchange.method),
            host=self._requests.redact_path(exchange.host),
            path=self._requests.redact_path(request.path),
            place=place,
            detail=detail,
        )

    def _keep(self, found: list[Finding]) -> tuple[Finding, ...]:
        found.sort(key=_order)
        with self._lock:
            self._found.extend(found)
        return tuple(found)

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
        self._keep([finding])
        return finding

    # -- results ---------------------------------------------------------------

    def findings(self) -> tuple[Finding, ...]:
        """Every finding so far, by request id, place and rule."""
        with self._lock:
            found = list(self._found)
        return tuple(sorted(found, key=_order))

    def close(self) -> None:
        """Delete the spooled request rows, if any (a report read from them is done with)."""
        if isinstance(self.log, RequestSpool):
            self.log.close()

    def data_flows(self) -> tuple[DataFlow, ...]:
        return self._requests.data_flows()

    def report(self, *, title: str = "N2Net privacy report: capture") -> PrivacyReport:
        if isinstance(self.log, RequestSpool):
            start = self._first_at if self._first_at is not None else self.log.first_at or 0.0
            return PrivacyReport(
                title=title,
                generated_at=time.time(),
                started_at=start,
                timeline=(),
                requests=self.log.rows(start),
                flows=self.data_flows(),
                findings=self.findings(),
                manifest=self._requests.manifest_check(),
            )
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
