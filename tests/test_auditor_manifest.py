"""The egress auditor holds requests to a privacy manifest: ``manifest.undeclared``."""

from __future__ import annotations

import pytest

from n2net_privacy.audit import EgressAuditor, Rule, build_report
from n2net_privacy.audit.report import PrivacyReport
from n2net_privacy.contacts.model import Contact
from n2net_privacy.egress import OutgoingRequest, Purpose
from n2net_privacy.errors import EgressPolicyError
from n2net_privacy.gravatar.hashing import gravatar_hash
from n2net_privacy.manifest import DeclaredManifest, ManifestConfig, ios_plist, parse_manifest

EMAIL = "zoe@example.org"
BOOK = [Contact(id="z", display_name="Zoe Quist", emails=(EMAIL,))]
HASH = gravatar_hash(EMAIL)


def _gravatar() -> OutgoingRequest:
    return OutgoingRequest(
        purpose=Purpose.GRAVATAR, method="GET", url=f"https://gravatar.com/avatar/{HASH}",
        scheme="https", host="gravatar.com", path=f"/avatar/{HASH}", query="", headers=(),
        content=b"",
    )


def _manifest(**flags: bool) -> DeclaredManifest:
    return parse_manifest(ios_plist(ManifestConfig(**flags)), "PrivacyInfo.xcprivacy")


def test_a_gravatar_hash_under_a_no_gravatar_manifest_is_undeclared() -> None:
    auditor = EgressAuditor(BOOK, manifest=_manifest(gravatar=False))
    auditor.inspect(_gravatar())
    findings = auditor.findings()
    assert {f.rule for f in findings} == {Rule.MANIFEST_UNDECLARED}
    assert all(HASH not in f.describe() for f in findings)
    check = auditor.manifest_check()
    assert check is not None
    assert check.not_observed == ("NSPrivacyCollectedDataTypePhoneNumber",
                                  "NSPrivacyCollectedDataTypeContacts")


def test_block_mode_keeps_an_undeclared_request_on_the_device() -> None:
    auditor = EgressAuditor(BOOK, mode="block", manifest=_manifest(gravatar=False))
    with pytest.raises(EgressPolicyError, match=r"manifest\.undeclared"):
        auditor.inspect(_gravatar())
    assert all(f.blocked for f in auditor.findings())
    assert auditor.data_flows() == ()


def test_the_default_manifest_declares_it_and_marks_it_observed() -> None:
    auditor = EgressAuditor(BOOK)
    auditor.use_manifest(_manifest())
    auditor.inspect(_gravatar())
    assert auditor.findings() == ()
    check = auditor.manifest_check()
    assert check is not None and check.not_observed == ("NSPrivacyCollectedDataTypePhoneNumber",)
    report = build_report(generated_at=0.0, findings=auditor.findings(), manifest=check)
    again = PrivacyReport.from_json(report.to_json())
    assert again.manifest == check
    assert "declared, not observed: NSPrivacyCollectedDataTypePhoneNumber" in \
        report.summary_lines()
    assert "undeclared: 0" in report.summary_lines()


def test_without_a_manifest_the_report_has_no_manifest_section() -> None:
    auditor = EgressAuditor(BOOK)
    auditor.inspect(_gravatar())
    assert auditor.manifest_check() is None
    report = build_report(generated_at=0.0, manifest=auditor.manifest_check())
    assert "manifest" not in report.to_dict()
    assert 'id="manifest"' not in report.render_html()
