"""Oblivious HTTP against a hostile relay and gateway, with taps in front of both.

The real reference relay and gateway run on loopback. A :class:`TcpTap` in
front of each records every byte and the source address of every
connection, as each operator would see them: device (127.0.0.1) -> tap ->
relay (upstream from 127.0.0.2) -> tap -> gateway (upstream from 127.0.0.3)
-> ingest / Gravatar stand-in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.contacts import Contact, InMemoryAddressBook
from n2net_privacy.egress import Egress, EgressPolicy, OutgoingRequest, PinSet, Purpose
from n2net_privacy.errors import EgressPolicyError
from n2net_privacy.gravatar import GravatarConfig, GravatarFetcher, gravatar_hash
from n2net_privacy.gravatar.result import Avatar
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.ohttp.consistency import KeyVerdict
from n2net_privacy.permissions import AndroidPermissionProvider
from n2net_privacy.sdk import N2NetPrivacy, UploaderConfig
from n2net_privacy.settings import Settings
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing.audited import AuditedEgress
from n2net_privacy.testing.servers.gravatar import GravatarStandIn, make_png
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.testing.servers.ohttp import (
    GATEWAY_PATH,
    KEYS_PATH,
    OhttpGatewayServer,
    OhttpRelay,
)
from n2net_privacy.testing.servers.tap import TcpTap
from n2net_privacy.uploader import Endpoint
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import SenderConfig
from n2net_privacy.uploader.wire import ServerKeyPair

DEVICE, RELAY_SOURCE, GATEWAY_SOURCE = "127.0.0.1", "127.0.0.2", "127.0.0.3"
APP_KEY = "ohttp-app-key"
# Valid E.164 numbers of every length from 8 to 15 characters but 9.
NUMBERS_BY_LENGTH = {
    8: "+6834002",
    10: "+298212345",
    11: "+3545551234",
    12: "+12155552671",
    13: "+442079460958",
    14: "+4915123456789",
    15: "+43150564161234",
}
FAST = SenderConfig(linger_s=0.0, backoff_base_s=0.01, backoff_cap_s=0.05)
EMAILS = [f"person{n}@example.org" for n in range(4)]
CONTACTS = [Contact(id=f"c{n}", display_name=f"P{n}", emails=(e,)) for n, e in enumerate(EMAILS)]


@dataclass
class Tapped:
    relay: OhttpRelay
    gateway: OhttpGatewayServer
    relay_tap: TcpTap
    gateway_tap: TcpTap
    ingest: IngestServer
    gravatar: GravatarStandIn
    ingest_key: ServerKeyPair
    pins: PinSet

    def config(self, **overrides: object) -> ObliviousConfig:
        options: dict[str, object] = {
            "relay_url": self.relay_tap.url,
            "key_config_url": self.relay_tap.url + KEYS_PATH,
            "key_pins": self.pins,
            "key_refresh_jitter_s": 0.0,
        }
        options.update(overrides)
        return ObliviousConfig(**options)  # type: ignore[arg-type]


def _pins(*gateways: ohttp.Gateway) -> PinSet:
    configs = [c for g in gateways for c in g.key_configs()]
    return PinSet({ohttp.key_config_pin(c) for c in configs}, expires=dt.date(2099, 1, 1))


def _stack(
    stack: ExitStack, *, relay_class: type[OhttpRelay] = OhttpRelay, **gateway_options: object
) -> Tapped:
    key = ServerKeyPair.generate("x25519", key_id="ingest-1")
    keys = ohttp.Gateway([(1, x25519.X25519PrivateKey.generate())])
    backup = ohttp.Gateway([(2, x25519.X25519PrivateKey.generate())])
    ingest = stack.enter_context(IngestServer(key, app_key=APP_KEY))
    gravatar = stack.enter_context(GravatarStandIn())
    gateway = stack.enter_context(
        OhttpGatewayServer(
            keys,
            {"api.n2net.com": ingest.url, "gravatar.com": f"http://127.0.0.1:{gravatar.port}"},
            source_host=GATEWAY_SOURCE,
            **gateway_options,  # type: ignore[arg-type]
        )
    )
    port = int(gateway.url.rsplit(":", 1)[1])
    gateway_tap = stack.enter_context(TcpTap(("127.0.0.1", port)))
    relay = stack.enter_context(
        relay_class(
            gateway_tap.url + GATEWAY_PATH,
            gateway_keys_url=gateway_tap.url + KEYS_PATH,
            source_host=RELAY_SOURCE,
        )
    )
    relay_tap = stack.enter_context(TcpTap(("127.0.0.1", int(relay.url.rsplit(":", 1)[1]))))
    return Tapped(
        relay, gateway, relay_tap, gateway_tap, ingest, gravatar, key, _pins(keys, backup)
    )


@pytest.fixture
def tapped() -> Iterator[Tapped]:
    with ExitStack() as stack:
        yield _stack(stack)


def _egress() -> Egress:
    return Egress(EgressPolicy(
        allowed_hosts={
            Purpose.N2NET_API: frozenset({"api.n2net.com"}),
            Purpose.GRAVATAR: frozenset({"gravatar.com"}),
            Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"}),
        },
        test_mode=True,
    ))


def _uploader(
    tapped: Tapped, data_dir: Path, config: ObliviousConfig, **options: object
) -> Uploader:
    return Uploader(
        Endpoint("https://api.n2net.com", APP_KEY, tapped.ingest_key.public, oblivious=config),
        data_dir, key_store=SimulatedAndroidKeystore(), egress=_egress(), region="US",
        sending=FAST, **options,
    )


def _drain(uploader: Uploader, steps: int = 20) -> None:
    """Drive the sender by hand (start=False): each batch is exactly what was recorded."""
    for _ in range(steps):
        if uploader.pending().events == 0:
            return
        uploader.sender.step()


_CONTENT_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


def _wire_sizes(stream: bytes) -> list[int]:
    """The body sizes of the HTTP messages in one direction of a tapped connection."""
    return [int(m.group(1)) for m in _CONTENT_LENGTH.finditer(stream)]


def test_no_device_connection_reaches_the_gateway_and_sizes_are_one_bucket(
    tapped: Tapped, tmp_path: Path
) -> None:
    uploader = _uploader(tapped, tmp_path, tapped.config(), start=False)
    try:
        assert uploader.oblivious_keys is not None
        assert uploader.oblivious_keys.refresh().verdict is KeyVerdict.ACCEPTED
        # One batch per case: every number length alone, then 2 and 5 events of mixed lengths.
        cases = [[n] for n in NUMBERS_BY_LENGTH.values()]
        cases += [list(NUMBERS_BY_LENGTH.values())[:2], list(NUMBERS_BY_LENGTH.values())[2:7]]
        for case in cases:
            for number in case:
                assert uploader.record_sms(number).queued
            _drain(uploader)
        assert uploader.pending().events == 0
    finally:
        uploader.close(1)
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    # Two avatars of different sizes, and two misses: one response size for all four.
    tapped.gravatar.add_avatar(gravatar_hash(EMAILS[0]), make_png(2, 2))
    tapped.gravatar.add_avatar(gravatar_hash(EMAILS[1]), make_png(40, 3, rgb=(1, 2, 3)))
    fetcher = GravatarFetcher(settings, _egress(), oblivious=tapped.config())
    try:
        assert fetcher.oblivious_keys is not None and fetcher.oblivious_keys.refresh().usable
        results = asyncio.run(fetcher.fetch_many(CONTACTS))
    finally:
        fetcher.close()
    assert [isinstance(r, Avatar) for r in results] == [True, True, False, False]
    assert tapped.ingest.count() == sum(len(c) for c in cases)

    # Addresses: the relay's tap saw only the device; the gateway's tap only the relay,
    # key fetches included (two of them, one per component, both forwarded by the relay).
    assert tapped.relay_tap.client_hosts() == {DEVICE}
    assert tapped.gateway_tap.client_hosts() == {RELAY_SOURCE}
    assert len(tapped.gateway.key_fetches()) == 2
    assert {r.client_host for r in tapped.ingest.requests()} == {GATEWAY_SOURCE}
    assert {r.client_host for r in tapped.gravatar.requests} == {GATEWAY_SOURCE}

    # Sizes, as the relay saw them on the wire: one request size and one response
    # size for every batch, whatever the numbers' lengths and the event count.
    posts = [s for s in tapped.relay.sightings() if s.method == "POST"]
    assert len(posts) == len(cases) + len(CONTACTS)
    assert {len(s.body) for s in posts} == {1024 + 55}  # bucket + header, enc and tag
    assert {s.response_bytes for s in posts} == {1024 + 32}  # bucket + nonce and tag
    device_bytes = b"".join(bytes(c.to_server) for c in tapped.relay_tap.connections())
    relay_bytes = b"".join(bytes(c.to_client) for c in tapped.relay_tap.connections())
    keys_answer = len(tapped.gateway.gateway.encoded_key_configs())
    assert set(_wire_sizes(device_bytes)) == {1079}
    assert set(_wire_sizes(relay_bytes)) == {1056, keys_answer}


class ForgingRelay(OhttpRelay):
    """Serves its own key configuration and forges the gateway's ``ohttp-key`` error.

    It keeps every body it was handed and tries to open each with its own key.
    """

    own = ohttp.Gateway([(1, x25519.X25519PrivateKey.generate())])  # the real key id, even

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.bodies: list[bytes] = []
        self.opened: list[bytes] = []

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        from n2net_privacy.testing.servers.loopback import read_body, reply

        if handler.command == "GET":
            reply(handler, 200, self.own.encoded_key_configs(), ohttp.KEY_CONFIG_MEDIA_TYPE)
            return
        body = read_body(handler, 1 << 20) or b""
        self.bodies.append(body)
        try:
            inner, _ = self.own.decapsulate(body)
            self.opened.append(inner)
        except (ohttp.KeyConfigMismatchError, ValueError):
            pass
        reply(handler, 400, b'{"type":"...#ohttp-key"}', "application/problem+json")


def test_a_relay_that_forges_keys_and_errors_learns_nothing_and_events_stay(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        tapped = _stack(stack, relay_class=ForgingRelay)
        relay = tapped.relay
        assert isinstance(relay, ForgingRelay)
        # Keys only from the relay: its own configuration is refused, so nothing is sent.
        fresh = _uploader(tapped, tmp_path / "fresh", tapped.config(), start=False)
        try:
            assert fresh.oblivious_keys is not None
            assert fresh.oblivious_keys.refresh().verdict is KeyVerdict.UNPINNED
            fresh.record_sms(NUMBERS_BY_LENGTH[12])
            _drain(fresh, steps=3)
            assert fresh.pending().events == 1
            assert relay.bodies == []
        finally:
            fresh.close(0.5)
        # With the pinned configuration shipped in the app: requests go, sealed to the
        # pinned key; the forged ohttp-key errors unpin nothing and lose nothing.
        shipped = tapped.gateway.gateway.encoded_key_configs()
        pinned = _uploader(tapped, tmp_path / "pinned", tapped.config(key_config=shipped),
                           start=False)
        try:
            assert pinned.oblivious_keys is not None
            for number in list(NUMBERS_BY_LENGTH.values())[:3]:
                pinned.record_sms(number)
            _drain(pinned, steps=4)
            pinned.oblivious_keys.refresh()
            assert pinned.pending().events == 3
            assert pinned.dead_letter_counts() == {}
            assert pinned.oblivious_keys.key_id == 1
            assert pinned.oblivious_keys.verdicts().get(KeyVerdict.UNPINNED, 0) >= 1
        finally:
            pinned.close(0.5)
        assert len(relay.bodies) >= 4
        assert relay.opened == []  # not one request could be opened with the relay's key
        assert tapped.gateway.sightings() == ()


def test_a_gateway_handing_out_per_device_keys_is_detected(tmp_path: Path) -> None:
    tracking: list[ohttp.Gateway] = []

    def per_fetch(n: int) -> bytes:
        # A fresh key id for every fetch, listed before the real configuration.
        tracking.append(ohttp.Gateway([(100 + n, x25519.X25519PrivateKey.generate())]))
        return tracking[-1].encoded_key_configs() + real.encoded_key_configs()

    with ExitStack() as stack:
        tapped = _stack(stack, published=per_fetch)
        real = tapped.gateway.gateway
        uploader = _uploader(tapped, tmp_path, tapped.config(), start=False)
        try:
            assert uploader.oblivious_keys is not None
            check = uploader.oblivious_keys.refresh()
            assert check.verdict is KeyVerdict.INCONSISTENT and check.unpinned == 1
            uploader.record_sms(NUMBERS_BY_LENGTH[12])
            _drain(uploader)
            assert uploader.pending().events == 0
        finally:
            uploader.close(1)
        # Every request used the pinned key: the gateway cannot tell this device apart.
        assert {s.key_id for s in tapped.gateway.sightings()} == {1}
        assert uploader.oblivious_keys.verdicts()[KeyVerdict.INCONSISTENT] >= 1


def test_a_gravatar_target_off_the_allowlist_is_refused_under_ohttp(
    tapped: Tapped, tmp_path: Path
) -> None:
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    off_list = GravatarConfig(base_url="https://tracker.example/avatar/")
    with pytest.raises(EgressPolicyError, match=r"tracker\.example"):
        GravatarFetcher(settings, _egress(), off_list, oblivious=tapped.config())
    # As without OHTTP: the direct path's door refuses the same target (at the request).
    direct = GravatarFetcher(settings, _egress(), off_list)
    try:
        with pytest.raises(EgressPolicyError, match=r"tracker\.example"):
            direct.fetch(CONTACTS[0])
    finally:
        direct.close()
    # And on every request: the inner door refuses, audits it, and nothing leaves.
    egress = _egress()
    with pytest.raises(EgressPolicyError):
        egress.inner_door(Purpose.GRAVATAR).admit(
            OutgoingRequest("GET", "https://tracker.example/avatar/x")
        )
    (entry,) = egress.audit.entries()
    assert (entry.purpose, entry.host, entry.blocked, entry.via) == (
        Purpose.GRAVATAR, "tracker.example", True, Purpose.OHTTP_RELAY,
    )
    assert tapped.relay.sightings() == ()


def test_the_audit_log_and_the_auditor_see_the_inner_request(
    tapped: Tapped, tmp_path: Path
) -> None:
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    book = [Contact(id="c0", display_name="Ada", emails=(EMAILS[0],))]
    policy = EgressPolicy(
        allowed_hosts={Purpose.GRAVATAR: frozenset({"gravatar.com"}),
                       Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"})},
        test_mode=True,
    )
    # The auditor believes Gravatar is off: an email hash in the inner request is a finding.
    egress = AuditedEgress(book, policy=policy, gravatar_consent=lambda: False)
    fetcher = GravatarFetcher(settings, egress, oblivious=tapped.config())
    try:
        assert fetcher.oblivious_keys is not None and fetcher.oblivious_keys.refresh().usable
        fetcher.fetch(book[0])
    finally:
        fetcher.close()
    entries = egress.audit.entries()
    inner = [e for e in entries if e.via is Purpose.OHTTP_RELAY]
    outer = [e for e in entries if e.purpose is Purpose.OHTTP_RELAY and e.method == "POST"]
    assert [(e.purpose, e.host, e.path) for e in inner] == [
        (Purpose.GRAVATAR, "gravatar.com", f"/avatar/{gravatar_hash(EMAILS[0])}")
    ]
    assert [e.host for e in outer] == ["127.0.0.1"] and inner[0].status == 404
    findings = egress.acknowledge_findings()
    assert findings and {(f.purpose, f.host) for f in findings} == {("gravatar", "gravatar.com")}


def test_the_facade_turns_ohttp_on_for_uploads_and_avatars(
    tapped: Tapped, tmp_path: Path
) -> None:
    tapped.gravatar.add_avatar(gravatar_hash(EMAILS[0]))
    sdk = N2NetPrivacy(
        provider=AndroidPermissionProvider(api_level=34),
        address_book=InMemoryAddressBook([]),
        data_dir=tmp_path,
        egress=_egress(),
        uploader=UploaderConfig(
            api_url="https://api.n2net.com", app_key=APP_KEY,
            server_key=tapped.ingest_key.public, key_store=SimulatedAndroidKeystore(),
        ),
        oblivious=tapped.config(),
    )
    try:
        sdk.settings.gravatar_enabled = True
        assert sdk.record_sms(NUMBERS_BY_LENGTH[12]).queued
        assert sdk.uploader is not None and sdk.uploader.flush(30)
        assert sdk.avatars.oblivious_keys is not None
        assert sdk.avatars.oblivious_keys.refresh().usable
        assert isinstance(sdk.avatars.fetch(CONTACTS[0]), Avatar)
    finally:
        sdk.close()
    assert tapped.ingest.count() == 1
    assert {r.client_host for r in tapped.ingest.requests()} == {GATEWAY_SOURCE}
    assert {r.client_host for r in tapped.gravatar.requests} == {GATEWAY_SOURCE}
    assert tapped.gateway_tap.client_hosts() == {RELAY_SOURCE}
    assert tapped.relay_tap.client_hosts() == {DEVICE}
