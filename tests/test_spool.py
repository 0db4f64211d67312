"""Request rows on disk: the same report as in memory, in memory that does not grow."""

from __future__ import annotations

import io
import json
import tracemalloc
from dataclasses import replace
from pathlib import Path

from n2net_privacy.audit.findings import DataFlow, Finding, Rule
from n2net_privacy.audit.report import build_report
from n2net_privacy.audit.spool import RequestSpool
from n2net_privacy.cli.audit_har import run as audit_har
from n2net_privacy.egress.policy import AuditEntry, Purpose

T0 = 1_790_000_000.0


def _entries() -> list[AuditEntry]:
    def entry(i: int, path: str, status: int | None, **kw: object) -> AuditEntry:
        return AuditEntry(at=T0 + i, purpose=Purpose.N2NET_API, method="POST",
                          host="api.n2net.com", path=path, request_bytes=100 + i,
                          status=status, request_id=i + 1, **kw)  # type: ignore[arg-type]

    return [
        entry(0, "/v1/events", 503),            # retried by #3
        entry(1, "/v1/ping", 200),
        entry(2, "/v1/other", None, error="ConnectTimeout"),  # never again: failed
        entry(3, "/v1/events", 429),            # retried by #5
        entry(4, "/v1/x", None, blocked=True),
        entry(5, "/v1/events", 200),
        entry(6, "/v1/événement", 201),
    ]


def test_spooled_rows_are_the_rows_build_report_gives() -> None:
    spool = RequestSpool()
    try:
        for e in _entries():
            spool.record(e)
        expected = build_report(generated_at=T0 + 99, entries=_entries())
        rows = spool.rows(expected.started_at)
        assert tuple(rows) == expected.requests
        assert (len(rows), rows[-1], rows[1:3]) == (7, expected.requests[-1],
                                                     expected.requests[1:3])
        assert [r.outcome for r in rows] == [
            "retried", "sent", "failed", "retried", "blocked", "sent", "sent"]
    finally:
        spool.close()


def test_streamed_json_and_html_are_the_in_memory_texts() -> None:
    finding = Finding(Rule.PII_NAME, 2, "n2net_api", "POST", "api.n2net.com", "/v1/ping",
                      "header:x-ñ", "name A. L. (plain)")
    memory = build_report(
        generated_at=T0 + 99, entries=_entries(), findings=[finding],
        flows=[DataFlow("api.n2net.com", "n2net_api", ("x",))],
        timeline=[(T0, "user", "granted — “full”")], title="Report ✓",
    )
    spool = RequestSpool()
    try:
        for e in _entries():
            spool.record(e)
        spooled = replace(memory, requests=spool.rows(memory.started_at))
        assert spooled.to_json() == json.dumps(memory.to_dict(), indent=2, ensure_ascii=False)
        out = io.StringIO()
        spooled.write_html(out)
        assert out.getvalue() == memory.render_html()
        empty = replace(memory, requests=(), timeline=(), flows=(), findings=())
        assert empty.to_json() == json.dumps(empty.to_dict(), indent=2, ensure_ascii=False)
    finally:
        spool.close()


def _capture(path: Path, entries: int) -> None:
    entry = {
        "startedDateTime": "2026-11-30T10:00:00.000Z",
        # One URL for all: the detectors' caches (bounded, 8,192 texts) stay as they are.
        "request": {"method": "GET", "url": "https://api.n2net.com/v1/items", "headers": []},
        "response": {"status": 200, "headers": [],
                     "content": {"mimeType": "application/json", "text": "{}"}},
    }
    text = json.dumps(entry)
    with path.open("w") as out:
        out.write('{"log": {"version": "1.2", "entries": [')
        out.write(",".join([text] * entries))
        out.write("]}}")


class _Null(io.StringIO):
    def isatty(self) -> bool:
        return False


def _peak(tmp: Path, entries: int) -> int:
    capture, book = tmp / f"c{entries}.har", tmp / "book.json"
    _capture(capture, entries)
    book.write_text(json.dumps({"contacts": [{"id": "a", "display_name": "Ada Lovelace"}]}))
    tracemalloc.start()
    try:
        code = audit_har(capture, contacts=book, policy=None, json_path=tmp / f"{entries}.json",
                         html_path=tmp / f"{entries}.html", stdout=_Null(), stderr=_Null())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0
    report = json.loads((tmp / f"{entries}.json").read_text())
    assert len(report["requests"]) == entries
    return peak


def test_audit_har_memory_does_not_grow_with_the_number_of_entries(tmp_path: Path) -> None:
    _peak(tmp_path, 10)  # imports and caches: the fixed cost, out of the way
    few, many = _peak(tmp_path, 300), _peak(tmp_path, 3000)
    # Kept in memory, 2,700 more rows (entry, row, JSON and HTML text) would be megabytes.
    assert many - few < 512 * 1024, (few, many)
