"""A mitmproxy addon: audit a phone's traffic live, against its address book.

Run it with the path that ``n2net-privacy mitm-addon-path`` prints::

    mitmdump -s "$(n2net-privacy mitm-addon-path)" --set n2net_contacts=book.vcf

Each request, each response and each WebSocket message is audited as it
passes, with the same detectors as ``n2net-privacy audit-har``
(:class:`~n2net_privacy.audit.capture.CaptureAudit`); findings are logged,
redacted. With ``--set n2net_block=true`` a request with a finding never
reaches its server (the addon answers ``451`` itself) and a leaking message
the device sends over a WebSocket is dropped. A body mitmproxy streams
through without keeping it (``stream_large_bodies``) is an
``audit.not_inspected`` finding. ``--set n2net_allow_loopback_http=true``
accepts plain HTTP to loopback, for a lab with the reference servers. With
``--set n2net_manifest=PrivacyInfo.xcprivacy`` (or the Data safety JSON) SDK
traffic the privacy manifest does not declare is a ``manifest.undeclared``
finding. When mitmproxy exits, the JSON and HTML report go to ``n2net_report``.

mitmproxy is imported only when mitmproxy loads this file, so the SDK never
depends on it (the ``mitm`` extra, Python 3.12+).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from n2net_privacy.audit.capture import CaptureAudit
from n2net_privacy.audit.destinations import DestinationPolicy
from n2net_privacy.audit.findings import Finding
from n2net_privacy.audit.har import HarExchange, WebSocketFrame
from n2net_privacy.wording import plural

__all__ = ["N2NetPrivacyAddon", "addons", "exchange_from_flow"]

_log = logging.getLogger("n2net_privacy.mitm")
_BLOCKED_BODY = b"blocked by the n2net-privacy addon: personal data in the request\n"


_STREAMED = (
    "mitmproxy streamed this body through (stream_large_bodies) without holding it; "
    "--set store_streamed_bodies=true keeps it for the audit"
)


def exchange_from_flow(flow: Any, index: int) -> HarExchange:
    """A mitmproxy ``HTTPFlow`` as the exchange the capture auditor reads.

    A body mitmproxy streamed through without keeping it (``raw_content``
    is None) is listed in :attr:`HarExchange.unrecorded`: an
    ``audit.not_inspected`` finding, never an empty body that passes.
    """
    request = flow.request
    response = flow.response
    unrecorded: list[tuple[str, str]] = []
    if request.raw_content is None:
        unrecorded.append(("body", _STREAMED))
    if response is not None and response.raw_content is None:
        unrecorded.append(("response.body", _STREAMED))
    return HarExchange(
        index=index,
        method=str(request.method),
        url=str(request.url),  # the real target; a Host header is inspected as a header
        headers=tuple((str(k), str(v)) for k, v in request.headers.items(multi=True)),
        cookies=(),
        body=bytes(request.raw_content or b""),  # as on the wire, Content-Encoding and all
        status=int(response.status_code) if response is not None else None,
        response_headers=tuple((str(k), str(v)) for k, v in response.headers.items(multi=True))
        if response is not None
        else (),
        response_body=bytes(response.raw_content or b"") if response is not None else b"",
        started="",
        response_type=str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()
        if response is not None
        else "",
        unrecorded=tuple(unrecorded),
    )


class N2NetPrivacyAddon:
    """The addon: options, a per-request audit, a report at shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._audit: CaptureAudit | None = None
        self._count = 0
        self._ids: dict[str, int] = {}

    def load(self, loader: Any) -> None:
        loader.add_option("n2net_contacts", str, "", "The device's address book (vCard or JSON).")
        loader.add_option("n2net_policy", str, "", "Destinations policy file (JSON).")
        loader.add_option("n2net_block", bool, False, "Answer 451 to requests with findings.")
        loader.add_option(
            "n2net_gravatar",
            bool,
            True,
            "The app's Gravatar toggle; off: any email hash is a finding.",
        )
        loader.add_option(
            "n2net_manifest", str, "",
            "Privacy manifest (PrivacyInfo.xcprivacy or Data safety JSON) to hold SDK traffic to.",
        )
        loader.add_option(
            "n2net_report", str, "n2net-privacy-report", "Folder for report.json and report.html."
        )
        loader.add_option(
            "n2net_allow_loopback_http",
            bool,
            False,
            "Accept plain HTTP to loopback (a lab set-up with the reference servers).",
        )

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import ctx, exceptions

        if not updated & {
            "n2net_contacts", "n2net_policy", "n2net_gravatar", "n2net_allow_loopback_http",
            "n2net_manifest",
        }:
            return
        from n2net_privacy.errors import N2NetPrivacyError
        from n2net_privacy.manifest import load_manifest
        from n2net_privacy.scenario.loader import read_book_file

        contacts = ctx.options.n2net_contacts
        if not contacts:
            raise exceptions.OptionsError("n2net_contacts: set it to the device's address book")
        try:
            book = read_book_file(Path(contacts))
            policy_path = ctx.options.n2net_policy
            policy = (
                DestinationPolicy.load(Path(policy_path))
                if policy_path
                else DestinationPolicy.sdk_default()
            )
            manifest_path = ctx.options.n2net_manifest
            manifest = load_manifest(manifest_path) if manifest_path else None
        except N2NetPrivacyError as exc:
            raise exceptions.OptionsError(f"n2net-privacy: {exc}") from exc
        with self._lock:
            self._audit = CaptureAudit(
                book,
                policy,
                gravatar_enabled=ctx.options.n2net_gravatar,
                allow_loopback_http=ctx.options.n2net_allow_loopback_http,
                manifest=manifest,
            )
        _log.info("n2net-privacy: auditing against %d contacts", len(book))

    def _next_index(self, flow: Any) -> int:
        with self._lock:
            index = self._ids.get(flow.id)
            if index is None:
                index = self._ids[flow.id] = self._count
                self._count += 1
            return index

    def request(self, flow: Any) -> None:
        """Audit a request before it is forwarded; block it if asked to."""
        from mitmproxy import ctx, http

        audit = self._audit
        if audit is None:
            return
        findings = audit.audit(exchange_from_flow(flow, self._next_index(flow)), log=False)
        _report(findings)
        if not (findings and ctx.options.n2net_block):
            return
        if flow.request.stream:
            _log.warning("n2net-privacy: a streamed request body has already left: not blocked")
            return
        flow.metadata["n2net_blocked"] = True
        flow.response = http.Response.make(
            451, _BLOCKED_BODY, {"content-type": "text/plain", "x-n2net-privacy": "blocked"}
        )

    def response(self, flow: Any) -> None:
        """Audit the response (PII coming back proves it left) and log the outcome."""
        audit = self._audit
        if audit is None:
            return
        exchange = exchange_from_flow(flow, self._next_index(flow))
        blocked = bool(flow.metadata.get("n2net_blocked"))
        if not blocked:  # the addon's own 451 is not the server's answer
            _report(audit.audit_response(exchange))
        audit.log_outcome(exchange, blocked=blocked)

    def websocket_message(self, flow: Any) -> None:
        """Audit the latest WebSocket message; in block mode a leaking sent one is dropped."""
        from mitmproxy import ctx

        audit = self._audit
        if audit is None or flow.websocket is None or not flow.websocket.messages:
            return
        messages = flow.websocket.messages
        message = messages[-1]
        frame = WebSocketFrame(len(messages) - 1, bool(message.from_client), bytes(message.content))
        findings = audit.audit_frame(exchange_from_flow(flow, self._next_index(flow)), frame)
        _report(findings)
        if findings and frame.sent and ctx.options.n2net_block:
            message.drop()

    def error(self, flow: Any) -> None:
        """Log a request that got no response (the connection failed)."""
        audit = self._audit
        if audit is not None:
            exchange = exchange_from_flow(flow, self._next_index(flow))
            audit.log_outcome(
                replace(exchange, status=None, response_headers=(), response_body=b"")
            )

    def done(self) -> None:
        """Write the reports when mitmproxy exits."""
        from mitmproxy import ctx

        audit = self._audit
        if audit is None:
            return
        from n2net_privacy.cli._output import open_output

        folder = Path(ctx.options.n2net_report)
        report = audit.report(title="N2Net privacy report: mitmproxy session")
        # The CLI's output rules: whole files or none, even if mitmdump is stopped twice.
        for name, text in (("report.json", report.to_json() + "\n"),
                           ("report.html", report.render_html())):
            with open_output(folder / name, make_parents=True) as handle:
                handle.write(text)
        found = plural(len(report.findings), "finding")
        _log.info("n2net-privacy: %s; report in %s", found, folder)

    def findings(self) -> tuple[Finding, ...]:
        return self._audit.findings() if self._audit is not None else ()


def _report(findings: tuple[Finding, ...]) -> None:
    for finding in findings:
        _log.warning("n2net-privacy: %s", finding.describe())


addons = [N2NetPrivacyAddon()]
