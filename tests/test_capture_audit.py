"""Auditing captured exchanges: the same detectors as the egress, plus what captures need."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest

from n2net_privacy.audit.capture import CaptureAudit
from n2net_privacy.audit.destinations import DestinationPolicy
from n2net_privacy.audit.findings import Finding, Rule
from n2net_privacy.audit.har import HarExchange, OversizedEntry, WebSocketFrame
from n2net_privacy.contacts import Contact, ContactPhone

NAME = "Ada Lovelace"
EMAIL = "ada.lovelace@example.org"
NUMBER = "(215) 555-2671"
BOOK = [
    Contact(
        id="ada",
        display_name=NAME,
        phones=(ContactPhone(number=NUMBER, label="mobile"),),
        emails=(EMAIL,),
    )
]
RAW = [NAME, EMAIL, "2155552671", "215) 555-2671", "ada.lovelace"]
POLICY = DestinationPolicy.parse(
    json.dumps(
        {
            "destinations": [
                {"host": "api.n2net.com", "purpose": "n2net_api"},
                {"host": "gravatar.com", "purpose": "gravatar"},
                {"host": "cdn.n2net.com", "purpose": "assets"},
            ]
        }
    )
)


def exchange(index: int = 0, url: str = "https://cdn.n2net.com/x", **kw: Any) -> HarExchange:
    base: dict[str, Any] = {
        "index": index,
        "method": "GET",
        "url": url,
        "headers": (),
        "cookies": (),
        "body": b"",
        "status": 200,
        "response_headers": (),
        "response_body": b"",
        "started": "2026-11-30T10:00:00.000Z",
    }
    base.update(kw)
    return HarExchange(**base)


def audited(*exchanges: HarExchange) -> CaptureAudit:
    audit = CaptureAudit(BOOK, POLICY)
    for x in exchanges:
        audit.audit(x)
    return audit


def rules(audit: CaptureAudit) -> list[tuple[int, str, str]]:
    return [(f.request_id, f.rule.value, f.place) for f in audit.findings()]


def test_a_clean_capture_has_no_findings_and_one_entry_per_exchange() -> None:
    audit = audited(
        exchange(0), exchange(1, "https://api.n2net.com/v1/ping", method="POST", body=b"{}")
    )
    assert audit.findings() == ()
    assert [e.request_id for e in audit.log.entries()] == [1, 2]


@pytest.mark.parametrize(
    ("kw", "place"),
    [
        (
            {
                "method": "POST",
                "body": json.dumps({"note": EMAIL}).encode(),
                "headers": (("content-type", "application/json"),),
            },
            "body",
        ),
        ({"headers": (("x-debug", NAME),)}, "header:x-debug"),
        ({"cookies": (("who", base64.b64encode(EMAIL.encode()).decode()),)}, "header:cookie"),
        ({"url": "https://cdn.n2net.com/x?n=215-555-2671"}, "query"),
        ({"response_body": f"hello {NAME}".encode()}, "response."),
    ],
)
def test_pii_anywhere_in_the_exchange_is_found(kw: dict[str, Any], place: str) -> None:
    audit = audited(exchange(**kw))
    found = audit.findings()
    assert found, kw
    assert any(f.place.startswith(place) for f in found), [f.place for f in found]
    assert all(f.request_id == 1 and f.purpose == "assets" for f in found)


def test_an_undeclared_host_is_its_own_finding_and_plaintext_too() -> None:
    audit = audited(exchange(0, "https://tracker.example/p"), exchange(1, "http://cdn.n2net.com/x"))
    assert rules(audit) == [
        (1, Rule.DESTINATION_UNDECLARED.value, "request"),
        (2, Rule.DESTINATION_UNDECLARED.value, "request"),
        (2, Rule.TRANSPORT_PLAINTEXT.value, "request"),
    ]
    assert audit.findings()[0].purpose == "undeclared"


def test_a_gravatar_hash_is_allowed_only_to_gravatar() -> None:
    import hashlib

    digest = hashlib.md5(EMAIL.encode()).hexdigest()
    audit = audited(
        exchange(0, f"https://gravatar.com/avatar/{digest}?d=404"),
        exchange(1, f"https://cdn.n2net.com/img/{digest}"),
    )
    assert [(f.request_id, f.rule) for f in audit.findings()] == [(2, Rule.PII_EMAIL)]


def test_an_oversized_entry_is_not_inspected_not_passed() -> None:
    audit = CaptureAudit(BOOK, POLICY)
    audit.oversized(OversizedEntry(index=4, size=10**9))
    (finding,) = audit.findings()
    assert (finding.rule, finding.request_id) == (Rule.NOT_INSPECTED, 5)


def test_no_artefact_carries_a_raw_value() -> None:
    audit = audited(
        exchange(0, "https://tracker.example/contacts/215/555/2671", headers=(("x-n", NAME),)),
        exchange(1, method="POST", body=f"email={EMAIL}&name={NAME}".encode()),
        exchange(2, response_body=json.dumps({"u": EMAIL}).encode()),
    )
    report = audit.report()
    artefacts = [report.to_json(), report.render_html(), *report.summary_lines()]
    artefacts += [f.describe() for f in audit.findings()]
    assert len(audit.findings()) >= 4
    for text in artefacts:
        for raw in RAW:
            assert raw.lower() not in text.lower(), raw


def test_image_responses_are_skipped_but_svg_and_text_are_read() -> None:
    body = f"<text>{NAME}</text>".encode()
    audit = audited(
        exchange(0, response_body=body, response_type="image/png"),
        exchange(1, response_body=body, response_type="image/svg+xml"),
        exchange(2, response_body=body, response_type="text/html"),
    )
    assert sorted({f.request_id for f in audit.findings()}) == [2, 3]


# -- what a capture holds beyond a request and its response (issue 23) -----------------


def _places(found: tuple[Finding, ...] | list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule.value, f.place) for f in found]


def test_a_response_audited_on_its_own_is_found_once_and_named_as_the_response() -> None:
    # The addon inspects a request when it passes, and its response when that comes.
    audit = CaptureAudit(BOOK, POLICY)
    request_only = exchange(0, status=None)
    assert audit.audit(request_only, log=False) == ()
    leaky = exchange(0, response_body=json.dumps({"owner": NUMBER}).encode(),
                     response_headers=(("content-type", "application/json"),))
    found = audit.audit_response(leaky)
    assert _places(found) == [("pii.phone", "response.body:$.owner")]
    assert audit.findings() == found


def test_the_response_has_no_request_line_so_no_finding_invents_one() -> None:
    # A name in the method is the request's finding; the response must not repeat it.
    method = NAME.replace(" ", "-").upper()
    audit = audited(exchange(0, method=method, response_body=b"ok"))
    assert _places(audit.findings()) == [("pii.name", "method")]


@pytest.mark.parametrize("place", ["body", "response.body"])
def test_a_body_the_capture_did_not_hold_is_not_inspected_never_a_pass(place: str) -> None:
    why = "the capture recorded only the body's size (42 bytes), not its content"
    audit = audited(exchange(0, method="DELETE", unrecorded=((place, why),)))
    (finding,) = audit.findings()
    assert (finding.rule, finding.place, finding.request_id) == (Rule.NOT_INSPECTED, place, 1)
    assert finding.detail == f"not inspected: {why}"


def test_websocket_messages_are_audited_each_naming_its_frame_and_direction() -> None:
    frames = (
        WebSocketFrame(0, False, b'{"hello": "welcome"}'),
        WebSocketFrame(1, True, json.dumps({"contact": {"name": NAME}}).encode()),
        WebSocketFrame(2, False, f"echo {NUMBER}".encode()),
        WebSocketFrame(3, True, b"ping"),
    )
    audit = audited(exchange(0, "https://api.n2net.com/v1/socket", status=101, frames=frames))
    assert _places(audit.findings()) == [
        ("pii.phone", "websocket.received[2].body"),
        ("pii.name", "websocket.sent[1].body:$.contact.name"),
    ]
    # The addon's path: one message at a time, as it passes.
    live = CaptureAudit(BOOK, POLICY)
    x = exchange(0, "https://api.n2net.com/v1/socket", status=101)
    assert [_places(live.audit_frame(x, f)) for f in frames] == [
        [], [("pii.name", "websocket.sent[1].body:$.contact.name")],
        [("pii.phone", "websocket.received[2].body")], [],
    ]


@pytest.mark.parametrize("name", ["José Álvarez", "山田太郎"])
def test_a_non_ascii_multipart_file_name_is_caught(name: str) -> None:
    # RFC 7578 §4.2: browsers and HTTP libraries send the file name as raw UTF-8.
    book = [Contact(id="x", display_name=name, phones=(), emails=())]
    body = (
        "--b\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"{name}.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    ).encode()
    audit = CaptureAudit(book, POLICY)
    found = audit.audit(exchange(0, "https://api.n2net.com/v1/upload", method="POST", body=body,
                                 headers=(("content-type", "multipart/form-data; boundary=b"),)))
    assert _places(found) == [("pii.name", "body:part:file")]


def _calls_per_audit(audit: CaptureAudit, x: HarExchange) -> int:
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        audit.audit(x)
    finally:
        sys.setprofile(None)
    return calls


def test_the_cost_of_a_request_does_not_grow_with_the_findings_stored() -> None:
    # Counted in function calls, not seconds: deterministic on a busy machine.
    audit = CaptureAudit(BOOK, POLICY)

    def leaky(i: int) -> HarExchange:
        return exchange(i, "https://cdn.n2net.com/x", headers=(("x-debug", NAME),))

    for i in range(5):
        audit.audit(leaky(i))
    early = _calls_per_audit(audit, leaky(5))
    for i in range(6, 1500):
        audit.audit(leaky(i))
    late = _calls_per_audit(audit, leaky(1500))
    assert len(audit.findings()) == 1501
    assert late <= early + 5, (early, late)
