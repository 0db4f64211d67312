"""The reference ingest server over real sockets: HTTP, TLS, faults, log, lifecycle."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trustme

from n2net_privacy.testing import IngestServer
from n2net_privacy.uploader.wire import (
    EVENTS_PATH,
    EventBatch,
    ServerKeyPair,
    WireEvent,
    decode_batch,
    encode_batch,
    parse_reply,
    request_headers,
    seal,
)

APP_KEY = "app-key-1"
NUMBER = "+12025550143"
AT = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)
KEY = ServerKeyPair.generate("x25519", key_id="k1")
HYBRID = ServerKeyPair.generate("mlkem768x25519", key_id="pq1")
SAFETY_S = 30.0  # turns a hang into a failure; no assertion measures time


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer([KEY, HYBRID], app_key=APP_KEY) as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def events(n: int = 2) -> list[WireEvent]:
    return [WireEvent.call(uuid.uuid4(), NUMBER, AT, 30) for _ in range(n)]


def post(
    client: httpx.Client,
    server: IngestServer,
    evs: list[WireEvent],
    batch_id: str | None = None,
    key: ServerKeyPair = KEY,
) -> httpx.Response:
    body = seal(encode_batch(EventBatch.of(evs)), key.public)
    headers = request_headers(APP_KEY, batch_id or str(uuid.uuid4()), key.key_id)
    return client.post(server.url + EVENTS_PATH, content=body, headers=headers)


def test_url_is_loopback_on_an_ephemeral_port(server: IngestServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert not server.url.endswith(":0")
    assert server.events_url == server.url + "/v1/events"


def test_accepts_stores_and_replies_over_http(
    server: IngestServer, client: httpx.Client
) -> None:
    evs = events(3)
    response = post(client, server, evs)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert parse_reply(200, response.content).accepted == [e.id for e in evs]
    assert server.events() == tuple(evs)
    assert server.count() == 3


def test_both_key_kinds_work_side_by_side(server: IngestServer, client: httpx.Client) -> None:
    assert post(client, server, events(), key=KEY).status_code == 200
    assert post(client, server, events(), key=HYBRID).status_code == 200
    assert server.count() == 4


def test_errors_arrive_as_json_with_their_status(
    server: IngestServer, client: httpx.Client
) -> None:
    body = seal(encode_batch(EventBatch.of(events())), KEY.public)
    wrong_key = request_headers("nope", "b1", "k1")
    wrong_type = request_headers(APP_KEY, "b1", "k1") | {"Content-Type": "application/json"}
    response = client.post(server.events_url, content=body, headers=wrong_key)
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
    response = client.post(server.events_url, content=body, headers=wrong_type)
    assert (response.status_code, response.json()["error"]) == (415, "unsupported_media_type")
    assert client.get(server.events_url).status_code == 404
    assert server.count() == 0


def test_unknown_field_is_422_without_the_value(
    server: IngestServer, client: httpx.Client
) -> None:
    plaintext = json.dumps(
        {"schema": "n2net.events/1", "events": [
            {"id": str(uuid.uuid4()), "type": "sms", "number": NUMBER,
             "at": "2026-11-29T03:04:05Z", "email": "ann@example.com"}]}
    ).encode()
    response = client.post(
        server.events_url,
        content=seal(plaintext, KEY.public),
        headers=request_headers(APP_KEY, "b1", "k1"),
    )
    assert response.status_code == 422
    assert response.json()["paths"] == ["events.0.email"]
    assert "example.com" not in response.text
    assert "2025550143" not in response.text


def test_dedup_and_idempotent_replay(server: IngestServer, client: httpx.Client) -> None:
    evs = events(2)
    first = post(client, server, evs, batch_id="b1")
    replay = post(client, server, evs, batch_id="b1")
    overlap = post(client, server, [*evs, *events(1)], batch_id="b2")
    assert replay.content == first.content
    assert parse_reply(200, overlap.content).duplicates == [e.id for e in evs]
    assert server.count() == 3
    assert [r.replayed for r in server.requests()] == [False, True, False]


def test_body_over_the_limit_is_413(client: httpx.Client) -> None:
    with IngestServer(KEY, app_key=APP_KEY, max_body_bytes=2000) as small:
        response = post(client, small, events(40))
        assert response.status_code == 413
        assert post(client, small, events(1)).status_code == 200  # the server still serves


def test_a_post_without_content_length_is_411(server: IngestServer) -> None:
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        status_line = sock.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 411")


# -- failure injection -----------------------------------------------------------


def test_fail_next_answers_the_status_and_stores_nothing(
    server: IngestServer, client: httpx.Client
) -> None:
    server.fail_next(2, status=503)
    evs = events(1)
    assert [post(client, server, evs, "b1").status_code for _ in range(3)] == [503, 503, 200]
    assert server.count() == 1


@pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_fail_next_with_retry_after(
    server: IngestServer, client: httpx.Client, retry_after: str
) -> None:
    server.fail_next(status=429, retry_after=retry_after)
    response = post(client, server, events())
    assert response.status_code == 429
    assert response.headers["retry-after"] == retry_after


def test_reset_next_connection_drops_the_request_unstored(
    server: IngestServer, client: httpx.Client
) -> None:
    server.reset_next_connection()
    with pytest.raises(httpx.TransportError):
        post(client, server, events())
    assert server.count() == 0
    assert server.requests()[-1].status is None
    assert post(client, server, events()).status_code == 200


def test_reset_after_processing_loses_the_reply_not_the_events(
    server: IngestServer, client: httpx.Client
) -> None:
    evs = events(2)
    server.reset_next_connection(after_processing=True)
    with pytest.raises(httpx.TransportError):
        post(client, server, evs, "b1")
    assert server.count() == 2
    retry = post(client, server, evs, "b1")
    assert parse_reply(200, retry.content).accepted == [e.id for e in evs]  # same reply


def test_delay_makes_a_client_time_out_and_can_be_cleared(server: IngestServer) -> None:
    server.delay(0.5)
    with httpx.Client(timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        post(impatient, server, events())
    server.delay(0)
    with httpx.Client(timeout=5) as patient:
        assert post(patient, server, events()).status_code == 200


def test_clear_faults_forgets_pending_failures(
    server: IngestServer, client: httpx.Client
) -> None:
    server.fail_next(5, status=500)
    server.clear_faults()
    assert post(client, server, events()).status_code == 200


# -- log ----------------------------------------------------------------------


def test_captured_bodies_open_to_exactly_the_v1_keys(
    server: IngestServer, client: httpx.Client
) -> None:
    post(client, server, events(2), batch_id="b-42")
    (logged,) = server.requests()
    assert logged.headers["idempotency-key"] == "b-42"
    assert logged.headers["n2net-key-id"] == "k1"
    assert logged.body_size == len(logged.body) > 0
    plaintext = KEY.open(logged.body)
    decoded = json.loads(plaintext)
    assert set(decoded) == {"schema", "events"}
    assert all(set(e) == {"id", "type", "number", "at", "duration_s"} for e in decoded["events"])
    assert decode_batch(plaintext).events == server.events()


def test_body_capture_can_be_turned_off(client: httpx.Client) -> None:
    with IngestServer(KEY, app_key=APP_KEY, capture_bodies=False) as quiet:
        post(client, quiet, events())
        (logged,) = quiet.requests()
        assert logged.body == b""
        assert logged.body_size > 0


# -- concurrency and lifecycle ---------------------------------------------------


def test_concurrent_posts_store_each_event_once(server: IngestServer) -> None:
    shared = events(50)
    statuses: list[int] = []

    def worker() -> None:
        with httpx.Client(timeout=5) as own:
            for _ in range(5):
                statuses.append(post(own, server, [*shared[:25], *events(10)]).status_code)
                statuses.append(post(own, server, shared[20:]).status_code)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 60
    assert server.count() == 50 + 6 * 5 * 10
    assert len({e.id for e in server.events()}) == server.count()


def test_stop_refuses_connections_and_start_resumes_on_the_same_port(
    server: IngestServer,
) -> None:
    with httpx.Client(timeout=5) as c:
        assert post(c, server, events(1)).status_code == 200
    url = server.url
    server.stop()
    assert not server.running
    with httpx.Client(timeout=5) as c, pytest.raises(httpx.ConnectError):
        post(c, server, events(1))
    server.start()
    assert server.url == url
    with httpx.Client(timeout=5) as c:
        assert post(c, server, events(1)).status_code == 200
    assert server.count() == 2


def _closes(server: IngestServer) -> bool:
    """Close ``server``; True once it has. The bound only turns a hang into a failure."""
    closer = threading.Thread(target=server.close)
    closer.start()
    closer.join(SAFETY_S)
    return not closer.is_alive()


def test_close_drops_an_idle_keep_alive_connection() -> None:
    # This server would keep an idle connection open for ever, so close() can
    # only return by dropping it, not by waiting it out.
    srv = IngestServer(KEY, app_key=APP_KEY, idle_timeout_s=None)
    client = httpx.Client(timeout=5)
    try:
        assert post(client, srv, events()).status_code == 200  # the connection stays open
        assert _closes(srv)
    finally:
        client.close()


def test_close_cuts_a_delay_short() -> None:
    srv = IngestServer(KEY, app_key=APP_KEY)
    srv.delay(threading.TIMEOUT_MAX)  # without the cut, the POST would wait for ever
    outcome: list[object] = []

    def hopeful() -> None:
        with httpx.Client(timeout=SAFETY_S) as c:
            try:
                outcome.append(post(c, srv, events()).status_code)
            except httpx.HTTPError as exc:
                outcome.append(type(exc))

    waiting = threading.Thread(target=hopeful)
    waiting.start()
    assert srv.wait_until_delayed(1, timeout=SAFETY_S)  # the POST is held
    assert _closes(srv)
    waiting.join(SAFETY_S)
    assert outcome and outcome[0] is not httpx.ReadTimeout  # the server let go first


def test_events_persist_in_a_database_file(tmp_path: Path, client: httpx.Client) -> None:
    db = tmp_path / "ingest.sqlite3"
    evs = events(3)
    with IngestServer(KEY, app_key=APP_KEY, db_path=db) as first:
        post(client, first, evs)
    with IngestServer(KEY, app_key=APP_KEY, db_path=db) as second:
        assert second.events() == tuple(evs)


def test_needs_a_key() -> None:
    with pytest.raises(ValueError):
        IngestServer([], app_key=APP_KEY)


# -- TLS ----------------------------------------------------------------------


def test_end_to_end_over_tls_with_a_trustme_ca() -> None:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_ctx)
    with IngestServer(KEY, app_key=APP_KEY, tls=server_ctx) as srv:
        assert srv.url.startswith("https://127.0.0.1:")
        evs = events(2)
        with httpx.Client(verify=client_ctx, timeout=5) as c:
            first = post(c, srv, evs, "b1")
            second = post(c, srv, events(1), "b2")  # same kept-alive TLS connection
        assert (first.status_code, second.status_code) == (200, 200)
        assert srv.count() == 3
        # A client that does not trust the CA is refused at the handshake.
        with httpx.Client(timeout=5) as untrusting, pytest.raises(httpx.ConnectError):
            post(untrusting, srv, evs)
        # And the server keeps serving after that failed handshake.
        with httpx.Client(verify=client_ctx, timeout=5) as c:
            assert post(c, srv, events(1)).status_code == 200
