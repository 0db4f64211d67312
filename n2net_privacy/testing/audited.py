"""An :class:`~n2net_privacy.egress.Egress` with the QA auditor already attached.

Hand it to the SDK wherever an ``Egress`` goes; at the end of the test call
:meth:`AuditedEgress.assert_no_pii`.

>>> egress = AuditedEgress(address_book=book, loopback=True)   # doctest: +SKIP
>>> fetcher = GravatarFetcher(settings, egress, config)         # doctest: +SKIP
>>> egress.assert_no_pii()                                      # doctest: +SKIP

It also keeps the books for the pytest plugin's fail-safe checks:
:meth:`unverified` says what a test has not looked at (findings nobody
asserted, fewer audited requests than :meth:`expect_requests` asked for).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

from n2net_privacy.audit import (
    AuditMode,
    ContactLike,
    EgressAuditor,
    Finding,
    PrivacyReport,
    report_for,
)
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.manifest import DeclaredManifest
from n2net_privacy.uploader.wire.seal import PrivateKey
from n2net_privacy.wording import plural

__all__ = ["LOOPBACK_HOSTS", "AuditedEgress"]

LOOPBACK_HOSTS: Mapping[Purpose, frozenset[str]] = {
    Purpose.GRAVATAR: frozenset({"127.0.0.1"}),
    Purpose.N2NET_API: frozenset({"127.0.0.1"}),
}


class AuditedEgress(Egress):
    """An egress whose every request is inspected for the address book's PII.

    ``loopback=True`` (the default) allows only 127.0.0.1 for every purpose,
    over plain HTTP as well, which is what the testing servers use. Pass
    ``server_private_key`` so sealed uploader bodies are opened and checked
    against wire contract v1 too. ``gravatar_consent`` (for example
    ``lambda: settings.gravatar_enabled``) makes an email hash sent while
    Gravatar is off a finding. ``manifest`` holds every request to a privacy
    manifest (:meth:`use_manifest`).
    """

    def __init__(
        self,
        address_book: Iterable[ContactLike] = (),
        *,
        mode: AuditMode | str = AuditMode.RECORD,
        server_private_key: PrivateKey | None = None,
        loopback: bool = True,
        policy: EgressPolicy | None = None,
        gravatar_consent: Callable[[], bool] | None = None,
        manifest: DeclaredManifest | None = None,
    ) -> None:
        if policy is None:
            policy = EgressPolicy(allowed_hosts=LOOPBACK_HOSTS, test_mode=True) if loopback \
                else EgressPolicy()
        self.auditor = EgressAuditor(
            address_book,
            mode=mode,
            allowed_hosts=policy.allowed_hosts,
            allow_loopback_http=policy.test_mode,
            server_private_key=server_private_key,
            gravatar_consent=gravatar_consent,
            manifest=manifest,
        )
        self._lock = threading.Lock()
        self._acknowledged = 0
        self._min_requests = 0
        super().__init__(policy, inspectors=[self.auditor])

    def add_contacts(self, contacts: Iterable[ContactLike]) -> None:
        """Make these contacts' names, emails and numbers known to the auditor too."""
        self.auditor.add_contacts(contacts)

    def watch_gravatar_consent(self, consent: Callable[[], bool] | None) -> None:
        """See :meth:`EgressAuditor.watch_gravatar_consent`."""
        self.auditor.watch_gravatar_consent(consent)

    def use_manifest(self, manifest: DeclaredManifest | None) -> None:
        """See :meth:`EgressAuditor.use_manifest`."""
        self.auditor.use_manifest(manifest)

    def findings(self) -> tuple[Finding, ...]:
        """Every finding so far (reading them does not count as asserting them)."""
        return self.auditor.findings()

    def acknowledge_findings(self) -> tuple[Finding, ...]:
        """Every finding so far, marked as seen: a test that expects leaks asserts on these."""
        findings = self.auditor.findings()
        with self._lock:
            self._acknowledged = max(self._acknowledged, len(findings))
        return findings

    @property
    def requests_seen(self) -> int:
        """How many requests the auditor inspected."""
        return self.auditor.requests_seen

    def expect_requests(self, min: int = 1) -> None:
        """Fail the test at its end when fewer than ``min`` requests were audited.

        The ``egress`` fixture starts at ``min=1``: a test that audits nothing
        proves nothing. ``expect_requests(min=0)`` opts out.
        """
        if min < 0:
            raise InvalidArgumentError("min must be >= 0")
        with self._lock:
            self._min_requests = min

    def assert_no_pii(self) -> None:
        """Fail with a readable, redacted summary if any request broke a rule.

        Every finding present now counts as asserted, whether this passes or raises.
        """
        self.acknowledge_findings()
        self.auditor.assert_no_pii()

    def unverified(self, *, findings: bool = True, requests: bool = True) -> list[str]:
        """What the test never checked, as redacted lines; empty when all is well.

        ``findings``: findings never asserted; ``requests``: fewer audited
        requests than :meth:`expect_requests` asked for.
        """
        seen_findings = self.auditor.findings()
        with self._lock:
            acknowledged, wanted = self._acknowledged, self._min_requests
        problems: list[str] = []
        unasserted = seen_findings[acknowledged:] if findings else ()
        if unasserted:
            problems.append(
                f"egress auditor: {plural(len(unasserted), 'finding')} never asserted "
                "(call egress.assert_no_pii() or mark the test n2net_allow_findings):"
            )
            problems.extend(f"  - {f.describe()}" for f in unasserted)
        seen = self.auditor.requests_seen
        if requests and seen < wanted:
            problems.append(
                f"egress auditor: {plural(seen, 'request')} audited, expected at least {wanted}: "
                "a test that sends nothing proves nothing (egress.expect_requests(min=0) "
                "opts out)"
            )
        return problems

    def report(self, timeline: Iterable[tuple[float, str, str]] = ()) -> PrivacyReport:
        """The privacy report of everything that went through this egress so far."""
        return report_for(self.auditor, self.audit, timeline=timeline, generated_at=time.time())
