"""The uploader against the reference ingest server over real TLS on loopback (trustme)."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from _support import Recorder

from n2net_privacy.contacts.model import ContactPhone
from n2net_privacy.egress import Egress, EgressPolicy, PinSet, Purpose, spki_sha256
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import Endpoint, UploaderEvents
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import SenderConfig, SendState, SendStatus
from n2net_privacy.uploader.wire import ServerKeyPair

KEYS = ServerKeyPair.generate(key_id="k1")
APP_KEY = "app-key-1"
FAST = SenderConfig(linger_s=0.0, backoff_base_s=0.02, backoff_cap_s=0.1)
# Linger long enough that a test's records all land in one batch, cut by flush().
ONE_BATCH = SenderConfig(linger_s=1.0, backoff_base_s=0.02, backoff_cap_s=0.1)
POLICY = EgressPolicy(allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})})
PINS_EXPIRE = datetime.date(2100, 1, 1)  # pin sets need an expiry and a backup pin


@dataclass
class Tls:
    server: IngestServer
    client_ctx: ssl.SSLContext
    pin: str


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls(ca: trustme.CA) -> Iterator[Tls]:
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    pin = spki_sha256(ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode()))
    with IngestServer(KEYS, app_key=APP_KEY, tls=server_ctx) as server:
        yield Tls(server, client_ctx, pin)

def make(tmp_path: Path, tls: Tls, **kwargs: object) -> Uploader:
    options: dict[str, object] = {
        "key_store": FileKeyStore(tmp_path / "keys"),
        "egress": Egress(POLICY, verify=tls.client_ctx),
        "region": "US",
        "sending": FAST,
    }
    options.update(kwargs)
    endpoint = Endpoint(tls.server.url, APP_KEY, KEYS.public)
    return Uploader(endpoint, tmp_path, **options)  # type: ignore[arg-type]


def test_records_arrive_sealed_with_exactly_the_v1_keys(tmp_path: Path, tls: Tls) -> None:
    assert tls.server.url.startswith("https://")
    with make(tmp_path, tls, sending=ONE_BATCH) as uploader:
        ids = [
            uploader.record_sms("(201) 555-0123").event_id,
            uploader.record_call(ContactPhone(number="+44 20 7946 0958"), 61).event_id,
            uploader.record_sms("+1 201-555-0124").event_id,
        ]
        assert uploader.flush(5)
    assert sorted(e.id for e in tls.server.events()) == sorted(ids)  # type: ignore[type-var]
    (request,) = tls.server.requests()
    assert request.status == 200
    assert set(request.headers) >= {"authorization", "idempotency-key", "n2net-key-id"}
    plaintext = json.loads(KEYS.open(request.body))
    assert set(plaintext) == {"schema", "events"}
    assert [set(e) for e in plaintext["events"]] == [
        {"id", "type", "number", "at"},
        {"id", "type", "number", "at", "duration_s"},
        {"id", "type", "number", "at"},
    ]
    assert [e["number"] for e in plaintext["events"]] == [
        "+12015550123", "+442079460958", "+12015550124",
    ]


def test_server_down_then_back_the_queue_drains(tmp_path: Path, tls: Tls) -> None:
    statuses = Recorder[SendStatus]()
    tls.server.stop()
    with make(tmp_path, tls, events=UploaderEvents(on_status=statuses)) as uploader:
        recorded = [uploader.record_sms(f"+1201555{i:04d}").event_id for i in range(300)]
        recorded += [uploader.record_call(f"+1201555{i:04d}", i).event_id for i in range(300)]
        assert uploader.flush(0.3) is False
        assert uploader.pending().events == 600
        assert statuses.wait_for(lambda seen: SendState.RETRYING in {s.state for s in seen})
        tls.server.start()  # same port, same events
        assert uploader.flush(10)
        assert uploader.pending().events == 0
    stored = [e.id for e in tls.server.events()]
    assert len(stored) == 600
    assert sorted(stored) == sorted(recorded)  # type: ignore[type-var]
    delivered = sum(s.events for s in statuses if s.state is SendState.DELIVERED)
    assert delivered == 600


def test_injected_failures_are_retried_and_stored_once(tmp_path: Path, tls: Tls) -> None:
    tls.server.fail_next(2, status=503, retry_after="0")
    tls.server.fail_next(1, status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    tls.server.reset_next_connection(1)
    tls.server.reset_next_connection(1, after_processing=True)  # the 200 is lost on the way
    with make(tmp_path, tls, sending=ONE_BATCH) as uploader:
        ids = [uploader.record_sms(f"+1201555{i:04d}").event_id for i in range(40)]
        assert uploader.flush(10)
    assert sorted(e.id for e in tls.server.events()) == sorted(ids)  # type: ignore[type-var]
    keys = {r.headers["idempotency-key"] for r in tls.server.requests()}
    assert len(keys) == 1  # one batch, one key, on every retry
    assert [r.status for r in tls.server.requests()] == [503, 503, 429, None, None, 200]
    assert tls.server.requests()[-1].replayed  # the server had it; it replayed its reply


def test_real_413_is_split_until_it_fits(tmp_path: Path, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with IngestServer(KEYS, app_key=APP_KEY, tls=server_ctx, max_body_bytes=3000) as server:
        tls = Tls(server, client_ctx, "")
        # One batch of all 100 (cut by flush), so the first POST is surely too large.
        with make(tmp_path, tls, sending=ONE_BATCH) as uploader:
            for i in range(100):
                uploader.record_sms(f"+1201555{i:04d}")
            assert uploader.flush(10)
            assert uploader.dead_letter_counts() == {}
        assert server.count() == 100
        assert 413 in {r.status for r in server.requests()}


def test_pin_mismatch_sends_nothing_and_keeps_events(tmp_path: Path, tls: Tls) -> None:
    statuses = Recorder[SendStatus]()
    wrong = Egress(
        POLICY, verify=tls.client_ctx,
        pins={Purpose.N2NET_API: PinSet({"A" * 43 + "=", "B" * 43 + "="}, expires=PINS_EXPIRE)},
    )
    uploader = make(tmp_path, tls, egress=wrong, events=UploaderEvents(on_status=statuses))
    uploader.record_sms("+12015550123")
    assert uploader.flush(0.3) is False
    assert uploader.pending().events == 1
    assert statuses.wait_for(bool)  # it tried (however slow the machine)
    assert uploader.close(0.2) is False
    assert {s.state for s in statuses} == {SendState.PIN_MISMATCH}
    assert tls.server.requests() == ()  # not a byte of the request was written
    right = Egress(POLICY, verify=tls.client_ctx,
                   pins={Purpose.N2NET_API: PinSet({tls.pin, "A" * 43 + "="}, expires=PINS_EXPIRE)})
    with make(tmp_path, tls, egress=right) as uploader:
        assert uploader.flush(5)
    assert tls.server.count() == 1


def test_an_untrusted_certificate_is_never_sent_to(tmp_path: Path, tls: Tls) -> None:
    statuses = Recorder[SendStatus]()
    untrusting = Egress(POLICY)  # the system trust store does not know the test CA
    uploader = make(tmp_path, tls, egress=untrusting, events=UploaderEvents(on_status=statuses))
    uploader.record_sms("+12015550123")
    assert uploader.flush(0.3) is False
    assert statuses.wait_for(bool)  # it tried (however slow the machine)
    assert uploader.close(0.2) is False
    assert statuses[0].reason == "network error"
    assert tls.server.requests() == ()


def test_a_restart_on_the_same_data_dir_delivers_exactly_once(tmp_path: Path, tls: Tls) -> None:
    tls.server.stop()
    first = make(tmp_path, tls)
    ids = [first.record_sms(f"+1201555{i:04d}").event_id for i in range(25)]
    assert first.close(0.2) is False
    tls.server.start()
    with make(tmp_path, tls) as second:
        assert second.flush(5)
    assert sorted(e.id for e in tls.server.events()) == sorted(ids)  # type: ignore[type-var]


def test_the_simulated_android_keystore_works_end_to_end(tmp_path: Path, tls: Tls) -> None:
    store = SimulatedAndroidKeystore()
    with make(tmp_path, tls, key_store=store) as uploader:
        uploader.record_sms("+12015550123")
        assert uploader.flush(5)
    assert tls.server.count() == 1
