"""An :class:`~n2net_privacy.egress.Egress` with the QA auditor already attached.

Hand it to the SDK wherever an ``Egress`` goes; at the end of the test call
:meth:`AuditedEgress.assert_no_pii`.

>>> egress = AuditedEgress(address_book=book, loopback=True)   # doctest: +SKIP
>>> fetcher = GravatarFetcher(settings, egress, config)         # doctest: +SKIP
>>> egress.assert_no_pii()                                      # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from n2net_privacy.audit import (
    AuditMode,
    ContactLike,
    EgressAuditor,
    Finding,
    PrivacyReport,
    report_for,
)
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.uploader.sealing import PrivateKey

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
    against wire contract v1 too.
    """

    def __init__(
        self,
        address_book: Iterable[ContactLike] = (),
        *,
        mode: AuditMode | str = AuditMode.RECORD,
        server_private_key: PrivateKey | None = None,
        loopback: bool = True,
        policy: EgressPolicy | None = None,
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
        )
        super().__init__(policy, inspectors=[self.auditor])

    def findings(self) -> tuple[Finding, ...]:
        return self.auditor.findings()

    def assert_no_pii(self) -> None:
        """Fail with a readable, redacted summary if any request broke a rule."""
        self.auditor.assert_no_pii()

    def report(self, timeline: Iterable[tuple[float, str, str]] = ()) -> PrivacyReport:
        """The privacy report of everything that went through this egress so far."""
        return report_for(self.auditor, self.audit, timeline=timeline, generated_at=time.time())
