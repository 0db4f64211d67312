"""The red-team matrix is caught, and no artefact of any leak carries a raw seeded value.

Artefacts: every ``Finding.describe()``, the ``assert_no_pii()`` message, the
block-mode exception, the JSON and HTML reports, the summary the CLI prints,
every log record, and the CLI's own stdout/stderr and report files.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from n2net_privacy.audit import PrivacyReport, report_for
from n2net_privacy.audit.auditor import EgressAuditor
from n2net_privacy.audit.corpus.leaky_client import LeakyClient, SeededLeak, leak_matrix
from n2net_privacy.audit.corpus.redteam import (
    REDTEAM_BOOK,
    REDTEAM_RAW,
    RedTeamLeak,
    redteam_matrix,
)
from n2net_privacy.audit.detectors import AddressBookPii, PiiDetector, fold
from n2net_privacy.audit.findings import AuditMode
from n2net_privacy.audit.report_schema import validate_report
from n2net_privacy.cli import main
from n2net_privacy.contacts.model import Contact
from n2net_privacy.egress import Egress
from n2net_privacy.errors import EgressPolicyError
from n2net_privacy.testing.synthetic import synthetic_address_book


def _raw_values(book: tuple[Contact, ...] | list[Contact]) -> list[str]:
    values: list[str] = []
    for contact in book:
        values.extend(e.lower() for e in contact.emails)
        values.extend(e.split("@")[0].lower().split("+")[0] for e in contact.emails)
        values.extend(w for w in fold(contact.display_name).split() if len(w) >= 4)
        values.extend("".join(ch for ch in p.number if ch.isdigit())[-10:]
                      for p in contact.phones)
    return [v for v in values if len(v) >= 4]


def _assert_clean(artefact: str, detector: PiiDetector, raw: list[str], what: str) -> None:
    low = fold(artefact)
    for value in raw:
        assert fold(value) not in low, f"raw {value!r} in {what}"
    found = [m for m in detector.scan(artefact) if m.kind.value != "not inspected"]
    assert found == [], f"PII in {what}: {[m.describe() for m in found]}"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _run_cell(
    send: object, book: tuple[Contact, ...] | list[Contact], mode: AuditMode,
    gravatar_on: bool = True,
) -> tuple[EgressAuditor, list[str]]:
    records = _Records()
    logger = logging.getLogger("n2net_privacy")
    logger.addHandler(records)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    egress = Egress(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    auditor = EgressAuditor(book, mode=mode, gravatar_consent=lambda: gravatar_on)
    egress.add_inspector(auditor)
    artefacts: list[str] = []
    try:
        try:
            send(egress)  # type: ignore[operator]
        except EgressPolicyError as exc:
            artefacts.append(str(exc))
            artefacts.append(repr(exc))
    finally:
        logger.removeHandler(records)
        logger.setLevel(old_level)
    try:
        auditor.assert_no_pii()
    except AssertionError as exc:
        artefacts.append(str(exc))
    report = report_for(auditor, egress.audit, generated_at=0.0)
    assert validate_report(json.loads(report.to_json())) == []
    artefacts += [f.describe() for f in auditor.findings()]
    artefacts += [report.to_json(), report.render_html(), "\n".join(report.summary_lines())]
    artefacts += records.lines
    return auditor, artefacts


def _send_redteam(leak: RedTeamLeak) -> object:
    def send(egress: Egress) -> None:
        request = leak.build()
        with egress.client(leak.purpose) as client:
            client.request(request.method, request.url, headers=request.headers,
                           content=request.content or None)

    return send


REDTEAM_DETECTOR = PiiDetector(AddressBookPii.from_contacts(REDTEAM_BOOK))
REDTEAM_VALUES = [*REDTEAM_RAW, *_raw_values(REDTEAM_BOOK)]


@pytest.mark.parametrize(
    "leak", [x for x in redteam_matrix() if x.door_refuses], ids=lambda leak: leak.name
)
def test_the_door_refuses_these_cells_before_any_byte_or_inspector(leak: RedTeamLeak) -> None:
    """The method, ``Host`` and ``Content-Length`` carriers cannot leave through the SDK."""
    sent: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    egress = Egress(transport=httpx.MockTransport(transport))
    with pytest.raises(EgressPolicyError) as refused:
        _send_redteam(leak)(egress)  # type: ignore[operator]
    assert sent == []
    assert [e.blocked for e in egress.audit.entries()] == [True]
    _assert_clean(str(refused.value), REDTEAM_DETECTOR, REDTEAM_VALUES, leak.name)


@pytest.mark.parametrize("mode", [AuditMode.RECORD, AuditMode.BLOCK], ids=str)
@pytest.mark.parametrize(
    "leak", [x for x in redteam_matrix() if not x.door_refuses], ids=lambda leak: leak.name
)
def test_every_redteam_leak_is_caught_and_no_artefact_is_raw(
    leak: RedTeamLeak, mode: AuditMode
) -> None:
    auditor, artefacts = _run_cell(_send_redteam(leak), REDTEAM_BOOK, mode, leak.gravatar_on)
    assert leak.rule in {f.rule for f in auditor.findings()}, leak.name
    for index, artefact in enumerate(artefacts):
        _assert_clean(artefact, REDTEAM_DETECTOR, REDTEAM_VALUES, f"{leak.name} artefact {index}")


def test_the_redteam_matrix_covers_every_category_of_the_issue() -> None:
    names = {leak.name for leak in redteam_matrix()}
    for needed in ("json-array-digits", "comma-separators", "underscore-separators",
                   "unicode-dashes", "undeclared-deflate", "undeclared-zlib", "gzip-twice",
                   "base64-gzip-in-json", "utf16-body", "punycode-domain", "json-in-json-u0040",
                   "bom-json", "multipart-base64-76", "cjk-in-cjk-text", "in-the-method",
                   "in-the-host-header", "in-content-length", "split-over-path-segments",
                   "hash-to-gravatar-while-off", "over-16-mib-decompressed",
                   "json-nested-too-deep"):
        assert any(name.endswith(needed) for name in names), needed


def test_an_email_hash_to_gravatar_is_fine_while_gravatar_is_on() -> None:
    leak = next(x for x in redteam_matrix() if x.name == "email/hash-to-gravatar-while-off")
    auditor, _ = _run_cell(_send_redteam(leak), REDTEAM_BOOK, AuditMode.RECORD, True)
    assert auditor.findings() == ()


BOOK = synthetic_address_book(20, seed=11)
VICTIM = next(c for c in BOOK if c.emails and c.phones and len(c.display_name) > 6)
DETECTOR = PiiDetector(AddressBookPii.from_contacts(BOOK))
VALUES = _raw_values([VICTIM])


@pytest.mark.parametrize("leak", [c for c in leak_matrix() if not c.stripped_by_chokepoint],
                         ids=str)
def test_no_artefact_of_the_original_matrix_is_raw(leak: SeededLeak) -> None:
    def send(egress: Egress) -> None:
        client = LeakyClient.for_contact(egress, VICTIM)
        try:
            client.send(leak)
        finally:
            client.close()

    auditor, artefacts = _run_cell(send, BOOK, AuditMode.BLOCK)
    assert auditor.findings()
    for index, artefact in enumerate(artefacts):
        _assert_clean(artefact, DETECTOR, VALUES, f"{leak} artefact {index}")


def test_cli_output_and_report_files_of_every_leak_step_are_not_raw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = [{"step": "leak", "kind": c.kind.value, "place": c.place.value,
              "encoding": c.encoding.value} for c in leak_matrix()]
    scenario = tmp_path / "every-leak.json"
    scenario.write_text(json.dumps({
        "version": 1, "platform": {"os": "android", "api_level": 34},
        "address_book": {"synthetic": {"count": 20, "seed": 11}},
        "steps": steps,
    }), encoding="utf-8")
    from n2net_privacy.scenario.checks import leak_source

    source = leak_source(tuple(BOOK))
    assert source is not None
    code = main(["audit", str(scenario), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    report_json = (tmp_path / "out" / "every-leak.privacy-report.json").read_text("utf-8")
    report_html = (tmp_path / "out" / "every-leak.privacy-report.html").read_text("utf-8")
    report = PrivacyReport.from_json(report_json)
    assert len(report.findings) >= len(steps) - 3  # every leak but the stripped cookies
    for what, artefact in (("stdout", out), ("stderr", err), ("json", report_json),
                           ("html", report_html)):
        _assert_clean(artefact, DETECTOR, _raw_values([source]), what)


@pytest.mark.parametrize("artefact", [
    "GET api.n2net.com/contacts/215/555/2671", "x 215\u2013555\u20132671", "Annabel Leeford",
    "annabel.leeford@example.com", "to 王小明", "body:$.215.555.2671",
])
def test_the_artefact_scan_itself_catches_raw_values(artefact: str) -> None:
    with pytest.raises(AssertionError):
        _assert_clean(artefact, REDTEAM_DETECTOR, REDTEAM_VALUES, "probe")
