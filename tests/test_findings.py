"""Findings and data flows: readable, redacted, and round-trippable."""

from __future__ import annotations

from n2net_privacy.audit.findings import AuditMode, DataFlow, Finding, Rule


def test_every_rule_has_a_report_category() -> None:
    assert {rule.value for rule in Rule} == {
        "pii.email", "pii.name", "pii.phone", "events.non_e164", "events.schema",
        "host.not_allowed", "transport.plaintext", "audit.not_inspected",
        "destination.undeclared", "manifest.undeclared", "log.pii",
    }
    assert all(rule.category for rule in Rule)
    assert {mode.value for mode in AuditMode} == {"block", "record"}


def test_finding_describe_and_round_trip() -> None:
    finding = Finding(Rule.PII_PHONE, 4, "n2net_api", "POST", "api.n2net.com", "/v1/x",
                      "body:$.note", "phone +1******0123 (base64)", blocked=True)
    assert finding.describe() == (
        "#4 POST api.n2net.com/v1/x [n2net_api] pii.phone at body:$.note: "
        "phone +1******0123 (base64) (blocked)"
    )
    assert Finding.from_dict(finding.to_dict()) == finding
    assert finding.to_dict()["rule"] == "pii.phone"


def test_data_flow_round_trip() -> None:
    flow = DataFlow("gravatar.com", "gravatar", ("email hash (md5)",))
    assert DataFlow.from_dict(flow.to_dict()) == flow
