"""The conformance kit against the reference server (it must pass) and against mutants.

Each mutant is the reference endpoint behind a tiny loopback HTTP server with
one deliberate defect, and must fail exactly the checks that its defect
breaks: the test asserts the set of failed check names. The kit itself sees
only HTTP; the mutants may use anything (private keys, the reference store).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import random
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from _support import FakeClock

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import ConfigurationError, WireFormatError
from n2net_privacy.testing import IngestServer
from n2net_privacy.testing.conformance import (
    CHECKS,
    KitRuntime,
    Report,
    Target,
    Verdict,
    run_conformance,
    select,
)
from n2net_privacy.testing.conformance.gateway import GATEWAY_CHECKS
from n2net_privacy.testing.servers.ingest_endpoint import IngestEndpoint, Reply, error_reply
from n2net_privacy.testing.servers.ingest_store import EventStore
from n2net_privacy.uploader.wire import ServerKeyPair, open_sealed, seal

APP_KEY = "app-key-conformance"
K1 = ServerKeyPair.generate("x25519", key_id="k1")
K2 = ServerKeyPair.generate("mlkem768x25519", key_id="k2")
NOW = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)
ALL = frozenset(check.name for check in CHECKS)
V1_EVENT_KEYS = frozenset({"id", "type", "number", "at", "duration_s"})


@dataclass
class Kit:
    clock: FakeClock = field(default_factory=lambda: FakeClock(1000.0))
    sleeps: list[float] = field(default_factory=list)

    def runtime(self) -> KitRuntime:
        return KitRuntime(
            now=lambda: NOW, monotonic=self.clock, sleep=self.sleeps.append,
            rng=random.Random(27),
        )


# -- a loopback server around the reference endpoint, with one defect each -------------


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


Handle = Callable[[Request], Answer]


def answer(reply: Reply) -> Answer:
    extra = () if reply.retry_after is None else (("Retry-After", reply.retry_after),)
    return Answer(reply.status, reply.body, (("Content-Type", "application/json"), *extra))


def _read_chunked(handler: BaseHTTPRequestHandler) -> bytes:
    body = b""
    while True:
        size = int(handler.rfile.readline().split(b";", 1)[0], 16)
        chunk = handler.rfile.read(size + 2)[:size]
        if not size:
            return body
        body += chunk


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs cost 40 ms a request
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        length = self.headers.get("content-length")
        if length is None:
            if self.server.check_length:
                self.close_connection = True
                self._send(answer(error_reply(411, "length_required", "no length")))
                return
            body = _read_chunked(self)
        elif int(length) > self.server.limit:
            self.close_connection = True
            self._send(answer(error_reply(413, "payload_too_large", "too large")))
            return
        else:
            body = self.rfile.read(int(length))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._send(self.server.handle(Request(self.path, headers, body)))

    def _send(self, reply: Answer) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handle: Handle, *, check_length: bool, limit: int) -> None:
        self.handle = handle
        self.check_length = check_length
        self.limit = limit
        super().__init__(("127.0.0.1", 0), _Handler)


@contextlib.contextmanager
def serving(
    handle: Handle, *, check_length: bool = True, limit: int = 32 * 1024
) -> Iterator[str]:
    """Serve ``handle`` on plain http loopback; yield the base URL."""
    server = _Server(handle, check_length=check_length, limit=limit)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


_OPEN_STORES: list[EventStore] = []


@pytest.fixture(autouse=True)
def _close_the_stores() -> Iterator[None]:
    """Close every store a test's References opened (Python 3.13 warns of an open one)."""
    yield
    while _OPEN_STORES:
        _OPEN_STORES.pop().close()


class Reference:
    """The reference endpoint as a :data:`Handle`; mutants wrap it."""

    def __init__(self, pairs: tuple[ServerKeyPair, ...] = (K1, K2)) -> None:
        self.pairs = {pair.key_id: pair for pair in pairs}
        store = EventStore()
        _OPEN_STORES.append(store)
        self.endpoint = IngestEndpoint(self.pairs, app_key=APP_KEY, store=store)

    def __call__(self, request: Request) -> Answer:
        return answer(self.endpoint.handle(request.path, request.headers, request.body))

    def reseal(self, request: Request, change: Callable[[dict[str, Any]], None]) -> Request:
        """Open the body, change the plaintext, seal it again (what a lenient server does)."""
        pair = self.pairs.get(request.headers.get("n2net-key-id", ""))
        if pair is None:
            return request
        try:
            document = json.loads(open_sealed(request.body, pair.private_key))
        except WireFormatError:
            return request
        change(document)
        body = seal(json.dumps(document, separators=(",", ":")).encode(), pair.public)
        return Request(request.path, request.headers, body)


def run_kit(url: str, kit: Kit | None = None, *, keys: tuple[ServerKeyPair, ...] = (K1, K2),
            only: str | None = None, verify: ssl.SSLContext | None = None) -> Report:
    kit = kit or Kit()
    policy = EgressPolicy({Purpose.N2NET_API: frozenset({"127.0.0.1"})},
                          test_mode=url.startswith("http:"))
    egress = Egress(policy, verify=verify)
    target = Target(url, APP_KEY, tuple(pair.public for pair in keys), oversize_bytes=64 * 1024)
    with egress.client(Purpose.N2NET_API) as client:
        return run_conformance(target, client, only=only, runtime=kit.runtime())


def failed(report: Report) -> set[str]:
    return set(report.failed)


# -- the reference server passes ------------------------------------------------------


@pytest.fixture(scope="module")
def pki() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return server_ctx, client_ctx


def test_the_reference_server_over_tls_passes_every_check(
    pki: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_ctx, client_ctx = pki
    with IngestServer([K1, K2], app_key=APP_KEY, tls=server_ctx,
                      max_body_bytes=32 * 1024) as server:
        report = run_kit(server.url, verify=client_ctx)
        stored = server.count()
    assert len(report.results) == len(CHECKS) >= 15
    assert report.failed == ()
    verdicts = {result.name: result.verdict for result in report.results}
    # The only skip: a black box cannot make the reference server throttle.
    assert {name for name, v in verdicts.items() if v is Verdict.SKIPPED} == {
        "retry-after-parseable"
    }
    assert report.exit_code == 0
    assert stored > 20  # the kit really stored events: the checks are not vacuous


def test_the_harness_without_a_defect_passes_too() -> None:
    with serving(Reference()) as url:
        report = run_kit(url)
    assert failed(report) == set()
    skipped = {r.name for r in report.results if r.verdict is Verdict.SKIPPED}
    assert skipped == {"retry-after-parseable", "tls-https-only"}  # plain http loopback


# -- mutants: each fails exactly the checks its defect breaks -------------------------


def test_answering_200_with_an_empty_body_to_everything_fails() -> None:
    with serving(lambda request: Answer(200, b""), check_length=False, limit=10**9) as url:
        report = run_kit(url)
    assert report.exit_code == 1
    assert {"valid-batch-accepted", "unknown-key-id", "extra-field-refused",
            "wrong-app-key-refused", "oversize-body-refused"} <= failed(report)


def _ignoring_idempotency(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        headers = dict(request.headers)
        if "idempotency-key" in headers:
            headers["idempotency-key"] = str(uuid.uuid4())
        return reference(Request(request.path, headers, request.body))

    return handle


def _accepting_extra_fields(reference: Reference) -> Handle:
    def strip(document: dict[str, Any]) -> None:
        for event in document.get("events", []):
            for name in set(event) - V1_EVENT_KEYS:
                del event[name]

    return lambda request: reference(reference.reseal(request, strip))


def _unknown_key_500(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        key_id = request.headers.get("n2net-key-id")
        if key_id and key_id not in reference.pairs:
            return answer(error_reply(500, "internal", "KeyError"))
        return reference(request)

    return handle


def _caching_errors(reference: Reference) -> Handle:
    errors: dict[str, Answer] = {}

    def handle(request: Request) -> Answer:
        key = request.headers.get("idempotency-key", "")
        if key in errors:
            return errors[key]
        reply = reference(request)
        if reply.status >= 400 and key:
            errors[key] = reply
        return reply

    return handle


def _echoing_values(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        reply = reference(request)
        if reply.status != 422:
            return reply
        pair = reference.pairs[request.headers["n2net-key-id"]]
        plaintext = open_sealed(request.body, pair.private_key).decode()
        document = json.loads(reply.body) | {"detail": f"rejected {plaintext}"}
        return Answer(422, json.dumps(document).encode())

    return handle


def _throttling(retry_after: str) -> Callable[[Reference], Handle]:
    def build(reference: Reference) -> Handle:
        seen = iter(range(10**6))

        def handle(request: Request) -> Answer:
            if next(seen) % 5 == 4:
                return answer(error_reply(503, "busy", "try later", retry_after=retry_after))
            return reference(request)

        return handle

    return build


def _redirecting_unauthenticated(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {APP_KEY}":
            return Answer(307, b"", (("Location", "http://login.example/v1/events"),))
        return reference(request)

    return handle


def _ignoring_app_key(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        return reference(Request(
            request.path, request.headers | {"authorization": f"Bearer {APP_KEY}"}, request.body
        ))

    return handle


def _any_content_type(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        return reference(Request(
            request.path, request.headers | {"content-type": "application/n2net-sealed"},
            request.body,
        ))

    return handle


def _plain_text_415(reference: Reference) -> Handle:
    def handle(request: Request) -> Answer:
        reply = reference(request)
        if reply.status == 415:
            return Answer(415, b"Unsupported Media Type", (("Content-Type", "text/plain"),))
        return reply

    return handle


def _utc_offsets_accepted(reference: Reference) -> Handle:
    def to_utc(document: dict[str, Any]) -> None:
        for event in document.get("events", []):
            at = dt.datetime.fromisoformat(event["at"])
            if at.utcoffset():
                event["at"] = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return lambda request: reference(reference.reseal(request, to_utc))


MUTANTS: dict[str, tuple[Callable[[Reference], Handle], set[str]]] = {
    "ignores the Idempotency-Key": (
        _ignoring_idempotency, {"idempotency-replay", "idempotency-key-conflict"},
    ),
    "accepts extra fields": (_accepting_extra_fields, {"extra-field-refused"}),
    "answers 500 for an unknown key id": (_unknown_key_500, {"unknown-key-id"}),
    "stores error replies under the Idempotency-Key": (
        _caching_errors, {"rotation-reseal-accepted"},
    ),
    "echoes the plaintext in a 422": (_echoing_values, {"replies-echo-no-values"}),
    "sends a Retry-After the SDK cannot read": (
        _throttling("in a moment"), {"retry-after-parseable"},
    ),
    "sends decimal seconds in Retry-After (not 1*DIGIT)": (
        _throttling("0.5"), {"retry-after-parseable"},
    ),
    "redirects a request without the app key to http": (
        _redirecting_unauthenticated, {"wrong-app-key-refused", "no-http-redirect"},
    ),
    "ignores the app key": (_ignoring_app_key, {"wrong-app-key-refused"}),
    "accepts any Content-Type": (_any_content_type, {"wrong-content-type-refused"}),
    "answers 415 in plain text": (_plain_text_415, {"error-replies-documented"}),
    "accepts UTC offsets": (_utc_offsets_accepted, {"timestamp-not-utc-refused"}),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_mutant_fails_exactly_the_checks_its_defect_breaks(name: str) -> None:
    build, expected = MUTANTS[name]
    with serving(build(Reference())) as url:
        report = run_kit(url)
    assert failed(report) == expected
    assert report.exit_code == 1


def test_a_server_that_reads_chunked_bodies_fails_only_the_411_check() -> None:
    with serving(Reference(), check_length=False) as url:
        assert failed(run_kit(url)) == {"missing-length-refused"}


def test_a_server_without_a_body_limit_fails_only_the_413_check() -> None:
    with serving(Reference(), limit=10**9) as url:
        assert failed(run_kit(url)) == {"oversize-body-refused"}


def test_a_server_that_does_not_serve_the_next_key_fails_the_rotation_checks() -> None:
    with serving(Reference(pairs=(K1,))) as url:
        report = run_kit(url, keys=(K1, K2))
    assert failed(report) == {"every-server-key-accepted", "rotation-reseal-accepted"}


def test_a_slow_reply_fails_only_the_timeout_check() -> None:
    kit = Kit()
    reference = Reference()
    count = iter(range(10**6))

    def slow(request: Request) -> Answer:
        if next(count) == 3:
            kit.clock.advance(10.5)  # past the SDK's 10 s request timeout
        return reference(request)

    with serving(slow) as url:
        report = run_kit(url, kit)
    assert failed(report) == {"replies-within-timeout"}
    (result,) = [r for r in report.results if r.name == "replies-within-timeout"]
    assert "10 s timeout" in result.message


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("2", 2.0),
        # An HTTP date 30 s ahead: honoured, but the kit waits at most max_wait_s (10 s).
        (email.utils.format_datetime(NOW + dt.timedelta(seconds=30), usegmt=True), 10.0),
    ],
)
def test_readable_retry_after_passes_and_the_kit_waits_as_the_sdk_would(
    retry_after: str, wait: float
) -> None:
    kit = Kit()
    with serving(_throttling(retry_after)(Reference())) as url:
        report = run_kit(url, kit)
    assert failed(report) == set()
    (result,) = [r for r in report.results if r.name == "retry-after-parseable"]
    assert result.verdict is Verdict.PASSED
    assert kit.sleeps and set(kit.sleeps) == {wait}


def test_a_503_without_retry_after_passes_the_sdk_backs_off_on_its_own() -> None:
    def build(reference: Reference) -> Handle:
        seen = iter(range(10**6))
        return lambda r: (Answer(503, b'{"error":"busy","detail":"x"}') if next(seen) % 7 == 6
                          else reference(r))

    with serving(build(Reference())) as url:
        report = run_kit(url)
    (result,) = [r for r in report.results if r.name == "retry-after-parseable"]
    assert (result.verdict, "without Retry-After" in result.message) == (Verdict.PASSED, True)


def test_a_server_that_is_down_fails_every_check_that_sends() -> None:
    with serving(Reference()) as url:
        pass  # closed: nothing listens on that port any more
    report = run_kit(url)
    assert report.exit_code == 1
    assert "valid-batch-accepted" in failed(report)
    (first,) = [r for r in report.results if r.name == "valid-batch-accepted"]
    assert "network error" in first.message


# -- selection ------------------------------------------------------------------------


def test_only_runs_the_named_checks_and_observers_sample_on_their_own() -> None:
    with serving(Reference()) as url:
        report = run_kit(url, only="idempotency-*, replies-echo-no-values")
    assert [r.name for r in report.results] == [
        "idempotency-replay", "idempotency-key-conflict", "replies-echo-no-values",
    ]
    with serving(Reference()) as url:
        alone = run_kit(url, only="error-replies-documented")
    assert [r.verdict for r in alone.results] == [Verdict.PASSED]
    assert "judged 2 error replies" in alone.results[0].message


@pytest.mark.parametrize("only", ["nothing-like-this", " , ", "valid-batch-accepted,nope*"])
def test_a_pattern_that_matches_no_check_is_a_configuration_error(only: str) -> None:
    with pytest.raises(ConfigurationError):
        select(only)


def test_every_check_has_a_distinct_name_and_a_contract_sentence() -> None:
    names = [check.name for check in CHECKS]
    assert len(names) == len(set(names)) >= 15
    assert all(check.contract.endswith(".") and len(check.contract) > 40 for check in CHECKS)
    observers = [check.observes for check in CHECKS]
    assert observers == sorted(observers)  # the observing checks run last


def test_docs_list_every_check() -> None:
    text = (Path(__file__).parent.parent / "docs" / "backend.md").read_text(encoding="utf-8")
    names = [check.name for check in (*CHECKS, *GATEWAY_CHECKS)]
    missing = [name for name in names if f"| `{name}` |" not in text]
    assert missing == []
