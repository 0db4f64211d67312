"""The privacy report: one self-contained HTML file, findings first and red, JSON round trip."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from n2net_privacy.audit.auditor import EgressAuditor
from n2net_privacy.audit.findings import DataFlow, Finding, Rule
from n2net_privacy.audit.report import (
    Outcome,
    PrivacyReport,
    RequestRow,
    TimelineEvent,
    build_report,
    report_for,
)
from n2net_privacy.audit.report_schema import report_json_schema, validate_report
from n2net_privacy.contacts.model import Contact
from n2net_privacy.egress import Egress, Purpose
from n2net_privacy.egress.policy import AuditEntry
from n2net_privacy.errors import EgressPolicyError, InvalidArgumentError, NetworkError

HOSTILE = '<script>alert("x")</script><img src="https://evil.example/p.png">&amp;\'"'


class Page(HTMLParser):
    """Collects what the tests look at: sections, rows, resource references, text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[dict[str, str]] = []
        self.rows: dict[str, int] = {}
        self.tags: set[str] = set()
        self.refs: list[str] = []
        self.text: list[str] = []
        self.style = ""
        self._in_style = False
        self._section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.refs += [v for k, v in values.items() if k in ("src", "href", "srcset", "action")]
        if tag == "section":
            self.sections.append(values)
            self._section = values.get("id", "")
        if tag == "tr" and values.get("class"):
            self.rows[self._section] = self.rows.get(self._section, 0) + 1
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
        else:
            self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def _finding(detail: str = "email a***@*** (base64)", path: str = "/leak") -> Finding:
    return Finding(Rule.PII_EMAIL, 3, "n2net_api", "GET", "api.n2net.com", path, "query:q",
                   detail, blocked=True)


def _entry(at: float, host: str, path: str, *, blocked: bool = False) -> AuditEntry:
    return AuditEntry(at=at, purpose=Purpose.GRAVATAR, method="GET", host=host, path=path,
                      request_bytes=0 if blocked else 12, status=None if blocked else 200,
                      blocked=blocked)


def _report(findings: tuple[Finding, ...] = (_finding(),)) -> PrivacyReport:
    return build_report(
        generated_at=1_717_243_200.0,
        entries=[_entry(1.0, "gravatar.com", "/avatar/abc"),
                 _entry(2.0, "gravatar.com", "/avatar/def"),
                 _entry(3.0, "api.n2net.com", "/leak", blocked=True)],
        findings=findings,
        timeline=[(0.5, "user", "contacts permission: granted"),
                  TimelineEvent(0.2, "app", "Gravatar toggle: on")],
        flows=[DataFlow("gravatar.com", "gravatar", ("email hash (md5)",))],
    )


def test_findings_come_first_and_in_red() -> None:
    page = parse(_report().render_html())
    first = page.sections[0]
    assert first["id"] == "findings"
    assert "#b00020" in first["style"] and "color:" in first["style"]
    assert "tr.finding td{color:#b00020" in page.style
    assert page.rows["findings"] == 1
    assert [s["id"] for s in page.sections] == ["findings", "data-flows", "timeline", "requests"]


def test_a_clean_report_says_so_first_and_not_in_red() -> None:
    page = parse(_report(findings=()).render_html())
    assert page.sections[0]["id"] == "findings"
    assert "#b00020" not in page.sections[0]["style"]
    assert "Findings: none" in "".join(page.text)


def test_one_row_per_request_and_the_timeline_in_order() -> None:
    report = _report()
    page = parse(report.render_html())
    assert page.rows["requests"] == 3
    text = "".join(page.text)
    assert text.index("Gravatar toggle: on") < text.index("contacts permission: granted")
    assert "blocked" in text and "email hash (md5)" in text
    assert report.requests_per_destination() == {
        "gravatar @ gravatar.com": 2,
        "gravatar @ api.n2net.com": 1,
    }


@pytest.mark.parametrize("detail", ["email a***@*** (plain)", HOSTILE])
def test_the_html_is_self_contained(detail: str) -> None:
    html = _report(findings=(_finding(detail=detail),)).render_html()
    page = parse(html)
    assert page.refs == []
    assert not page.tags & {"script", "link", "img", "iframe", "object", "embed", "font"}
    assert "url(" not in page.style and "@import" not in page.style
    if detail != HOSTILE:  # the hostile text carries a URL, shown as text only
        assert not re.search(r"https?://", html)


def test_dynamic_text_is_escaped() -> None:
    report = build_report(
        generated_at=0.0,
        title=HOSTILE,
        entries=[_entry(1.0, "gravatar.com", HOSTILE)],
        findings=[_finding(detail=HOSTILE)],
        timeline=[(1.0, HOSTILE, HOSTILE)],
        flows=[DataFlow(HOSTILE, HOSTILE, (HOSTILE,))],
        redact=lambda text: text,
    )
    html = report.render_html()
    assert "<script>" not in html and "<img" not in html
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags
    # The hostile text is shown to the reader verbatim, as text.
    assert sum(HOSTILE in chunk for chunk in page.text) >= 6


def test_json_round_trip() -> None:
    report = _report()
    text = report.to_json()
    assert json.loads(text)["format"] == "n2net.privacy-report/2"
    assert validate_report(json.loads(text)) == []
    assert PrivacyReport.from_json(text) == report
    with pytest.raises(ValueError, match="privacy-report"):
        PrivacyReport.from_json('{"format": "other"}')


def test_paths_are_redacted_by_default_and_summary_counts() -> None:
    report = build_report(
        generated_at=0.0,
        entries=[_entry(1.0, "api.n2net.com", "/u/+12015550123"),
                 _entry(2.0, "api.n2net.com", "/u/ann@example.com/x")],
    )
    assert report.requests[0] == RequestRow(
        0, 1.0, "gravatar", "GET", "api.n2net.com", "/u/+1******0123", 12, 200, None, False,
        "sent",
    )
    assert "ann" not in report.requests[1].path
    assert report.summary_lines()[:4] == ["requests: 2 (gravatar @ api.n2net.com: 2)",
                                          "blocked: 0", "failed: 0, retried: 0", "findings: 0"]
    assert report.clean


def test_report_for_an_audited_run() -> None:
    ann = Contact(id="a", display_name="Ann Lee", emails=("ann@example.com",))
    egress = Egress(transport=httpx.MockTransport(lambda r: httpx.Response(200)),
                    clock=lambda: datetime.fromtimestamp(5.0, UTC))
    auditor = EgressAuditor([ann], mode="block")
    egress.add_inspector(auditor)
    client = egress.client(Purpose.N2NET_API)
    client.request("GET", "https://api.n2net.com/ok")
    with pytest.raises(EgressPolicyError):
        client.request("GET", "https://api.n2net.com/u/Ann Lee")
    report = report_for(auditor, egress.audit, generated_at=10.0,
                        timeline=[(1.0, "user", "granted")])
    assert [r.path for r in report.requests] == ["/ok", "/u/[name]"]
    assert [r.blocked for r in report.requests] == [False, True]
    assert [f.rule for f in report.findings] == [Rule.PII_NAME]
    html = report.render_html()
    assert "Ann" not in html and "Lee" not in html
    assert not report.clean


def test_requests_have_ids_that_findings_point_to_and_failures_show() -> None:
    ann = Contact(id="a", display_name="Ann Lee", emails=("ann@example.com",))
    replies = iter([httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(200),
                    httpx.Response(200)])

    def reply(request: httpx.Request) -> httpx.Response:
        answer = next(replies)
        if isinstance(answer, Exception):
            raise answer
        return answer

    ticks = iter(range(1_717_243_200, 1_717_243_300))
    egress = Egress(
        transport=httpx.MockTransport(reply),
        clock=lambda: datetime.fromtimestamp(next(ticks), UTC),
    )
    auditor = EgressAuditor([ann])
    egress.add_inspector(auditor)
    with egress.client(Purpose.N2NET_API) as client:
        with pytest.raises(NetworkError):
            client.request("POST", "https://api.n2net.com/v1/events", content=b"{}")
        client.request("POST", "https://api.n2net.com/v1/events", content=b"{}")
        client.request("POST", "https://api.n2net.com/v1/events", content=b"{}")
        client.request("GET", "https://api.n2net.com/u?e=ann@example.com")
    report = report_for(auditor, egress.audit, generated_at=0.0)
    rows = [(r.id, r.status, r.error, r.outcome) for r in report.requests]
    assert rows == [(1, None, "ConnectError", Outcome.RETRIED), (2, 503, None, Outcome.RETRIED),
                    (3, 200, None, Outcome.SENT), (4, 200, None, Outcome.SENT)]
    assert [r.at for r in report.requests] == [0.0, 1.0, 2.0, 3.0]  # since the start
    assert {f.request_id for f in report.findings} == {4}
    html = report.render_html()
    assert "ConnectError" in html and "retried" in html and "#4" in html
    assert validate_report(json.loads(report.to_json())) == []


def test_the_schema_documents_the_format_and_rejects_drift() -> None:
    schema = report_json_schema()
    assert schema["properties"]["format"]["const"] == "n2net.privacy-report/2"
    assert set(schema["required"]) >= {"timeline", "requests", "findings", "flows"}
    document = json.loads(_report().to_json())
    document["requests"][0]["outcome"] = "lost"
    document["extra"] = 1
    problems = validate_report(document)
    assert any(p.startswith("requests.0.outcome") for p in problems)
    assert any(p.startswith("extra") for p in problems)
    documented = Path(__file__).parents[1] / "docs" / "privacy-report.schema.json"
    assert json.loads(documented.read_text(encoding="utf-8")) == schema, (
        "docs/privacy-report.schema.json is stale: regenerate it with "
        "`n2net-privacy audit --schema > docs/privacy-report.schema.json`"
    )


CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                 shutil.which("google-chrome")) if p and Path(p).exists()),
    None,
)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: the headless "
                    "screenshot check needs /usr/bin/chromium (or chromium on PATH)")
def test_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(_report().render_html(), encoding="utf-8")
    shot = tmp_path / "shot.png"
    assert CHROMIUM is not None
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900",
         f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=60,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert len(data) > 5_000  # a blank page compresses to almost nothing


def test_demo_and_audit_timelines_read_the_same_way() -> None:
    """The demo stamps wall-clock times, the scenario runner seconds since start:
    both reports come out with the same fields, every time relative to the start."""
    start = 1_717_243_200.0
    demo = build_report(
        generated_at=start + 9,
        entries=[_entry(start + 2.0, "gravatar.com", "/avatar/abc")],
        timeline=[(start + 1.0, "user", "Gravatar on")],
        started_at=start,
    )
    audit = build_report(
        generated_at=start + 9,
        entries=[_entry(2.0, "gravatar.com", "/avatar/abc")],
        timeline=[(1.0, "user", "Gravatar on")],
    )
    implicit = build_report(generated_at=start + 9,
                            entries=[_entry(start + 2.0, "gravatar.com", "/avatar/abc")],
                            timeline=[(start + 1.0, "user", "Gravatar on")])
    assert [e.at for e in implicit.timeline] == [0.0] and implicit.requests[0].at == 1.0
    for report in (demo, audit):
        document = json.loads(report.to_json())
        assert validate_report(document) == []
        assert document["timeline"] == [{"at": 1.0, "actor": "user", "what": "Gravatar on"}]
        assert document["requests"][0]["at"] == 2.0
    assert demo.started_at == start and audit.started_at == 0.0


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "privacy-report"),
        ('{"format": "n2net.privacy-report/2"}', "'title' is missing"),
        ('{"format": "n2net.privacy-report/2", "title": "t", "generated_at": "soon",'
         ' "started_at": 0, "timeline": [], "requests": [], "flows": [], "findings": []}',
         "wrong shape (ValueError)"),
        ('{"format": "n2net.privacy-report/2", "title": "t", "generated_at": 0,'
         ' "started_at": 0, "timeline": [{"bogus": 1}], "requests": [], "flows": [],'
         ' "findings": []}', "wrong shape (TypeError)"),
    ],
)
def test_a_malformed_report_file_gets_one_typed_error_naming_the_fault(
    text: str, names: str
) -> None:
    """A truncated or hand-edited report is refused with InvalidArgumentError, never a
    bare KeyError/TypeError/JSONDecodeError, and the message carries none of its values."""
    with pytest.raises(InvalidArgumentError, match=re.escape(names)) as caught:
        PrivacyReport.from_json(text)
    assert "soon" not in str(caught.value) and "bogus" not in str(caught.value)
