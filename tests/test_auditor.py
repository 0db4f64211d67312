"""The egress auditor: every seeded leak is caught, legitimate traffic is not flagged."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from n2net_privacy.audit.auditor import EgressAuditor
from n2net_privacy.audit.corpus.leaky_client import LeakyClient, SeededLeak, leak_matrix
from n2net_privacy.audit.detectors import AddressBookPii
from n2net_privacy.audit.findings import AuditMode, Finding, Rule
from n2net_privacy.contacts.model import Contact, ContactPhone
from n2net_privacy.egress import Egress, EgressPolicy, OutgoingRequest, Purpose
from n2net_privacy.errors import EgressPolicyError
from n2net_privacy.gravatar.hashing import gravatar_hash
from n2net_privacy.gravatar.url import avatar_url
from n2net_privacy.testing.synthetic import synthetic_address_book
from n2net_privacy.uploader.wire import (
    EVENTS_PATH,
    EventBatch,
    ServerKeyPair,
    WireEvent,
    encode_batch,
    request_headers,
    seal,
)

ZOE = Contact(
    id="c1",
    display_name="Zoë Ødegaard",
    phones=(ContactPhone(number="+44 7400 123456", label="mobile"),),
    emails=("Zoe.Odegaard+news@Example.co.uk",),
)
ANN = Contact(
    id="c2",
    display_name="Ann Lee",
    phones=(ContactPhone(number="(201) 555-0123"),),
    emails=("ann@example.com",),
)
BOOK = (ZOE, ANN)
RAW_PII = ("zoe.odegaard", "odegaard", "zoë", "ødegaard", "ann@example.com", "7400123456",
           "123456", "5550123", "ann lee")
API = "https://api.n2net.com"
KEYS = ServerKeyPair.generate()
AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Wire:
    """A loopback-free 'network': records what actually left the chokepoint."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json={"accepted": [], "duplicates": []})


def _rig(
    mode: AuditMode | str = "record", **auditor_kwargs: object
) -> tuple[Egress, EgressAuditor, Wire]:
    wire = Wire()
    egress = Egress(transport=httpx.MockTransport(wire))
    auditor = EgressAuditor(BOOK, mode=mode, region="US", **auditor_kwargs)  # type: ignore[arg-type]
    egress.add_inspector(auditor)
    return egress, auditor, wire


def _assert_redacted(text: str) -> None:
    low = text.lower()
    for raw in RAW_PII:
        assert raw not in low, f"raw PII {raw!r} in {text!r}"


# --- the seeded-leak matrix: kind x place x encoding, in both modes ---------------------


@pytest.mark.parametrize("mode", [AuditMode.BLOCK, AuditMode.RECORD], ids=str)
@pytest.mark.parametrize("leak", leak_matrix(), ids=str)
def test_every_seeded_leak_is_caught(leak: SeededLeak, mode: AuditMode) -> None:
    egress, auditor, wire = _rig(mode)
    client = LeakyClient.for_contact(egress, ZOE)

    if leak.stripped_by_chokepoint:
        # The chokepoint drops Cookie before inspectors run: the leak never leaves.
        client.send(leak)
        assert len(wire.sent) == 1
        assert "cookie" not in wire.sent[0].headers
        assert auditor.findings() == ()
        return

    if mode is AuditMode.BLOCK:
        with pytest.raises(EgressPolicyError) as info:
            client.send(leak)
        assert wire.sent == []  # nothing left the device
        assert egress.audit.entries()[-1].blocked
        _assert_redacted(str(info.value))
    else:
        client.send(leak)
        assert len(wire.sent) == 1  # it went, and was recorded

    findings = auditor.findings()
    assert (leak.kind.rule, leak.place.finding_place) in {(f.rule, f.place) for f in findings}
    # Precise: nothing else in the request is blamed.
    assert {f.place for f in findings} == {leak.place.finding_place}
    assert all(f.blocked is (mode is AuditMode.BLOCK) for f in findings)
    for finding in findings:
        _assert_redacted(finding.describe())


def test_matrix_covers_every_kind_place_and_encoding() -> None:
    cells = leak_matrix()
    assert {c.kind for c in cells} == {"email", "name", "phone"}
    assert {c.place for c in cells} == {"path", "query", "header", "body_json", "body_form",
                                        "cookie"}
    assert {c.encoding for c in cells} == {"plain", "percent", "base64", "gzip", "upper"}
    assert len(cells) == 3 * (6 * 4 + 2)


def test_a_cookie_header_is_caught_when_a_chokepoint_lets_it_through() -> None:
    auditor = EgressAuditor(BOOK, mode="block")
    request = OutgoingRequest(
        purpose=Purpose.N2NET_API, method="GET", url=f"{API}/x", scheme="https",
        host="api.n2net.com", path="/x", query="",
        headers=(("cookie", "session=ann@example.com"),), content=b"",
    )
    with pytest.raises(EgressPolicyError):
        auditor.inspect(request)
    found = {(f.rule, f.place) for f in auditor.findings()}
    # The local part "ann" is also Ann Lee's given name: both are reported.
    assert found == {(Rule.PII_EMAIL, "header:cookie"), (Rule.PII_NAME, "header:cookie")}


# --- legitimate SDK traffic: zero findings -------------------------------------------


def _batch(events: list[WireEvent]) -> bytes:
    return encode_batch(EventBatch.of(events))


def _post_sealed(egress: Egress, plaintext: bytes, path: str = EVENTS_PATH) -> None:
    headers = request_headers("app-key-0123", str(uuid.uuid4()), KEYS.key_id)
    egress.client(Purpose.N2NET_API).request(
        "POST", f"{API}{path}", headers=headers, content=seal(plaintext, KEYS.public)
    )


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_gravatar_hash_requests_are_not_findings(algorithm: str) -> None:
    egress, auditor, wire = _rig("block")
    client = egress.client(Purpose.GRAVATAR)
    for email in (*ZOE.emails, *ANN.emails):
        client.request("GET", avatar_url(gravatar_hash(email, algorithm)))
    assert len(wire.sent) == 2
    assert auditor.findings() == ()
    flows = {f.destination: f.categories for f in auditor.data_flows()}
    assert flows == {"gravatar.com": (f"email hash ({algorithm})",)}


def test_a_gravatar_hash_outside_the_gravatar_path_is_a_finding() -> None:
    egress, auditor, _ = _rig()
    digest = gravatar_hash(ANN.emails[0])
    egress.client(Purpose.GRAVATAR).request("GET", f"https://gravatar.com/avatar/x?h={digest}")
    egress.client(Purpose.N2NET_API).request("GET", f"{API}/avatar/{digest}")
    places = [(f.rule, f.place, f.detail) for f in auditor.findings()]
    assert places == [
        (Rule.PII_EMAIL, "query:h", "email hash a***@*** (md5)"),
        (Rule.PII_EMAIL, "url.path", "email hash a***@*** (md5)"),
    ]


@pytest.mark.parametrize("with_key", [True, False])
def test_a_legitimate_sealed_batch_is_not_a_finding(with_key: bool) -> None:
    key = KEYS.private_key if with_key else None
    egress, auditor, wire = _rig("block", server_private_key=key)
    events = [
        WireEvent.sms(uuid.uuid4(), "+447400123456", AT),
        WireEvent.call(uuid.uuid4(), "+12015550123", AT, 42),
    ]
    _post_sealed(egress, _batch(events))
    assert len(wire.sent) == 1
    assert auditor.findings() == ()
    expected = (
        ("SMS metadata (time)", "call metadata (time, duration)", "phone number (E.164)")
        if with_key
        else ("sealed event batch (not opened)",)
    )
    assert auditor.data_flows()[0].categories == expected


def _tampered(change: str) -> bytes:
    document = json.loads(_batch([WireEvent.sms(uuid.uuid4(), "+447400123456", AT)]))
    event = document["events"][0]
    if change == "non_e164":
        event["number"] = "07400 123456"
    elif change == "not_canonical":
        event["number"] = "+4407400123456"
    elif change == "extra_field":
        event["note"] = "hi"
    elif change == "extra_top":
        document["device"] = "pixel"
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("change", "rule", "place"),
    [
        ("non_e164", Rule.EVENTS_NON_E164, "sealed:$.events[0].number"),
        ("not_canonical", Rule.EVENTS_NON_E164, "sealed:$.events[0].number"),
        ("extra_field", Rule.EVENTS_SCHEMA, "sealed:$.events[0].note"),
        ("extra_top", Rule.EVENTS_SCHEMA, "sealed:$.device"),
    ],
)
def test_a_bad_sealed_batch_is_caught_with_the_server_key(
    change: str, rule: Rule, place: str
) -> None:
    egress, auditor, wire = _rig("block", server_private_key=KEYS.private_key)
    with pytest.raises(EgressPolicyError):
        _post_sealed(egress, _tampered(change))
    assert wire.sent == []
    assert [(f.rule, f.place) for f in auditor.findings()] == [(rule, place)]
    _assert_redacted(auditor.findings()[0].describe())


def test_pii_hidden_in_an_extra_field_of_a_sealed_batch_is_named() -> None:
    egress, auditor, _ = _rig(server_private_key=KEYS.private_key)
    document = json.loads(_tampered("extra_field"))
    document["events"][0]["note"] = "lunch with Ann Lee"
    _post_sealed(egress, json.dumps(document).encode())
    assert {(f.rule, f.place) for f in auditor.findings()} == {
        (Rule.EVENTS_SCHEMA, "sealed:$.events[0].note"),
        (Rule.PII_NAME, "sealed:$.events[0].note"),
    }


def test_a_name_as_an_extra_key_is_not_echoed_in_the_place() -> None:
    egress, auditor, _ = _rig(server_private_key=KEYS.private_key)
    document = json.loads(_tampered("none"))
    document["events"][0]["Ann Lee"] = 1
    _post_sealed(egress, json.dumps(document).encode())
    places = {f.place for f in auditor.findings()}
    assert places == {"sealed:$.events[0].[redacted]"}
    for finding in auditor.findings():
        _assert_redacted(finding.describe())


def test_numbers_in_a_sealed_body_elsewhere_are_findings() -> None:
    egress, auditor, _ = _rig(server_private_key=KEYS.private_key)
    _post_sealed(egress, _batch([WireEvent.sms(uuid.uuid4(), "+447400123456", AT)]), "/v1/debug")
    assert [f.rule for f in auditor.findings()] == [Rule.PII_PHONE]


def test_a_body_the_key_cannot_open_is_a_schema_finding() -> None:
    egress, auditor, _ = _rig(server_private_key=ServerKeyPair.generate().private_key)
    _post_sealed(egress, _batch([WireEvent.sms(uuid.uuid4(), "+447400123456", AT)]))
    assert [(f.rule, f.place) for f in auditor.findings()] == [(Rule.EVENTS_SCHEMA, "sealed")]


def test_an_unsealed_event_body_with_a_number_is_a_phone_leak() -> None:
    egress, auditor, _ = _rig()
    body = _batch([WireEvent.sms(uuid.uuid4(), "+447400123456", AT)])
    egress.client(Purpose.N2NET_API).request(
        "POST", f"{API}{EVENTS_PATH}", headers={"content-type": "application/json"}, content=body
    )
    assert [(f.rule, f.place) for f in auditor.findings()] == [
        (Rule.PII_PHONE, "body:$.events[0].number")
    ]


# --- host and transport rules ----------------------------------------------------------


def _permissive_egress(hosts: frozenset[str], wire: Wire) -> Egress:
    policy = EgressPolicy(
        allowed_hosts={Purpose.N2NET_API: hosts, Purpose.GRAVATAR: hosts}, test_mode=True
    )
    return Egress(policy, transport=httpx.MockTransport(wire))


def test_a_host_outside_the_auditors_allowlist_is_a_finding() -> None:
    wire = Wire()
    egress = _permissive_egress(frozenset({"api.n2net.com", "collector.example"}), wire)
    auditor = EgressAuditor(BOOK, mode="block")
    egress.add_inspector(auditor)
    with pytest.raises(EgressPolicyError) as info:
        egress.client(Purpose.N2NET_API).request("GET", "https://collector.example/ping")
    assert info.value.host == "collector.example"
    egress.client(Purpose.N2NET_API).request("GET", f"{API}/ping")
    assert [(f.rule, f.host) for f in auditor.findings()] == [
        (Rule.HOST_NOT_ALLOWED, "collector.example")
    ]
    assert len(wire.sent) == 1


@pytest.mark.parametrize(("allow_loopback_http", "expected"), [
    (False, [Rule.TRANSPORT_PLAINTEXT]),
    (True, []),
])
def test_plaintext_http_is_a_finding_unless_loopback_is_allowed(
    allow_loopback_http: bool, expected: list[Rule]
) -> None:
    egress = _permissive_egress(frozenset({"127.0.0.1"}), Wire())
    auditor = EgressAuditor(
        BOOK,
        allowed_hosts={Purpose.N2NET_API: {"127.0.0.1"}},
        allow_loopback_http=allow_loopback_http,
    )
    egress.add_inspector(auditor)
    egress.client(Purpose.N2NET_API).request("GET", "http://127.0.0.1:8080/ping")
    assert [f.rule for f in auditor.findings()] == expected


def test_plaintext_to_a_remote_host_is_a_finding_even_with_loopback_allowed() -> None:
    auditor = EgressAuditor(
        AddressBookPii(), allowed_hosts={Purpose.N2NET_API: {"api.n2net.com"}},
        allow_loopback_http=True,
    )
    request = OutgoingRequest("GET", "http://api.n2net.com/", purpose=Purpose.N2NET_API)
    auditor.inspect(request)
    assert [f.rule for f in auditor.findings()] == [Rule.TRANSPORT_PLAINTEXT]


# --- reporting surface -------------------------------------------------------------------


def test_assert_no_pii_passes_when_clean_and_lists_findings_redacted() -> None:
    egress, auditor, _ = _rig()
    auditor.assert_no_pii()
    client = egress.client(Purpose.N2NET_API)
    client.request("GET", f"{API}/u/Ann Lee?mail=ann%40example.com")
    with pytest.raises(AssertionError) as info:
        auditor.assert_no_pii()
    message = str(info.value)
    # The name in the path, the email in the query, and "ann" (a given name) inside it.
    assert "3 findings in 1 request" in message
    assert "pii.email at query:mail: email a***@*** (percent-encoded)" in message
    assert "pii.name at url.path: name A. L. (plain)" in message
    assert "pii.name at query:mail" in message
    assert "/u/[name]" in message
    _assert_redacted(message)


def test_a_pii_host_is_masked_in_findings() -> None:
    wire = Wire()
    egress = _permissive_egress(frozenset({"ann-lee.example"}), wire)
    auditor = EgressAuditor(BOOK)
    egress.add_inspector(auditor)
    egress.client(Purpose.N2NET_API).request("GET", "https://ann-lee.example/")
    assert {f.host for f in auditor.findings()} == {"[redacted]"}
    assert {f.rule for f in auditor.findings()} == {Rule.HOST_NOT_ALLOWED, Rule.PII_NAME}
    assert auditor.data_flows()[0].destination == "[redacted]"


def test_blocked_requests_add_no_data_flow_and_clear_forgets() -> None:
    egress, auditor, _ = _rig("block")
    with pytest.raises(EgressPolicyError):
        egress.client(Purpose.N2NET_API).request("GET", f"{API}/?e=ann@example.com")
    assert auditor.data_flows() == ()
    egress.client(Purpose.N2NET_API).request("GET", f"{API}/ok")
    assert auditor.data_flows()[0].categories == ("no personal data found",)
    assert auditor.requests_seen == 2
    auditor.clear()
    assert auditor.findings() == ()
    assert auditor.data_flows() == ()


def test_mode_must_be_known() -> None:
    with pytest.raises(ValueError, match="audit"):
        EgressAuditor(BOOK, mode="audit")


def test_request_ids_are_unique_under_concurrency() -> None:
    auditor = EgressAuditor(BOOK)
    request = OutgoingRequest("GET", f"{API}/?e=ann@example.com", purpose=Purpose.N2NET_API)

    def hammer() -> None:
        for _ in range(50):
            auditor.inspect(request)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [f.request_id for f in auditor.findings() if f.rule is Rule.PII_EMAIL]
    assert sorted(ids) == list(range(1, 201))


# --- no false positives on a realistic book and realistic traffic ---------------------


def test_a_synthetic_book_and_real_sdk_traffic_give_zero_findings() -> None:
    book = synthetic_address_book(150, seed=11)
    wire = Wire()
    egress = Egress(transport=httpx.MockTransport(wire))
    auditor = EgressAuditor(book, mode="block", server_private_key=KEYS.private_key)
    egress.add_inspector(auditor)
    gravatar = egress.client(Purpose.GRAVATAR)
    for contact in book:
        for email in contact.emails:
            gravatar.request("GET", avatar_url(gravatar_hash(email), size=128))
    numbers = [f"+1201555{n:04d}" for n in range(100, 150)]
    events = [WireEvent.call(uuid.uuid4(), n, AT, 30) for n in numbers]
    _post_sealed(egress, _batch(events))
    assert auditor.findings() == ()
    assert len(wire.sent) == auditor.requests_seen


def test_findings_are_frozen() -> None:
    finding = Finding(Rule.PII_NAME, 1, "n2net_api", "GET", "h", "/", "url.path", "name A. L.")
    with pytest.raises(AttributeError):
        finding.rule = Rule.PII_EMAIL  # type: ignore[misc]


def test_allowlist_entries_with_a_port_name_their_host() -> None:
    """The door's ``host:port`` entries (issue 10) are hosts to the auditor, not unknown names."""
    from n2net_privacy.egress.policy import OutgoingRequest, Purpose

    auditor = EgressAuditor((), allowed_hosts={Purpose.N2NET_API: ["api.n2net.com:8443"]})
    auditor.inspect(
        OutgoingRequest("POST", "https://api.n2net.com:8443/v1/x", purpose=Purpose.N2NET_API)
    )
    assert auditor.findings() == ()


def test_ohttp_ciphertext_to_a_relay_is_opaque_but_plaintext_posing_as_it_is_not() -> None:
    """Random ciphertext can spell a short name; a body that is not OHTTP-framed is read."""
    from n2net_privacy.egress.policy import OutgoingRequest, Purpose

    name = "Ada Lovelace"
    book = [Contact(id="a", display_name=name, emails=("ada.lovelace@example.org",))]
    auditor = EgressAuditor(book, allowed_hosts={Purpose.OHTTP_RELAY: ["relay.example"]})
    header = bytes([1, 0x00, 0x20, 0x00, 0x01, 0x00, 0x01])
    framed = header + bytes(32) + f"..{name}..".encode() + bytes(16)
    posing = f'{{"note": "{name}"}}'.encode()
    for body in (framed, posing):
        auditor.inspect(
            OutgoingRequest(
                "POST", "https://relay.example/", purpose=Purpose.OHTTP_RELAY,
                headers=(("content-type", "message/ohttp-req"),), content=body,
            )
        )
    assert [(f.request_id, f.rule.value) for f in auditor.findings()] == [(2, "pii.name")]
