"""The reference relay and gateway: who sees what, on real loopback sockets."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime

import httpx
import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.testing.ohttp_plugin import OhttpStack
from n2net_privacy.testing.servers.ohttp import OhttpGatewayServer, OhttpRelay
from n2net_privacy.uploader.wire import (
    EVENTS_PATH,
    EventBatch,
    WireEvent,
    encode_batch,
    request_headers,
)
from n2net_privacy.uploader.wire.seal import seal

NUMBER = "+12155552671"
EMAIL_HASH = hashlib.md5(b"ada@example.com").hexdigest()
AT = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)


def _needles(*values: str) -> list[bytes]:
    """A value as raw bytes, hex and base64: the relay must see none of them."""
    out: list[bytes] = []
    for value in values:
        raw = value.encode()
        out += [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]
    return out


def _events_request(stack: OhttpStack, events: list[WireEvent]) -> bytes:
    body = seal(encode_batch(EventBatch.of(events)), stack.ingest_key.public)
    headers = request_headers(stack.app_key, str(uuid.uuid4()), stack.ingest_key.key_id)
    return ohttp.bhttp.encode_request(
        "POST", "https", "api.n2net.com", EVENTS_PATH, headers=headers.items(), content=body
    )


def _via_relay(
    client: httpx.Client, stack: OhttpStack, bhttp_request: bytes
) -> ohttp.bhttp.Response:
    (config,) = ohttp.KeyConfig.decode_list(client.get(stack.gateway.keys_url).content)
    enc_request, context = ohttp.encapsulate_request(config, bhttp_request)
    reply = client.post(
        stack.relay.url,
        content=enc_request,
        headers={
            "content-type": ohttp.REQUEST_MEDIA_TYPE,
            "user-agent": "device/1.0",
            "cookie": "sid=1",
        },
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"] == ohttp.RESPONSE_MEDIA_TYPE
    return ohttp.bhttp.decode_response(context.open_response(reply.content))


def test_events_reach_the_ingest_which_sees_only_the_gateway(ohttp_stack: OhttpStack) -> None:
    events = [WireEvent.sms(uuid.uuid4(), NUMBER, AT) for _ in range(3)]
    with httpx.Client(timeout=10) as client:
        response = _via_relay(client, ohttp_stack, _events_request(ohttp_stack, events))
    assert response.status == 200
    assert ohttp_stack.ingest.count() == 3

    (seen_by_ingest,) = ohttp_stack.ingest.requests()
    assert seen_by_ingest.client_host == "127.0.0.3"
    # Only the v1 headers the device sealed inside, plus what the gateway's own
    # connection adds: no cookie, user agent or forwarding header from the device.
    assert set(seen_by_ingest.headers) <= {
        "content-type",
        "authorization",
        "idempotency-key",
        "n2net-key-id",
        "host",
        "content-length",
        "accept-encoding",
    }
    assert seen_by_ingest.headers["host"] == ohttp_stack.ingest.url.removeprefix("http://")

    (at_gateway,) = ohttp_stack.gateway.sightings()
    assert at_gateway.relay_host == "127.0.0.2"
    assert (at_gateway.authority, at_gateway.path, at_gateway.status) == (
        "api.n2net.com",
        EVENTS_PATH,
        200,
    )


def test_the_relay_sees_the_device_but_no_number_event_id_or_key(ohttp_stack: OhttpStack) -> None:
    events = [WireEvent.call(uuid.uuid4(), NUMBER, AT, 42) for _ in range(2)]
    with httpx.Client(timeout=10) as client:
        _via_relay(client, ohttp_stack, _events_request(ohttp_stack, events))
    (sighting,) = ohttp_stack.relay.sightings()
    assert sighting.client_host == "127.0.0.1"
    secrets = _needles(
        NUMBER, NUMBER[2:], *(e.id for e in events), ohttp_stack.app_key, EVENTS_PATH
    )
    blob = sighting.body + repr(sighting.headers).encode()
    assert [n for n in secrets if n in blob] == []


def test_gravatar_sees_the_hash_from_the_gateway_and_the_relay_does_not(
    ohttp_stack: OhttpStack,
) -> None:
    ohttp_stack.gravatar.add_avatar(EMAIL_HASH)
    request = ohttp.bhttp.encode_request(
        "GET", "https", "gravatar.com", f"/avatar/{EMAIL_HASH}?d=404"
    )
    with httpx.Client(timeout=10) as client:
        response = _via_relay(client, ohttp_stack, request)
    assert response.status == 200
    assert response.header("content-type") == b"image/png"
    (seen,) = ohttp_stack.gravatar.requests
    assert seen.hash == EMAIL_HASH
    assert seen.client_host == "127.0.0.3"
    (sighting,) = ohttp_stack.relay.sightings()
    assert [n for n in _needles(EMAIL_HASH) if n in sighting.body] == []


def test_an_undeclared_target_is_refused_inside_the_encapsulation(ohttp_stack: OhttpStack) -> None:
    request = ohttp.bhttp.encode_request("GET", "https", "tracker.example", "/pixel")
    with httpx.Client(timeout=10) as client:
        assert _via_relay(client, ohttp_stack, request).status == 403


def test_a_rotated_gateway_key_answers_the_ohttp_key_problem(ohttp_stack: OhttpStack) -> None:
    with httpx.Client(timeout=10) as client:
        (stale,) = ohttp.KeyConfig.decode_list(client.get(ohttp_stack.gateway.keys_url).content)
        rotated = ohttp.Gateway([(2, x25519.X25519PrivateKey.generate())])
        with OhttpGatewayServer(rotated, {}) as gateway, OhttpRelay(gateway.gateway_url) as relay:
            enc_request, _ = ohttp.encapsulate_request(
                stale, ohttp.bhttp.encode_request("GET", "https", "x", "/")
            )
            reply = client.post(
                relay.url, content=enc_request, headers={"content-type": ohttp.REQUEST_MEDIA_TYPE}
            )
            assert reply.status_code == 400
            assert reply.headers["content-type"] == "application/problem+json"
            assert b"#ohttp-key" in reply.content
            assert [
                c.key_id for c in ohttp.KeyConfig.decode_list(client.get(gateway.keys_url).content)
            ] == [2]


def test_the_relay_forwards_only_ohttp_requests(ohttp_stack: OhttpStack) -> None:
    with httpx.Client(timeout=10) as client:
        assert (
            client.post(
                ohttp_stack.relay.url, content=b"{}", headers={"content-type": "application/json"}
            ).status_code
            == 415
        )
        assert client.get(ohttp_stack.relay.url).status_code == 405
    assert ohttp_stack.gateway.sightings() == ()
