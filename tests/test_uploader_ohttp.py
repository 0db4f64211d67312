"""The uploader through a real OHTTP relay and gateway: exactly once, unlinkable, never lost."""

from __future__ import annotations

import base64
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import ConfigurationError
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing.ohttp_plugin import OhttpStack
from n2net_privacy.testing.servers.loopback import reply
from n2net_privacy.testing.servers.ohttp import OhttpGatewayServer, OhttpRelay
from n2net_privacy.uploader import Endpoint
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import SenderConfig

NUMBERS = [f"+1215555{n:04d}" for n in range(40)]
FAST = SenderConfig(linger_s=0.0, backoff_base_s=0.01, backoff_cap_s=0.05)


def _egress() -> Egress:
    hosts = {
        Purpose.N2NET_API: frozenset({"api.n2net.com"}),
        Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"}),
    }
    return Egress(EgressPolicy(allowed_hosts=hosts, test_mode=True))


def _uploader(stack: OhttpStack, data_dir: Path, config: ObliviousConfig) -> Uploader:
    return Uploader(
        Endpoint(
            "https://api.n2net.com",
            stack.app_key,
            stack.ingest_key.public,
            oblivious=config,
        ),
        data_dir, key_store=SimulatedAndroidKeystore(), egress=_egress(), region="US",
        sending=FAST,
    )


def test_events_arrive_exactly_once_and_the_ingest_never_sees_the_device(
    ohttp_stack: OhttpStack, tmp_path: Path
) -> None:
    uploader = _uploader(ohttp_stack, tmp_path, ohttp_stack.oblivious())
    try:
        for number in NUMBERS:
            assert uploader.record_sms(number).queued
        assert uploader.flush(30)
    finally:
        uploader.close(5)
    stored = ohttp_stack.ingest.events()
    assert sorted(e.number for e in stored) == sorted(NUMBERS)
    assert len({e.id for e in stored}) == len(NUMBERS)
    assert {r.client_host for r in ohttp_stack.ingest.requests()} == {"127.0.0.3"}
    assert {s.relay_host for s in ohttp_stack.gateway.sightings()} == {"127.0.0.2"}
    # The relay saw the device, and only ciphertext: no number, no event id, no app key.
    sightings = ohttp_stack.relay.sightings()
    assert sightings and {s.client_host for s in sightings} == {"127.0.0.1"}
    blob = b"".join(s.body + repr(s.headers).encode() for s in sightings)
    needles = [n.encode() for n in NUMBERS] + [n[2:].encode() for n in NUMBERS]
    needles += [e.id.encode() for e in stored] + [ohttp_stack.app_key.encode()]
    needles += [base64.b64encode(n) for n in list(needles)]
    assert [n for n in needles if n in blob] == []


def test_a_rotation_to_the_backup_key_is_refetched_and_nothing_is_lost(
    ohttp_stack: OhttpStack, tmp_path: Path
) -> None:
    # The app shipped both pinned configs; the gateway has since rotated to the backup.
    current = ohttp_stack.gateway.gateway.encoded_key_configs()
    backup = ohttp.Gateway([(2, ohttp_stack.backup_key)])
    ohttp_stack.gateway.gateway = backup
    shipped = current + backup.encoded_key_configs()
    config = ohttp_stack.oblivious(key_config=shipped)
    uploader = _uploader(ohttp_stack, tmp_path, config)
    try:
        for number in NUMBERS[:5]:
            uploader.record_sms(number)
        assert uploader.flush(30)
        assert uploader.dead_letter_counts() == {}
    finally:
        uploader.close(5)
    assert ohttp_stack.ingest.count() == 5
    # Key 1 (if a batch went before the first fetch) was refused without being opened.
    sightings = ohttp_stack.gateway.sightings()
    assert {s.key_id for s in sightings if s.status != 400} == {2}
    assert uploader.oblivious_keys is not None and uploader.oblivious_keys.key_id == 2


def test_a_relay_that_is_down_keeps_the_events_queued(
    ohttp_stack: OhttpStack, tmp_path: Path
) -> None:
    gateway_keys = ohttp_stack.gateway.gateway.encoded_key_configs()
    with OhttpGatewayServer(ohttp_stack.gateway.gateway, {}) as gateway:
        relay = OhttpRelay(gateway.gateway_url).start()
        dead_url = relay.url
        relay.close()
    config = ohttp_stack.oblivious(
        relay_url=dead_url, key_config=gateway_keys, key_config_url=None
    )
    uploader = Uploader(
        Endpoint(
            "https://api.n2net.com",
            ohttp_stack.app_key,
            ohttp_stack.ingest_key.public,
            oblivious=config,
        ),
        tmp_path, key_store=SimulatedAndroidKeystore(), egress=_egress(), region="US",
        sending=FAST, start=False,
    )
    try:
        uploader.record_sms(NUMBERS[0])
        for _ in range(3):  # three attempts, each refused by the dead relay
            uploader.sender.step()
        assert uploader.pending().events == 1
        assert uploader.dead_letter_counts() == {}
    finally:
        uploader.close(0.5)


def test_bad_oblivious_configs_fail_at_construction(
    ohttp_stack: OhttpStack, tmp_path: Path
) -> None:
    pins = ohttp_stack.key_pins
    relay = ohttp_stack.relay.url
    with pytest.raises(ConfigurationError, match="key_config or key_config_url"):
        ObliviousConfig(relay_url=relay, key_pins=pins)
    with pytest.raises(ConfigurationError, match="key_config is not usable"):
        ObliviousConfig(relay_url=relay, key_pins=pins, key_config=b"\x00\x01")
    with pytest.raises(ConfigurationError, match="key_pins must be a PinSet"):
        ObliviousConfig(relay_url=relay, key_pins=None, key_config_url=relay + "/k")  # type: ignore[arg-type]
    unpinned = ohttp.Gateway([(5, x25519.X25519PrivateKey.generate())]).encoded_key_configs()
    with pytest.raises(ConfigurationError, match="does not pin"):
        ObliviousConfig(relay_url=relay, key_pins=pins, key_config=unpinned)
    # The device never fetches keys from the gateway: only from the relay's origin.
    with pytest.raises(ConfigurationError, match="relay's origin"):
        ObliviousConfig(
            relay_url=relay, key_pins=pins, key_config_url=ohttp_stack.gateway.keys_url
        )
    refused = ObliviousConfig(
        relay_url="https://relay.example/", key_config_url="https://relay.example/k",
        key_pins=pins,
    )
    with pytest.raises(ConfigurationError):
        _uploader(ohttp_stack, tmp_path, refused)


class _SizeCappedRelay(OhttpRelay):
    """A relay that answers 413 to any encapsulated request larger than ``cap`` bytes."""

    cap = 1100

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length", "0"))
        if handler.command == "POST" and length > self.cap:
            handler.rfile.read(length)
            reply(handler, 413, b"", "text/plain")
            return
        super()._route(handler)


@pytest.mark.parametrize("cap", [1100, 0])
def test_an_outer_413_splits_and_never_throws_events_away(
    ohttp_stack: OhttpStack, tmp_path: Path, cap: int
) -> None:
    with _SizeCappedRelay(ohttp_stack.gateway.gateway_url) as relay:
        relay.cap = cap
        config = ohttp_stack.oblivious(
            relay_url=relay.url, key_config=ohttp_stack.gateway.gateway.encoded_key_configs(),
            key_config_url=None,
        )
        uploader = Uploader(
            Endpoint(
                "https://api.n2net.com",
                ohttp_stack.app_key,
                ohttp_stack.ingest_key.public,
                oblivious=config,
            ),
            tmp_path, key_store=SimulatedAndroidKeystore(), egress=_egress(), region="US",
            sending=FAST, start=False,
        )
        try:
            for number in NUMBERS[:12]:  # 12 events: a 2 KiB bucket, over the cap
                uploader.record_sms(number)
            for _ in range(12):
                uploader.sender.step()
            assert uploader.dead_letter_counts() == {}
            if cap:  # split down to 1 KiB batches, which the relay takes
                assert uploader.pending().events == 0
                assert ohttp_stack.ingest.count() == 12
            else:  # the relay refuses everything: single events wait, never dropped
                assert uploader.pending().events == 12
        finally:
            uploader.close(0.5)
