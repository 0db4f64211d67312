"""Running scenarios: the right things happen, the auditor sees all of it, servers stop."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from n2net_privacy.audit import PrivacyReport, Rule
from n2net_privacy.audit.corpus.leaky_client import LeakEncoding, LeakKind, LeakPlace
from n2net_privacy.errors import ScenarioError
from n2net_privacy.scenario import StepOutcome, load_scenario, parse_scenario, run_scenario
from n2net_privacy.wording import plural

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples" / "scenarios"
_SERVICE_THREADS = ("n2net-ingest-server", "gravatar-stand-in", "n2net-uploader")


def document(*steps: dict[str, Any], **top: Any) -> str:
    base: dict[str, Any] = {
        "version": 1,
        "platform": {"os": "ios", "ios_version": 18},
        "address_book": {"synthetic": {"count": 30, "seed": 5}},
    }
    base.update(top)
    base["steps"] = list(steps)
    return json.dumps(base, indent=2)


def step_line_shows(text: str, line: int, step: str) -> bool:
    """With ``indent=2`` a step's ``{`` is on ``line`` and its type on the next one."""
    lines = text.split("\n")
    return lines[line - 1].strip() == "{" and f'"step": "{step}"' in lines[line]


class Run:
    """One scenario run with a fixed clock, its step outcomes and its report."""

    def __init__(self, text: str, base_dir: Path | str = ".") -> None:
        self.text = text
        self.outcomes: list[StepOutcome] = []
        ticks = itertools.count()
        self.report: PrivacyReport = run_scenario(
            parse_scenario(text, base_dir=base_dir),
            on_step=self.outcomes.append,
            monotonic=lambda: float(next(ticks)),
            now=lambda: 1_700_000_000.0,
        )

    @property
    def summaries(self) -> list[str]:
        return [outcome.summary for outcome in self.outcomes]

    def requests(self, purpose: str) -> list[Any]:
        return [row for row in self.report.requests if row.purpose == purpose]


def _service_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(_SERVICE_THREADS)]


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Any:
    yield
    assert _service_threads() == []


def test_android_prompts_blocks_and_settings_are_on_the_timeline() -> None:
    run = Run(document(
        {"step": "list_contacts"},
        {"step": "request_permission"},
        {"step": "request_permission"},
        {"step": "request_permission"},
        {"step": "settings_grant"},
        {"step": "list_contacts", "page_size": 7},
        {"step": "search", "by": "name", "query": "zzzz-nobody"},
        {"step": "settings_revoke"},
        {"step": "list_contacts"},
        platform={"os": "android", "api_level": 34},
        answers=["deny", "deny"],
    ))
    assert run.summaries == [
        "not_determined: 0 contacts visible",
        "contacts access denied",
        "contacts access blocked",
        "contacts access blocked",  # no third dialog, so no third answer needed
        "contacts access granted",
        "granted: 30 contacts visible",
        "granted: 0 match(es) by name",
        "contacts access denied",
        "denied: 0 contacts visible",
    ]
    assert all(step_line_shows(run.text, o.line, o.step) for o in run.outcomes)
    assert len({outcome.line for outcome in run.outcomes}) == len(run.outcomes)
    assert [(event.actor, event.what) for event in run.report.timeline] == [
        ("user (permission prompt)", "contacts access: not_determined -> denied"),
        ("user (permission prompt)", "contacts access: denied -> blocked"),
        ("user (system Settings)", "contacts access: blocked -> granted"),
        ("user (system Settings)", "contacts access: granted -> denied; the OS restarts the app"),
    ]
    assert all(event.at < 1e8 for event in run.report.timeline)  # seconds from the start
    assert run.report.requests == () and run.report.clean


def test_ios_limited_gravatar_uploads_and_an_outage_leave_no_findings() -> None:
    run = Run(document(
        {"step": "request_permission"},
        {"step": "fetch_avatars"},
        {"step": "enable_gravatar"},
        {"step": "fetch_avatars", "mode": "blocking"},
        {"step": "record_sms", "to": {"contact": "syn-0001"}},
        {"step": "server_outage", "down": True},
        {"step": "record_call", "to": "+1 201 555 0123", "duration_s": 61},
        {"step": "record_sms", "to": "0171 1234567"},
        {"step": "flush", "timeout_s": 0.2},
        {"step": "server_outage", "down": False},
        {"step": "flush", "timeout_s": 10},
        {"step": "settings_set_limited", "ids": ["syn-0005"]},
        {"step": "list_contacts"},
        {"step": "mdm_restrict"},
        {"step": "fetch_avatars"},
        answers=[{"select": ["syn-0001", "syn-0002", "syn-0003", "syn-0004"]}],
    ))
    s = run.summaries
    assert s[0] == "contacts access limited"
    assert s[1] == "4 contacts: 0 avatars; none for disabled 4"
    assert s[3].startswith("4 contacts: ")
    assert (s[4], s[6], s[7]) == ("queued", "queued", "skipped (invalid)")
    assert s[8] == "2 events still queued after 0.2s"
    assert s[10] == "queue drained; 2 events stored on the server"
    assert (s[11], s[12]) == ("contacts access limited", "limited: 1 contact visible")
    assert (s[13], s[14]) == ("contacts access restricted", "no visible contacts: nothing to fetch")
    report = run.report
    assert report.clean, report.summary_lines()
    avatars = run.requests("gravatar")
    assert avatars  # only after the toggle went on (see the no-request test below)
    assert {row.path for row in avatars} == {"/avatar/[email hash]"}  # masked in the report
    uploads = run.requests("n2net_api")
    assert {row.path for row in uploads} == {"/v1/events"}
    assert None in {row.status for row in uploads}  # attempts during the outage are listed
    assert uploads[-1].status == 200
    flows = {(flow.purpose, category) for flow in report.flows for category in flow.categories}
    assert ("gravatar", "email hash (md5)") in flows
    assert ("n2net_api", "phone number (E.164)") in flows
    assert [event.actor for event in report.timeline] == [
        "user (permission prompt)", "user (app Settings)", "user (system Settings)", "MDM",
    ]


def test_no_gravatar_request_while_the_toggle_is_off() -> None:
    run = Run(document(
        {"step": "request_permission"},
        {"step": "fetch_avatars"},
        {"step": "enable_gravatar"},
        {"step": "disable_gravatar"},
        {"step": "fetch_avatars", "limit": 5},
        answers=["grant"],
    ))
    assert run.summaries[1] == "30 contacts: 0 avatars; none for disabled 30"
    assert run.summaries[4] == "5 contacts: 0 avatars; none for disabled 5"
    assert run.requests("gravatar") == []
    assert [event.what for event in run.report.timeline][-2:] == ["Gravatar on", "Gravatar off"]


@pytest.mark.parametrize(("kind", "place", "encoding", "where"), [
    (LeakKind.EMAIL, LeakPlace.QUERY, LeakEncoding.BASE64, "query:note"),
    (LeakKind.PHONE, LeakPlace.HEADER, LeakEncoding.PLAIN, "header:x-debug"),
    (LeakKind.NAME, LeakPlace.BODY_JSON, LeakEncoding.GZIP, "body:$.note"),
    (LeakKind.EMAIL, LeakPlace.PATH, LeakEncoding.PERCENT, "url.path"),
])
def test_a_leak_step_is_caught_and_named(
    kind: LeakKind, place: LeakPlace, encoding: LeakEncoding, where: str
) -> None:
    run = Run(document(
        {"step": "record_sms", "to": "+1 201 555 0123"},
        {"step": "flush"},
        {"step": "leak", "kind": kind.value, "place": place.value, "encoding": encoding.value},
    ))
    assert run.summaries[2].startswith(f"leak {kind}/{place}/{encoding} sent (HTTP ")
    findings = run.report.findings
    assert (kind.rule, where) in {(f.rule, f.place) for f in findings}
    assert {f.request_id for f in findings} == {len(run.report.requests)}  # the last request
    assert all(f.purpose == "n2net_api" and not f.blocked for f in findings)


def test_a_cookie_leak_is_stripped_by_the_chokepoint() -> None:
    run = Run(document({"step": "leak", "kind": "email", "place": "cookie"}))
    assert run.summaries[0].endswith("; the chokepoint stripped the cookie")
    assert run.report.clean


def test_a_leak_names_the_chosen_contact_redacted() -> None:
    book = {"contacts": [
        {"id": "a", "display_name": "Ann Lee", "emails": ["ann.lee@example.com"],
         "phones": [{"number": "+1 215 555 2671"}]},
    ]}
    run = Run(document(
        {"step": "leak", "kind": "email", "place": "header", "contact": "a"},
        address_book=book,
    ))
    text = run.report.to_json() + run.report.render_html() + "\n".join(run.summaries)
    assert Rule.PII_EMAIL in {f.rule for f in run.report.findings}
    assert "ann.lee" not in text.lower() and "2671" not in text.split("findings")[0]
    assert "a***@***" in text


def test_the_platform_refusing_a_step_is_a_scenario_error_on_its_line() -> None:
    text = document(
        {"step": "request_permission"},
        {"step": "request_permission"},
        platform={"os": "android", "api_level": 34},
        answers=["deny"],
    )
    with pytest.raises(ScenarioError) as info:
        Run(text)
    assert info.value.line is not None
    assert step_line_shows(text, info.value.line, "request_permission")
    assert step_line_shows(text, info.value.line - 3, "request_permission")  # the second one
    assert info.value.problem.startswith("steps[1] (request_permission): no scripted answer left")


@pytest.mark.parametrize("book", ["contacts.json", "contacts_v3.vcf"])
def test_a_book_file_is_read_relative_to_the_scenario(tmp_path: Path, book: str) -> None:
    (tmp_path / "books").mkdir()
    shutil.copy(FIXTURES / book, tmp_path / "books" / book)
    scenario = tmp_path / "s.json"
    scenario.write_text(document(
        {"step": "request_permission"}, {"step": "list_contacts"},
        {"step": "enable_gravatar"}, {"step": "fetch_avatars"},
        address_book={"path": f"books/{book}"}, answers=["grant"],
    ), encoding="utf-8")
    loaded = load_scenario(scenario)
    outcomes: list[StepOutcome] = []
    report = run_scenario(loaded, on_step=outcomes.append)
    assert outcomes[1].summary == f"granted: {plural(len(loaded.book), 'contact')} visible"
    assert report.clean
    assert report.title == "Privacy report: s.json"


def test_the_shipped_clean_example_has_no_findings_and_a_full_timeline() -> None:
    report = run_scenario(load_scenario(EXAMPLES / "clean.json"))
    assert report.clean, report.summary_lines()
    assert {row.purpose for row in report.requests} == {"gravatar", "n2net_api"}
    assert len(report.timeline) >= 5
    assert report.title.startswith("iOS 18")


def _shape(report: PrivacyReport) -> tuple[object, ...]:
    """Everything but the times: what must not change from run to run."""
    return (
        [(r.id, r.purpose, r.method, r.path, r.status, r.error, r.outcome)
         for r in report.requests if r.purpose == "n2net_api"],
        sorted((r.path, r.outcome) for r in report.requests if r.purpose == "gravatar"),
        [(f.request_id, f.rule, f.place, f.detail) for f in report.findings],
        [(e.actor, e.what) for e in report.timeline],
    )


def test_a_seeded_scenario_with_an_outage_gives_the_same_report_every_run() -> None:
    text = document(
        {"step": "request_permission"},
        {"step": "enable_gravatar"},
        {"step": "fetch_avatars", "limit": 3},
        {"step": "record_sms", "to": "+1 201 555 0187"},
        {"step": "server_outage", "down": True},
        {"step": "record_call", "to": "+1 201 555 0188", "duration_s": 3},
        {"step": "flush", "timeout_s": 0.3},
        {"step": "server_outage", "down": False},
        {"step": "leak", "kind": "email", "place": "query", "encoding": "base64"},
        {"step": "flush"},
        answers=["grant"],
    )
    reports = [run_scenario(parse_scenario(text)) for _ in range(3)]
    assert _shape(reports[0]) == _shape(reports[1]) == _shape(reports[2])
    outcomes = [r.outcome for r in reports[0].requests if r.purpose == "n2net_api"]
    assert "retried" in outcomes and outcomes[-1] == "sent"
    failed = [r for r in reports[0].requests if r.outcome == "retried"]
    assert all(r.status is None and r.error for r in failed)
    leak = [f for f in reports[0].findings if f.rule is Rule.PII_EMAIL]
    assert leak and {r.id for r in reports[0].requests} >= {f.request_id for f in leak}


def test_a_contact_in_any_loggers_record_during_the_run_is_a_log_finding() -> None:
    # Logs are an egress: an app logging a contact while the scenario runs is a leak.
    loaded = load_scenario(EXAMPLES / "clean.json")
    name = loaded.book[0].display_name
    app_log = logging.getLogger("the_app.contacts")

    def on_step(outcome: StepOutcome) -> None:
        app_log.warning("showing %s", name)

    report = run_scenario(loaded, on_step=on_step)
    (finding,) = report.findings
    assert (finding.rule, finding.place, finding.request_id) == (
        Rule.LOG_PII, "log:the_app.contacts", 0
    )
    assert name.lower() not in report.to_json().lower()
