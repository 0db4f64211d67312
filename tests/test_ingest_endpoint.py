"""The reference server's contract decisions, driven without sockets."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from n2net_privacy.testing.servers.ingest_endpoint import IngestEndpoint, Reply
from n2net_privacy.testing.servers.ingest_store import EventStore
from n2net_privacy.uploader.wire import (
    EventBatch,
    ServerKeyPair,
    WireEvent,
    encode_batch,
    request_headers,
    seal,
)

APP_KEY = "app-key-1"
NUMBER = "+12025550143"
AT = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)
KEY = ServerKeyPair.generate("x25519", key_id="k1")
HYBRID = ServerKeyPair.generate("mlkem768x25519", key_id="pq1")
OTHER = ServerKeyPair.generate("x25519", key_id="k1")


_STORES: list[EventStore] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Close the stores a test made: Python 3.13 reports an unclosed SQLite connection."""
    yield
    while _STORES:
        _STORES.pop().close()


def _store() -> EventStore:
    _STORES.append(EventStore())
    return _STORES[-1]


def endpoint() -> IngestEndpoint:
    return IngestEndpoint({"k1": KEY, "pq1": HYBRID}, app_key=APP_KEY, store=_store())


def events(n: int = 2) -> list[WireEvent]:
    return [WireEvent.sms(uuid.uuid4(), NUMBER, AT) for _ in range(n)]


def headers(batch_id: str = "b1", key_id: str = "k1", **changes: str | None) -> dict[str, str]:
    base = {k.lower(): v for k, v in request_headers(APP_KEY, batch_id, key_id).items()}
    for attr, value in changes.items():
        name = attr.replace("_", "-")
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def body_for(evs: list[WireEvent], key: ServerKeyPair = KEY) -> bytes:
    return seal(encode_batch(EventBatch.of(evs)), key.public)


def error_of(reply: Reply) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(reply.body)
    return payload


def test_a_valid_batch_is_stored_and_acknowledged() -> None:
    evs = events(3)
    reply = endpoint().handle("/v1/events", headers(), body_for(evs))
    assert reply.status == 200
    assert json.loads(reply.body) == {"accepted": [e.id for e in evs], "duplicates": []}


def test_the_hybrid_key_is_chosen_by_key_id() -> None:
    reply = endpoint().handle("/v1/events", headers(key_id="pq1"), body_for(events(), HYBRID))
    assert reply.status == 200


SEALED = body_for(events())

CHECKS = [
    # name, path, headers, body, status, error code
    ("wrong path", "/v2/events", headers(), SEALED, 404, "not_found"),
    ("no authorization", "/v1/events", headers(authorization=None), SEALED, 401, "unauthorized"),
    ("wrong app key", "/v1/events", headers(authorization="Bearer nope"), SEALED, 401,
     "unauthorized"),
    ("basic auth", "/v1/events", headers(authorization="Basic " + APP_KEY), SEALED, 401,
     "unauthorized"),
    ("json content type", "/v1/events", headers(content_type="application/json"), SEALED, 415,
     "unsupported_media_type"),
    ("no content type", "/v1/events", headers(content_type=None), SEALED, 415,
     "unsupported_media_type"),
    ("no key id", "/v1/events", headers(n2net_key_id=None), SEALED, 400, "missing_key_id"),
    ("unknown key id", "/v1/events", headers(key_id="k0"), SEALED, 401, "unknown_key_id"),
    ("no idempotency key", "/v1/events", headers(idempotency_key=None), SEALED, 400,
     "missing_idempotency_key"),
    ("sealed to another key", "/v1/events", headers(), body_for(events(), OTHER), 400,
     "unsealable"),
    ("x25519 body under the hybrid id", "/v1/events", headers(key_id="pq1"), SEALED, 400,
     "unsealable"),
    ("plaintext body", "/v1/events", headers(), encode_batch(EventBatch.of(events())), 400,
     "unsealable"),
]


@pytest.mark.parametrize(
    ("path", "hdrs", "body", "status", "code"),
    [c[1:] for c in CHECKS],
    ids=[c[0] for c in CHECKS],
)
def test_each_check_answers_its_status(
    path: str, hdrs: dict[str, str], body: bytes, status: int, code: str
) -> None:
    ep = endpoint()
    reply = ep.handle(path, hdrs, body)
    assert (reply.status, error_of(reply)["error"]) == (status, code)


def test_content_type_parameters_and_case_are_tolerated() -> None:
    hdrs = headers(content_type="Application/N2Net-Sealed; v=1")
    assert endpoint().handle("/v1/events", hdrs, SEALED).status == 200


def test_an_unknown_field_is_422_naming_the_path_never_the_value() -> None:
    plaintext = json.dumps(
        {
            "schema": "n2net.events/1",
            "events": [
                {"id": str(uuid.uuid4()), "type": "sms", "number": NUMBER,
                 "at": "2026-11-29T03:04:05Z", "contact_name": "Ann Lee"},
                {"id": str(uuid.uuid4()), "type": "sms", "number": "12025550199",
                 "at": "2026-11-29T03:04:05Z"},
            ],
        }
    ).encode()
    reply = endpoint().handle("/v1/events", headers(), seal(plaintext, KEY.public))
    assert reply.status == 422
    payload = error_of(reply)
    assert payload["error"] == "invalid_batch"
    assert payload["paths"] == ["events.0.contact_name", "events.1.number"]
    assert b"Ann" not in reply.body
    assert b"2025550143" not in reply.body
    assert b"2025550199" not in reply.body


def test_nothing_is_stored_from_a_rejected_batch() -> None:
    store = _store()
    ep = IngestEndpoint({"k1": KEY}, app_key=APP_KEY, store=store)
    ep.handle("/v1/events", headers(authorization=None), SEALED)
    ep.handle("/v1/events", headers(), seal(b'{"schema": "n2net.events/1"}', KEY.public))
    assert store.count() == 0


def test_dedup_by_event_id_across_batches_and_within_one() -> None:
    ep = endpoint()
    a, b, c = events(3)
    first = ep.handle("/v1/events", headers("b1"), body_for([a, b]))
    second = ep.handle("/v1/events", headers("b2"), body_for([b, c, c]))
    assert json.loads(first.body) == {"accepted": [a.id, b.id], "duplicates": []}
    assert json.loads(second.body) == {"accepted": [c.id], "duplicates": [b.id, c.id]}


def test_a_retried_batch_gets_the_same_reply_even_when_resealed() -> None:
    ep = endpoint()
    evs = events(2)
    first = ep.handle("/v1/events", headers("b1"), body_for(evs))
    again = ep.handle("/v1/events", headers("b1"), body_for(evs))  # fresh seal, same plaintext
    assert again.body == first.body
    assert json.loads(again.body)["accepted"] == [e.id for e in evs]
    assert (first.replayed, again.replayed) == (False, True)


def test_an_idempotency_key_reused_for_another_batch_is_422_and_stores_nothing() -> None:
    store = _store()
    ep = IngestEndpoint({"k1": KEY}, app_key=APP_KEY, store=store)
    ep.handle("/v1/events", headers("b1"), body_for(events(1)))
    reply = ep.handle("/v1/events", headers("b1"), body_for(events(1)))
    assert (reply.status, error_of(reply)["error"]) == (422, "idempotency_key_reused")
    assert store.count() == 1
