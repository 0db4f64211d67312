"""What the egress auditor reports: rules, findings and per-destination data flows.

Plain frozen records with a dict form, so the auditor, the privacy report
and the CLI share one vocabulary and a report can be written to JSON and read
back. Nothing in a record is raw PII: places name fields, details carry only
the forms :mod:`n2net_privacy.redact` produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "AuditMode",
    "DataFlow",
    "Finding",
    "ManifestCheck",
    "Rule",
]


class AuditMode(StrEnum):
    """``block``: a request with a finding never leaves. ``record``: it leaves, noted."""

    BLOCK = "block"
    RECORD = "record"


class Rule(StrEnum):
    """The rule a finding broke; the value is the stable id reports and tests use."""

    PII_EMAIL = "pii.email"
    PII_NAME = "pii.name"
    PII_PHONE = "pii.phone"
    EVENTS_NON_E164 = "events.non_e164"
    EVENTS_SCHEMA = "events.schema"
    HOST_NOT_ALLOWED = "host.not_allowed"
    TRANSPORT_PLAINTEXT = "transport.plaintext"
    NOT_INSPECTED = "audit.not_inspected"
    DESTINATION_UNDECLARED = "destination.undeclared"
    MANIFEST_UNDECLARED = "manifest.undeclared"
    LOG_PII = "log.pii"

    @property
    def category(self) -> str:
        """The data category a finding of this rule puts on the wire, for the report."""
        return _CATEGORIES[self]


_CATEGORIES = {
    Rule.PII_EMAIL: "email address (LEAK)",
    Rule.PII_NAME: "contact name (LEAK)",
    Rule.PII_PHONE: "phone number (LEAK)",
    Rule.EVENTS_NON_E164: "non-E.164 number in events (LEAK)",
    Rule.EVENTS_SCHEMA: "field outside wire contract v1 (LEAK)",
    Rule.HOST_NOT_ALLOWED: "request to a host outside the allowlist",
    Rule.TRANSPORT_PLAINTEXT: "plaintext HTTP",
    Rule.NOT_INSPECTED: "content the auditor could not inspect fully",
    Rule.DESTINATION_UNDECLARED: "request to an undeclared destination",
    Rule.MANIFEST_UNDECLARED: "data or destination the privacy manifest does not declare",
    Rule.LOG_PII: "personal data in a log record (LEAK)",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One broken rule in one request, at one place, with the PII redacted.

    ``request_id`` is the auditor's sequence number of the request (from 1).
    ``place`` is where in the request: ``"url.host"``, ``"url.path"``,
    ``"query:email"``, ``"header:x-debug"``, ``"body:$.user.note"``,
    ``"body:form:note"``, ``"sealed:$.events[0].number"`` or ``"request"``;
    for a log record (rule ``log.pii``, ``request_id`` 0) it is ``"log:<logger name>"``.
    ``detail`` says what was found in redacted form (``"email a***@*** (base64)"``).
    ``path`` and ``host`` are masked when they themselves carry PII.
    """

    rule: Rule
    request_id: int
    purpose: str
    method: str
    host: str
    path: str
    place: str
    detail: str
    blocked: bool = False

    def describe(self) -> str:
        """One readable line: which request, which rule, where, what."""
        outcome = "blocked" if self.blocked else "logged" if self.rule is Rule.LOG_PII else "sent"
        return (
            f"#{self.request_id} {self.method} {self.host}{self.path} [{self.purpose}] "
            f"{self.rule.value} at {self.place}: {self.detail} ({outcome})"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rule"] = self.rule.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            rule=Rule(data["rule"]),
            request_id=int(data["request_id"]),
            purpose=str(data["purpose"]),
            method=str(data["method"]),
            host=str(data["host"]),
            path=str(data["path"]),
            place=str(data["place"]),
            detail=str(data["detail"]),
            blocked=bool(data.get("blocked", False)),
        )


@dataclass(frozen=True, slots=True)
class DataFlow:
    """The data categories that reached one destination (``"email hash (md5)"``...)."""

    destination: str
    purpose: str
    categories: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "purpose": self.purpose,
            "categories": list(self.categories),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFlow:
        return cls(
            destination=str(data["destination"]),
            purpose=str(data["purpose"]),
            categories=tuple(str(c) for c in data["categories"]),
        )


@dataclass(frozen=True, slots=True)
class ManifestCheck:
    """How a run measured up to a privacy manifest (``--manifest``).

    ``declared``: the manifest's data types the SDK's flows account for;
    ``not_observed``: those no request showed ("declared, not observed": the
    label may say more than a run exercises, never less). Requests carrying
    anything undeclared are ``manifest.undeclared`` findings.
    """

    source: str
    platform: str
    declared: tuple[str, ...]
    not_observed: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "platform": self.platform,
            "declared": list(self.declared),
            "declared_not_observed": list(self.not_observed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestCheck:
        return cls(
            source=str(data["source"]),
            platform=str(data["platform"]),
            declared=tuple(str(t) for t in data["declared"]),
            not_observed=tuple(str(t) for t in data["declared_not_observed"]),
        )
