"""JUnit XML and JSON reports of a conformance run: what a CI system reads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from n2net_privacy.testing.conformance import CheckResult, Report, Verdict, json_report, junit_xml

REPORT = Report(
    target="https://ingest.example/v1/events",
    results=(
        CheckResult("valid-batch-accepted", "A valid batch is accepted.", Verdict.PASSED,
                    "", 0.0123),
        CheckResult("unknown-key-id", "401 <unknown_key_id> & \"rotation\".", Verdict.FAILED,
                    'expected 401, got 500 & "<oops>"', 0.5),
        CheckResult("retry-after-parseable", "Retry-After is readable.", Verdict.SKIPPED,
                    "no 429 or 503 was met", 0.0),
        CheckResult("replies-within-timeout", "Answers in time.", Verdict.PASSED,
                    "slowest of 3 replies: 0.010 s", 0.0),
    ),
)


def test_junit_has_one_test_case_per_check_with_its_verdict() -> None:
    root = ET.fromstring(junit_xml(REPORT))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "skipped", "errors")} == {
        "tests": "4", "failures": "1", "skipped": "1", "errors": "0",
    }
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [r.name for r in REPORT.results]
    assert cases[0].get("time") == "0.012" and cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == 'expected 401, got 500 & "<oops>"'  # escaped, round-trips
    assert "Contract: 401 <unknown_key_id>" in (failure.text or "")
    skipped = cases[2].find("skipped")
    assert skipped is not None and skipped.get("message") == "no 429 or 503 was met"
    assert cases[3].findtext("system-out") == "slowest of 3 replies: 0.010 s"
    contracts = [c.find("properties/property[@name='contract']") for c in cases]
    assert [p.get("value") for p in contracts if p is not None] == [
        r.contract for r in REPORT.results
    ]
    target = suite.find("properties/property[@name='target']")
    assert target is not None and target.get("value") == REPORT.target


def test_junit_starts_with_an_xml_declaration() -> None:
    assert junit_xml(REPORT).startswith(b"<?xml version='1.0' encoding='utf-8'?>")


def test_json_has_counts_and_one_object_per_check() -> None:
    document = json.loads(json_report(REPORT))
    assert (document["passed"], document["failed"], document["skipped"]) == (2, 1, 1)
    assert document["target"] == REPORT.target
    assert [c["name"] for c in document["checks"]] == [r.name for r in REPORT.results]
    assert document["checks"][1] == {
        "name": "unknown-key-id", "verdict": "failed",
        "message": 'expected 401, got 500 & "<oops>"', "duration_s": 0.5,
        "contract": "401 <unknown_key_id> & \"rotation\".",
    }


def test_exit_code_and_failed_names() -> None:
    assert REPORT.exit_code == 1 and REPORT.failed == ("unknown-key-id",)
    passing = Report(REPORT.target, (REPORT.results[0], REPORT.results[2]))
    assert passing.exit_code == 0 and passing.count(Verdict.SKIPPED) == 1
