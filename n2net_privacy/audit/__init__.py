"""QA tooling that proves the privacy promises: the egress auditor and the privacy report.

:class:`EgressAuditor` inspects every request at the egress chokepoint for
the address book's PII and for breaks of the wire contract;
:func:`build_report` / :func:`report_for` turn a run into a
:class:`PrivacyReport` (JSON and one self-contained HTML file).
"""

from __future__ import annotations

from n2net_privacy.audit.auditor import EgressAuditor
from n2net_privacy.audit.decoding import Encoding
from n2net_privacy.audit.detectors import (
    AddressBookPii,
    ContactLike,
    PhoneLike,
    PiiDetector,
    PiiKind,
    PiiMatch,
)
from n2net_privacy.audit.findings import AuditMode, DataFlow, Finding, Rule
from n2net_privacy.audit.report import (
    PrivacyReport,
    RequestRow,
    TimelineEvent,
    build_report,
    report_for,
)

__all__ = [
    "AddressBookPii",
    "AuditMode",
    "ContactLike",
    "DataFlow",
    "EgressAuditor",
    "Encoding",
    "Finding",
    "PhoneLike",
    "PiiDetector",
    "PiiKind",
    "PiiMatch",
    "PrivacyReport",
    "RequestRow",
    "Rule",
    "TimelineEvent",
    "build_report",
    "report_for",
]
