"""``n2net-privacy manifest`` and ``--manifest`` on the audits, run as real commands."""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from n2net_privacy.audit.report_schema import validate_report
from n2net_privacy.gravatar import gravatar_hash

ROOT = Path(__file__).parents[1]
EMAIL = "grace.hopper@example.net"
BOOK = {"contacts": [{"id": "g", "display_name": "Grace Hopper",
                      "phones": [{"number": "+1 202 555 0143"}], "emails": [EMAIL]}]}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "n2net_privacy.cli", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=120)


def test_manifest_writes_files_plistlib_and_the_schema_accept(tmp_path: Path) -> None:
    done = cli("manifest", "--ios", "PrivacyInfo.xcprivacy", "--android", "data-safety.json",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    plist = plistlib.loads((tmp_path / "PrivacyInfo.xcprivacy").read_bytes())
    assert plist["NSPrivacyTracking"] is False
    assert {e["NSPrivacyCollectedDataType"] for e in plist["NSPrivacyCollectedDataTypes"]} == {
        "NSPrivacyCollectedDataTypePhoneNumber", "NSPrivacyCollectedDataTypeEmailAddress",
        "NSPrivacyCollectedDataTypeContacts"}
    schema = json.loads((ROOT / "docs" / "data-safety.schema.json").read_text())
    jsonschema.validate(json.loads((tmp_path / "data-safety.json").read_text()), schema)


@pytest.mark.parametrize(("flags", "types", "linked"), [
    ((), {"PhoneNumber", "EmailAddress", "Contacts"}, True),
    (("--no-gravatar",), {"PhoneNumber", "Contacts"}, True),
    (("--no-uploader",), {"EmailAddress", "Contacts"}, True),
    (("--oblivious",), {"PhoneNumber", "EmailAddress", "Contacts"}, False),
    (("--no-uploader", "--no-gravatar", "--oblivious"), set(), None),
])
def test_flags_change_the_manifest_and_dash_is_stdout(
    tmp_path: Path, flags: tuple[str, ...], types: set[str], linked: bool | None
) -> None:
    done = subprocess.run([sys.executable, "-m", "n2net_privacy.cli", "manifest", *flags,
                           "--ios", "-"], cwd=tmp_path, capture_output=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    entries = plistlib.loads(done.stdout)["NSPrivacyCollectedDataTypes"]
    assert {e["NSPrivacyCollectedDataType"].removeprefix("NSPrivacyCollectedDataType")
            for e in entries} == types
    assert {e["NSPrivacyCollectedDataTypeLinked"] for e in entries} == (
        {linked} if linked is not None else set())
    assert list(tmp_path.iterdir()) == []


def test_markdown_to_stdout_quotes_the_policy(tmp_path: Path) -> None:
    done = cli("manifest", "--no-uploader", "--markdown", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("| What the SDK sends |")
    assert "Gravatar" in done.stdout and "N2Net\u2019s API" not in done.stdout


@pytest.mark.parametrize(("args", "words"), [
    ((), "give at least one of --ios"),
    (("--ios", "-", "--android", "-"), "only one output can go to stdout"),
    (("--ios", "same", "--android", "same"), "the same file"),
    (("--ios", "."), "cannot write"),
])
def test_bad_usage_exits_2_with_one_error_line(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    done = cli("manifest", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("n2net-privacy manifest: error: ") and words in done.stderr
    assert "Traceback" not in done.stderr


def _capture(tmp: Path, *urls: str) -> tuple[Path, Path]:
    entries: list[dict[str, Any]] = [
        {"startedDateTime": "2026-11-30T10:00:00Z",
         "request": {"method": "GET", "url": url, "headers": []},
         "response": {"status": 200}}
        for url in urls
    ]
    capture = tmp / "capture.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    book = tmp / "book.json"
    book.write_text(json.dumps(BOOK))
    return capture, book


@pytest.mark.parametrize("platform", ["--ios", "--android"])
def test_audit_har_holds_a_gravatar_hash_to_the_manifest(tmp_path: Path, platform: str) -> None:
    gravatar = "https://gravatar.com/avatar/" + gravatar_hash(EMAIL)
    capture, book = _capture(tmp_path, gravatar)
    for name, flags in (("no-gravatar", ("--no-gravatar",)), ("default", ())):
        done = cli("manifest", *flags, platform, f"{name}.manifest", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    base = ("audit-har", str(capture), "--contacts", str(book), "--gravatar", "on")

    refused = cli(*base, "--manifest", "no-gravatar.manifest", "--json", "a.json",
                  "--html", "a.html", cwd=tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    report = json.loads((tmp_path / "a.json").read_text())
    assert validate_report(report) == []
    undeclared = [f for f in report["findings"] if f["rule"] == "manifest.undeclared"]
    assert {f["detail"].split(":")[0] for f in undeclared} >= {"email hash (md5)"}
    assert "manifest.undeclared" in refused.stdout
    assert gravatar_hash(EMAIL) not in refused.stdout + (tmp_path / "a.json").read_text()

    accepted = cli(*base, "--manifest", "default.manifest", "--json", "b.json",
                   "--html", "b.html", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    report = json.loads((tmp_path / "b.json").read_text())
    assert validate_report(report) == []
    assert report["findings"] == []
    # The events flow is declared but this capture never showed it: listed, not failed.
    assert report["manifest"]["declared_not_observed"] == (
        ["NSPrivacyCollectedDataTypePhoneNumber"] if platform == "--ios" else [])
    assert "declared, not observed" in accepted.stdout
    html = (tmp_path / "b.html").read_text()
    assert 'id="manifest"' in html
    assert ("declared, not observed</td>" in html) is (platform == "--ios")


def test_audit_har_refuses_an_unreadable_manifest(tmp_path: Path) -> None:
    capture, book = _capture(tmp_path, "https://api.n2net.com/v1/ping")
    (tmp_path / "bad.xcprivacy").write_text("not a manifest")
    done = cli("audit-har", str(capture), "--contacts", str(book), "--manifest",
               "bad.xcprivacy", cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.xcprivacy: neither a privacy manifest" in done.stderr


def test_audit_holds_a_scenario_to_the_manifest(tmp_path: Path) -> None:
    assert cli("manifest", "--no-uploader", "--android", "m.json", cwd=tmp_path).returncode == 0
    scenario = ROOT / "examples" / "scenarios" / "clean.json"
    done = cli("audit", str(scenario), "--manifest", "m.json", "--out", "r", "-q", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "r" / "clean.privacy-report.json").read_text())
    details = {f["detail"] for f in report["findings"] if f["rule"] == "manifest.undeclared"}
    assert "destination n2net_api is outside the manifest's data flows" in details
    assert {f["rule"] for f in report["findings"]} == {"manifest.undeclared"}


PLUGIN_TEST = textwrap.dedent('''
    import pytest
    from n2net_privacy.egress import Purpose
    from n2net_privacy.gravatar import gravatar_hash
    from n2net_privacy.manifest import ManifestConfig


    @pytest.mark.n2net_manifest(ManifestConfig(gravatar=False))
    def test_undeclared_gravatar(egress, gravatar_stand_in, address_book):
        email = next(e for c in address_book for e in c.emails)
        with egress.client(Purpose.GRAVATAR) as client:
            client.request("GET", gravatar_stand_in.base_url + "avatar/" + gravatar_hash(email))
        rules = {f.rule.value for f in egress.acknowledge_findings()}
        assert rules == {"manifest.undeclared"}


    @pytest.mark.n2net_manifest("default.xcprivacy")
    def test_declared_gravatar(egress, gravatar_stand_in, address_book):
        email = next(e for c in address_book for e in c.emails)
        with egress.client(Purpose.GRAVATAR) as client:
            client.request("GET", gravatar_stand_in.base_url + "avatar/" + gravatar_hash(email))
        egress.assert_no_pii()
        assert egress.auditor.manifest_check().not_observed == (
            "NSPrivacyCollectedDataTypePhoneNumber",)
''')


def test_the_egress_fixture_takes_a_manifest_marker(tmp_path: Path) -> None:
    assert cli("manifest", "--ios", "default.xcprivacy", cwd=tmp_path).returncode == 0
    (tmp_path / "test_labels.py").write_text(PLUGIN_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
