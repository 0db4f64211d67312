"""One attempt at a time: every status class, Retry-After, splitting, dead letters, pins."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
import respx

from n2net_privacy.egress import Egress, Purpose
from n2net_privacy.egress.policy import EgressResponse, OutgoingRequest, RequestClient
from n2net_privacy.errors import (
    ConfigurationError,
    EgressPolicyError,
    NetworkError,
    NetworkTimeout,
    PinMismatchError,
)
from n2net_privacy.runtime import Runtime
from n2net_privacy.uploader.send.sender import Sender, SenderConfig, SendState, SendStatus
from n2net_privacy.uploader.store.at_rest import AtRestKey
from n2net_privacy.uploader.store.queue import EventQueue
from n2net_privacy.uploader.wire import CONTENT_TYPE, ServerKeyPair, WireEvent

KEYS = ServerKeyPair.generate(key_id="k1")
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
URL = "https://api.n2net.com/v1/events"
OK_BODY = b'{"accepted": [], "duplicates": []}'

Script = int | EgressResponse | BaseException


class FakeClient(RequestClient):
    """Answers from a script; records what was sent. Stands in for EgressClient."""

    def __init__(self, *script: Script) -> None:
        self.script = list(script)
        self.sent: list[tuple[dict[str, str], bytes]] = []
        self.closed = False

    def send(self, request: OutgoingRequest) -> EgressResponse:
        assert (request.method, request.url) == ("POST", URL)
        assert request.timeout is not None
        item: Script = self.script.pop(0) if self.script else 200
        if isinstance(item, BaseException):
            raise item
        self.sent.append((dict(request.headers or {}), request.whole_content() or b""))
        if isinstance(item, int):
            return EgressResponse(item, {}, OK_BODY if item == 200 else b"")
        return item

    def close(self) -> None:
        self.closed = True

    def batches(self) -> list[list[dict[str, object]]]:
        return [json.loads(KEYS.open(body))["events"] for _, body in self.sent]

    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.sent]


def event(i: int, call: bool = False) -> bytes:
    eid = f"00000000-0000-4000-8000-{i:012d}"
    if call:
        made = WireEvent.call(eid, "+12015550123", NOW, duration_s=i)
    else:
        made = WireEvent.sms(eid, "+12015550123", NOW)
    return made.model_dump_json(exclude_none=True).encode()


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[EventQueue]:
    queue = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    yield queue
    queue.close()  # Python 3.13 reports an unclosed SQLite connection


def make_sender(
    queue: EventQueue,
    client: FakeClient,
    statuses: list[SendStatus] | None = None,
    **config: object,
) -> Sender:
    return Sender(
        queue,
        lambda: client,
        events_url=URL,
        app_key="app-key",
        server_key=KEYS.public,
        config=SenderConfig(**config),  # type: ignore[arg-type]
        runtime=Runtime(clock=lambda: NOW, rng=random.Random(7)),
        on_status=None if statuses is None else statuses.append,
    )


def fill(queue: EventQueue, n: int) -> None:
    for i in range(n):
        queue.append(event(i, call=i % 2 == 1))


# -- the status callback is app code: never under the sender's lock -----------------


@pytest.mark.parametrize("reply", [200, 503, 422, 413])
def test_on_status_runs_after_the_io_lock_is_released(queue: EventQueue, reply: int) -> None:
    fill(queue, 2)
    held: list[bool] = []

    def on_status(status: SendStatus) -> None:
        # Another thread (a fork hook, the app) must be able to take the lock now.
        attempt: list[bool] = []

        def probe() -> None:
            got = sender.io_lock.acquire(False)
            if got:
                sender.io_lock.release()
            attempt.append(got)

        other = threading.Thread(target=probe)
        other.start()
        other.join()
        held.append(not attempt[0])

    sender = Sender(
        queue, lambda: FakeClient(reply), events_url=URL, app_key="app-key",
        server_key=KEYS.public, runtime=Runtime(clock=lambda: NOW, rng=random.Random(7)),
        on_status=on_status,
    )
    sender.step()
    assert held == [False]  # called once, with the lock free


# -- what goes out -----------------------------------------------------------


def test_body_is_sealed_v1_with_exact_keys_and_headers(queue: EventQueue) -> None:
    fill(queue, 2)
    client = FakeClient(200)
    assert make_sender(queue, client).step() == 0.0
    (headers, body), = client.sent
    assert headers == {
        "Content-Type": CONTENT_TYPE,
        "Authorization": "Bearer app-key",
        "Idempotency-Key": headers["Idempotency-Key"],
        "N2Net-Key-Id": "k1",
    }
    plaintext = json.loads(KEYS.open(body))
    assert set(plaintext) == {"schema", "events"}
    assert plaintext["schema"] == "n2net.events/1"
    sms, call = plaintext["events"]
    assert set(sms) == {"id", "type", "number", "at"}
    assert set(call) == {"id", "type", "number", "at", "duration_s"}
    assert sms["at"] == "2026-03-01T12:00:00Z"
    assert len(queue) == 0


def test_idle_when_nothing_is_queued(queue: EventQueue) -> None:
    client = FakeClient()
    assert make_sender(queue, client).step() is None
    assert client.sent == []


# -- every status class ------------------------------------------------------

DELIVERED, RETRYING, SPLIT, DEAD = (
    SendState.DELIVERED,
    SendState.RETRYING,
    SendState.SPLIT,
    SendState.DEAD_LETTERED,
)


@pytest.mark.parametrize(
    ("answer", "state", "left", "dead"),
    [
        (200, DELIVERED, 0, {}),
        (202, DELIVERED, 0, {}),
        (204, DELIVERED, 0, {}),
        (408, RETRYING, 4, {}),
        (429, RETRYING, 4, {}),
        (500, RETRYING, 4, {}),
        (502, RETRYING, 4, {}),
        (503, RETRYING, 4, {}),
        (504, RETRYING, 4, {}),
        (301, RETRYING, 4, {}),
        (0, RETRYING, 4, {}),  # egress's "reply too large"
        (413, SPLIT, 4, {}),
        (400, DEAD, 0, {"http_400": 4}),
        (401, SendState.UNAUTHORIZED, 4, {}),  # configuration: never dead-lettered
        (403, DEAD, 0, {"http_403": 4}),
        (404, DEAD, 0, {"http_404": 4}),
        (422, DEAD, 0, {"http_422": 4}),
        (501, DEAD, 0, {"http_501": 4}),
        (505, DEAD, 0, {"http_505": 4}),
        (NetworkError("x"), RETRYING, 4, {}),
        (NetworkTimeout("x"), RETRYING, 4, {}),
        (PinMismatchError("x"), SendState.PIN_MISMATCH, 4, {}),
        (EgressPolicyError("x", purpose="n2net_api", host="h"), SendState.BLOCKED, 4, {}),
    ],
)
def test_each_outcome(
    queue: EventQueue, answer: Script, state: SendState, left: int, dead: dict[str, int]
) -> None:
    fill(queue, 4)
    statuses: list[SendStatus] = []
    make_sender(queue, FakeClient(answer), statuses).step()
    assert [s.state for s in statuses] == [state]
    assert statuses[0].events == 4
    assert len(queue) == left
    assert queue.dead_letter_counts() == dead


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (NetworkError("x"), "network error"),
        (NetworkTimeout("x"), "timeout"),
        (PinMismatchError("x"), "pin mismatch"),
    ],
)
def test_nothing_sent_errors_keep_events_and_report_why(
    queue: EventQueue, error: BaseException, reason: str
) -> None:
    fill(queue, 3)
    statuses: list[SendStatus] = []
    client = FakeClient(error, 200)
    sender = make_sender(queue, client, statuses)
    delay = sender.step()
    assert delay is not None
    assert 0 <= delay <= 0.5  # first retry: full jitter under base
    assert statuses[0].reason == reason
    assert statuses[0].retry_in == delay
    assert client.sent == []  # the failed attempt sent nothing the server kept
    assert len(queue) == 3
    sender.step()
    assert len(queue) == 0
    assert statuses[-1].state is SendState.DELIVERED


def test_pin_mismatch_keeps_retrying_without_sending(queue: EventQueue) -> None:
    fill(queue, 2)
    statuses: list[SendStatus] = []
    client = FakeClient(*[PinMismatchError("x")] * 5)
    sender = make_sender(queue, client, statuses)
    for _ in range(5):
        sender.step()
    assert [s.state for s in statuses] == [SendState.PIN_MISMATCH] * 5
    assert [s.attempt for s in statuses] == [1, 2, 3, 4, 5]
    assert client.sent == []
    assert len(queue) == 2


# -- retries: same key, backoff, Retry-After ----------------------------------


def test_retries_reuse_the_idempotency_key_and_the_events(queue: EventQueue) -> None:
    fill(queue, 3)
    client = FakeClient(503, NetworkTimeout("x"), 500, 200)
    sender = make_sender(queue, client)
    for _ in range(4):
        sender.step()
    assert len(set(client.keys())) == 1
    assert len(client.sent) == 3
    assert client.batches()[0] == client.batches()[-1]
    assert len(queue) == 0


def test_retry_after_a_restart_reuses_the_key(queue: EventQueue, tmp_path: Path) -> None:
    fill(queue, 3)
    first = FakeClient(503)
    make_sender(queue, first).step()
    queue.close()
    reopened = EventQueue(tmp_path / "q.sqlite3", AtRestKey(b"k" * 32))
    second = FakeClient(200)
    make_sender(reopened, second).step()
    reopened.close()
    assert first.keys() == second.keys()
    assert first.batches() == second.batches()


def test_backoff_is_full_jitter_doubling_to_the_cap(queue: EventQueue) -> None:
    fill(queue, 1)
    sender = make_sender(queue, FakeClient(*[503] * 12), backoff_base_s=0.5, backoff_cap_s=60.0)
    delays = [sender.step() for _ in range(12)]
    expected_rng = random.Random(7)
    expected = [expected_rng.uniform(0, min(60.0, 0.5 * 2**n)) for n in range(12)]
    assert delays == pytest.approx(expected)


def _retry_after(value: str) -> EgressResponse:
    return EgressResponse(503, {"retry-after": value}, b"")


@pytest.mark.parametrize(
    ("header", "delay"),
    [
        ("7", 7.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        ("3600", 60.0),  # capped
        (format_datetime(NOW + timedelta(hours=2), usegmt=True), 60.0),
    ],
)
def test_retry_after_seconds_and_http_date(queue: EventQueue, header: str, delay: float) -> None:
    fill(queue, 1)
    sender = make_sender(queue, FakeClient(_retry_after(header)))
    assert sender.step() == pytest.approx(delay)


def test_429_with_retry_after_is_honoured(queue: EventQueue) -> None:
    fill(queue, 1)
    answer = EgressResponse(429, {"retry-after": "12"}, b"")
    statuses: list[SendStatus] = []
    assert make_sender(queue, FakeClient(answer), statuses).step() == 12.0
    assert statuses[0].http_status == 429


@pytest.mark.parametrize("header", ["soon", "-5", "", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_unusable_retry_after_falls_back_to_backoff(queue: EventQueue, header: str) -> None:
    fill(queue, 1)
    delay = make_sender(queue, FakeClient(_retry_after(header))).step()
    assert delay is not None
    assert 0 <= delay <= 0.5


# -- 413 and size limits -----------------------------------------------------


def test_413_splits_in_halves_until_accepted(queue: EventQueue) -> None:
    fill(queue, 8)
    client = FakeClient(413, 413, 200, 200, 200)
    sender = make_sender(queue, client)
    while sender.step() is not None:
        pass
    sizes = [len(batch) for batch in client.batches()]
    assert sizes == [8, 4, 2, 2, 4]
    assert len(set(client.keys())) == 5  # every half is a new batch with a new key
    delivered = [e["id"] for batch in client.batches()[2:] for e in batch]
    assert len(delivered) == 8
    assert len(set(delivered)) == 8


def test_413_for_a_single_event_dead_letters_it(queue: EventQueue) -> None:
    fill(queue, 1)
    make_sender(queue, FakeClient(413)).step()
    assert queue.dead_letter_counts() == {"http_413": 1}


def test_batches_are_cut_by_count(queue: EventQueue) -> None:
    fill(queue, 1200)
    client = FakeClient()
    sender = make_sender(queue, client)
    while sender.step() is not None:
        pass
    assert [len(b) for b in client.batches()] == [500, 500, 200]


def test_batches_are_cut_by_sealed_size(queue: EventQueue) -> None:
    fill(queue, 60)
    client = FakeClient()
    sender = make_sender(queue, client, batch_max_bytes=2048)
    while sender.step() is not None:
        pass
    assert all(len(body) <= 2048 for _, body in client.sent)
    assert sum(len(b) for b in client.batches()) == 60
    assert len(client.sent) > 3


def test_the_hybrid_post_quantum_key_also_fits_the_size_limit(queue: EventQueue) -> None:
    hybrid = ServerKeyPair.generate("mlkem768x25519", key_id="pq")
    fill(queue, 40)
    client = FakeClient()
    sender = Sender(
        queue, lambda: client, events_url=URL, app_key="a", server_key=hybrid.public,
        config=SenderConfig(batch_max_bytes=4096),
    )
    while sender.step() is not None:
        pass
    assert all(len(body) <= 4096 for _, body in client.sent)
    assert sum(len(json.loads(hybrid.open(body))["events"]) for _, body in client.sent) == 40


@pytest.mark.parametrize(
    "bad",
    [b'{"not": "an event"}', b"not json", event(99)[:-1] + b',"name":"Ann"}'],
)
def test_a_bad_payload_is_isolated_and_dead_lettered_alone(queue: EventQueue, bad: bytes) -> None:
    fill(queue, 3)
    queue.append(bad)
    for i in range(3, 7):
        queue.append(event(i))
    client = FakeClient()
    sender = make_sender(queue, client)
    while sender.step() is not None:
        pass
    assert queue.dead_letter_counts() == {"invalid_payload": 1}
    delivered = [e["id"] for batch in client.batches() for e in batch]
    assert sorted(delivered) == sorted(json.loads(event(i))["id"] for i in range(7))
    assert all(b'"name"' not in KEYS.open(body) for _, body in client.sent)


# -- misc --------------------------------------------------------------------


def test_a_malformed_200_reply_still_counts_as_delivered(queue: EventQueue) -> None:
    fill(queue, 1)
    make_sender(queue, FakeClient(EgressResponse(200, {}, b"not json"))).step()
    assert len(queue) == 0


def test_status_callback_that_raises_is_contained(queue: EventQueue) -> None:
    fill(queue, 1)

    def boom(status: SendStatus) -> None:
        raise RuntimeError("app bug")

    sender = Sender(
        queue, FakeClient, events_url=URL, app_key="a", server_key=KEYS.public, on_status=boom,
    )
    assert sender.step() == 0.0
    assert len(queue) == 0


def test_close_closes_the_client_and_after_fork_abandons_it(queue: EventQueue) -> None:
    fill(queue, 2)
    clients = [FakeClient(), FakeClient()]
    made = iter(clients)
    sender = Sender(
        queue, lambda: next(made), events_url=URL, app_key="a", server_key=KEYS.public,
        config=SenderConfig(batch_max_events=1),
    )
    sender.step()
    sender.after_fork()
    assert not clients[0].closed  # its sockets are the parent's: never closed in a child
    sender.step()
    sender.close()
    assert clients[1].closed
    assert len(clients[1].sent) == 1


@pytest.mark.parametrize(
    "config",
    [
        {"batch_max_events": 0},
        {"batch_max_events": 501},
        {"batch_max_bytes": 256 * 1024 + 1},
        {"batch_max_bytes": 100},
        {"linger_s": 1.5},
        {"linger_s": -1},
        {"request_timeout_s": 0},
        {"backoff_base_s": 0},
    ],
)
def test_config_beyond_the_contract_is_refused(config: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        SenderConfig(**config)  # type: ignore[arg-type]


# -- the same branches through the real egress client, with respx -------------

HTTP_DATE = format_datetime(NOW + timedelta(seconds=20), usegmt=True)


@pytest.mark.parametrize(
    ("reply", "state", "delay", "left"),
    [
        (httpx.Response(200, json={"accepted": [], "duplicates": []}), DELIVERED, 0.0, 0),
        (httpx.Response(503, headers={"Retry-After": "4"}), RETRYING, 4.0, 2),
        (httpx.Response(503, headers={"Retry-After": HTTP_DATE}), RETRYING, 20.0, 2),
        (httpx.Response(429, headers={"Retry-After": "2"}), RETRYING, 2.0, 2),
        (httpx.Response(408), RETRYING, None, 2),
        (httpx.ConnectTimeout("slow"), RETRYING, None, 2),
        (httpx.ReadTimeout("slow"), RETRYING, None, 2),
        (httpx.ConnectError("refused"), RETRYING, None, 2),
        (httpx.RemoteProtocolError("reset"), RETRYING, None, 2),
        (httpx.Response(413), SPLIT, 0.0, 2),
        (httpx.Response(422, json={"error": "invalid_batch"}), DEAD, 0.0, 0),
        (httpx.Response(401), SendState.UNAUTHORIZED, 60.0, 2),  # held, never dead-lettered
        (httpx.Response(401, json={"error": "unknown_key_id"}), SendState.KEY_REJECTED, 0.0, 2),
        (httpx.Response(505), DEAD, 0.0, 0),
    ],
)
def test_branches_through_egress_with_respx(
    queue: EventQueue,
    reply: httpx.Response | Exception,
    state: SendState,
    delay: float | None,
    left: int,
) -> None:
    fill(queue, 2)
    egress = Egress()
    statuses: list[SendStatus] = []
    sender = Sender(
        queue, lambda: egress.client(Purpose.N2NET_API), events_url=URL, app_key="app-key",
        server_key=KEYS.public, runtime=Runtime(clock=lambda: NOW, rng=random.Random(1)),
        on_status=statuses.append,
    )
    with respx.mock(assert_all_called=True) as router:
        route = router.post(URL).mock(side_effect=[reply])
        got = sender.step()
    assert [s.state for s in statuses] == [state]
    assert len(queue) == left
    if delay is None:
        assert got is not None
        assert 0 <= got <= 0.5
    else:
        assert got == pytest.approx(delay)
    sent = route.calls.last.request
    assert sent.headers["content-type"] == CONTENT_TYPE
    assert len(json.loads(KEYS.open(sent.content))["events"]) == 2
    assert [entry.path for entry in egress.audit.entries()] == ["/v1/events"]
