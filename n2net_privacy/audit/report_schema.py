"""The JSON format of the privacy report, as pydantic models and a JSON Schema.

:func:`report_json_schema` is the documented contract of
:meth:`~n2net_privacy.audit.report.PrivacyReport.to_json` (format
``n2net.privacy-report/2``); :func:`validate_report` checks a parsed
document against it. The demo and ``n2net-privacy audit`` write this one
format, with the same timeline and request fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from n2net_privacy.models import StrictModel

__all__ = ["ReportDocument", "report_json_schema", "validate_report"]


class _Event(StrictModel):
    """A permission or Settings change."""

    at: float = Field(description="seconds since the run started")
    actor: str = Field(description="who made the change: user (...), MDM, system")
    what: str = Field(description="what changed, without PII")


class _Request(StrictModel):
    """One request through the egress chokepoint."""

    id: int = Field(ge=0, description="the request id findings point to (from 1)")
    at: float = Field(description="seconds since the run started")
    purpose: str
    method: str = Field(description="redacted when it carries PII")
    host: str = Field(description="redacted when it carries PII")
    path: str = Field(description="segments carrying PII are redacted")
    bytes: int = Field(ge=0, description="request line, headers and body")
    status: int | None = Field(description="HTTP status; null when no reply came")
    error: str | None = Field(description="the network error's type when no reply came")
    blocked: bool
    outcome: Literal["sent", "blocked", "failed", "retried"]


class _Flow(StrictModel):
    """The data categories that reached one destination."""

    destination: str
    purpose: str
    categories: list[str]


class _Finding(StrictModel):
    """One broken rule in one request, redacted."""

    rule: Literal["pii.email", "pii.name", "pii.phone", "events.non_e164", "events.schema",
                  "host.not_allowed", "transport.plaintext", "audit.not_inspected",
                  "destination.undeclared", "manifest.undeclared", "log.pii"]
    request_id: int = Field(ge=0, description="the id of the request in `requests`; "
                            "0 for a log record (rule log.pii)")
    purpose: str
    method: str
    host: str
    path: str
    place: str = Field(description="method, url.host, url.path, query:K, header:K, body:$.a.b, "
                                   "body:form:K, body:part:K, sealed:$..., request")
    detail: str = Field(description="what was found, in redacted form")
    blocked: bool


class _Manifest(StrictModel):
    """How the run measured up to a privacy manifest (present only with ``--manifest``)."""

    source: str = Field(description="the manifest file")
    platform: Literal["ios", "android"]
    declared: list[str] = Field(description="declared data types the SDK's flows account for")
    declared_not_observed: list[str] = Field(
        description="declared types no request showed: not a failure"
    )


class ReportDocument(StrictModel):
    """A privacy report as JSON (``n2net.privacy-report/2``)."""

    format: Literal["n2net.privacy-report/2"]
    title: str
    generated_at: float = Field(description="Unix time the report was made")
    started_at: float = Field(description="Unix time (or clock value) the run started at")
    timeline: list[_Event]
    requests: list[_Request]
    flows: list[_Flow]
    findings: list[_Finding]
    manifest: _Manifest | None = None


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report's JSON form."""
    schema = ReportDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://n2net.com/schemas/n2net.privacy-report-2.schema.json"
    return schema


def validate_report(document: object) -> list[str]:
    """Problems of ``document`` against the schema, as ``path: message`` lines."""
    try:
        ReportDocument.model_validate(document)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []
