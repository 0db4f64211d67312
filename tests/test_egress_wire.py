"""The egress door on real sockets: what reaches a server, byte for byte.

A :class:`Recorder` is a raw listening socket on 127.0.0.1 that keeps every
byte that arrives (after TLS, when it terminates TLS). A request the door
refuses must put nothing on the wire: no connection at all for policy
refusals, a handshake and then 0 request bytes for a pin failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import trustme
from _support import FakeClock

from n2net_privacy.egress import Egress, EgressPolicy, PinSet, Purpose, spki_sha256
from n2net_privacy.errors import EgressPolicyError, NetworkError, PinMismatchError

BOGUS = ("A" * 43 + "=", "B" * 43 + "=")  # well-formed pins no test key carries
NOW = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
FUTURE = dt.date(2030, 1, 1)
PAST = dt.date(2026, 6, 1)
_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@dataclass
class Recorder:
    """Accepts on 127.0.0.1, records what each connection sent, answers 200 "ok"."""

    tls: ssl.SSLContext | None = None
    connections: int = 0
    handshakes: int = 0
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._wake_r, self._wake_w = socket.socketpair()
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/v1/events") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    @property
    def wire(self) -> bytes:
        """Every request byte that arrived, over every connection."""
        return b"".join(self.received)

    def _serve(self) -> None:
        while True:
            ready, _, _ = select.select([self._listener, self._wake_r], [], [])
            if self._listener in ready:
                conn, _ = self._listener.accept()
                self._handle(conn)
            elif self._wake_r in ready:
                return

    def _handle(self, raw: socket.socket) -> None:
        self.connections += 1
        data = b""
        conn = raw
        try:
            raw.settimeout(5)
            if self.tls is not None:
                conn = self.tls.wrap_socket(raw, server_side=True)
                self.handshakes += 1
            while b"\r\n\r\n" not in data or len(data) < _expected(data):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            if data:
                conn.sendall(_REPLY)
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.received.append(data)
            conn.close()

    def close(self) -> None:
        if self._listener.fileno() == -1:
            return
        self._wake_w.send(b"x")
        self._thread.join()
        # Anything still queued would be a connection made before close: count it.
        self._listener.setblocking(False)
        while True:
            try:
                conn, _ = self._listener.accept()
            except BlockingIOError:
                break
            self.connections += 1
            conn.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


@dataclass
class Pki:
    root: trustme.CA
    intermediate: trustme.CA
    leaf: trustme.LeafCert
    other_ca: trustme.CA

    def server_ctx(self, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or self.leaf).configure_cert(ctx)
        return ctx

    def client_ctx(self, ca: trustme.CA | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        (ca or self.root).configure_trust(ctx)
        return ctx

    def pin(self, level: str) -> str:
        pem = {
            "leaf": self.leaf.cert_chain_pems[0].bytes(),
            "intermediate": self.intermediate.cert_pem.bytes(),
            "root": self.root.cert_pem.bytes(),
            "other": self.other_ca.cert_pem.bytes(),
        }[level]
        return spki_sha256(ssl.PEM_cert_to_DER_cert(pem.decode()))


@pytest.fixture(scope="module")
def pki() -> Pki:
    root = trustme.CA()
    intermediate = root.create_child_ca()
    return Pki(root, intermediate, intermediate.issue_cert("127.0.0.1"), trustme.CA())


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[Recorder]:
    server = Recorder(tls=pki.server_ctx())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def plain_server() -> Iterator[Recorder]:
    server = Recorder()
    try:
        yield server
    finally:
        server.close()


def _policy(*entries: str, test_mode: bool = False) -> EgressPolicy:
    hosts = frozenset(entries or {"127.0.0.1"})
    return EgressPolicy(
        allowed_hosts={Purpose.N2NET_API: hosts, Purpose.GRAVATAR: hosts}, test_mode=test_mode
    )


def _send(egress: Egress, url: str, method: str = "POST", purpose: Purpose = Purpose.N2NET_API,
          **kwargs: object) -> int:
    client = egress.client(purpose)
    try:
        return client.request(method, url, **kwargs).status  # type: ignore[arg-type]
    finally:
        client.close()


# --- what the door lets through, on the wire -------------------------------------------


def test_an_admitted_request_arrives_with_the_framing_the_door_derived(
    pki: Pki, tls_server: Recorder
) -> None:
    egress = Egress(_policy(), verify=pki.client_ctx())
    assert _send(egress, tls_server.url(), content=b"sealed", headers={"X-Trace": "1"}) == 200
    tls_server.close()
    (request,) = tls_server.received
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/events HTTP/1.1"
    headers = [line.split(b": ", 1) for line in lines[1:]]
    authority = f"127.0.0.1:{tls_server.port}".encode()
    assert [v for k, v in headers if k.lower() == b"host"] == [authority]
    assert [v for k, v in headers if k.lower() == b"content-length"] == [b"6"]
    assert [v for k, v in headers if k.lower() == b"x-trace"] == [b"1"]
    assert body == b"sealed"


# --- the request line and headers belong to the door -----------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"Host": "evil.example"},  # domain fronting
        {"host": "127.0.0.1"},  # even a plausible value: the door derives Host
        {"Content-Length": "0"},  # smuggling: the body would be read as a new request
        {"Transfer-Encoding": "chunked"},
        {"Connection": "close"},
        {"Upgrade": "h2c"},
        {"TE": "trailers"},
        {"Proxy-Authorization": "Basic eDp5"},
    ],
)
def test_a_caller_set_framing_header_puts_zero_bytes_on_the_wire(
    pki: Pki, tls_server: Recorder, header: dict[str, str]
) -> None:
    egress = Egress(_policy(), verify=pki.client_ctx())
    with pytest.raises(EgressPolicyError, match="set by the door"):
        _send(egress, tls_server.url(), content=b"sealed", headers=header)
    tls_server.close()
    assert (tls_server.connections, tls_server.wire) == (0, b"")
    (entry,) = egress.audit.entries()
    assert entry.blocked


def test_a_body_given_as_chunks_goes_chunked_without_a_length(
    pki: Pki, tls_server: Recorder
) -> None:
    egress = Egress(_policy(), verify=pki.client_ctx())
    # The recorder answers once the head is in and hangs up, maybe mid-body: only
    # what left the door matters here.
    with contextlib.suppress(NetworkError):
        _send(egress, tls_server.url(), content=iter([b"seal", b"ed"]))
    tls_server.close()
    head = tls_server.wire.partition(b"\r\n\r\n")[0].lower()
    fields = [line.partition(b":") for line in head.split(b"\r\n")[1:]]
    assert [value.strip() for name, _, value in fields if name == b"transfer-encoding"] == [
        b"chunked"
    ]
    assert not [name for name, _, _ in fields if name == b"content-length"]
    (entry,) = egress.audit.entries()
    assert not entry.blocked


def test_a_disallowed_port_puts_zero_bytes_on_the_wire(pki: Pki, tls_server: Recorder) -> None:
    other = tls_server.port + 1 if tls_server.port < 65535 else tls_server.port - 1
    egress = Egress(_policy(f"127.0.0.1:{other}"), verify=pki.client_ctx())
    with pytest.raises(EgressPolicyError, match=f"port {tls_server.port}"):
        _send(egress, tls_server.url(), content=b"x")
    allowed = Egress(_policy(f"127.0.0.1:{tls_server.port}"), verify=pki.client_ctx())
    assert _send(allowed, tls_server.url(), content=b"x") == 200
    tls_server.close()
    assert tls_server.connections == 1  # only the allowed request connected
    assert tls_server.wire.startswith(b"POST /v1/events HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("purpose", "method"),
    [(Purpose.GRAVATAR, "POST"), (Purpose.N2NET_API, "DELETE"), (Purpose.N2NET_API, "CONNECT")],
)
def test_a_disallowed_method_puts_zero_bytes_on_the_wire(
    pki: Pki, tls_server: Recorder, purpose: Purpose, method: str
) -> None:
    egress = Egress(_policy(), verify=pki.client_ctx())
    with pytest.raises(EgressPolicyError, match=f"method {method!r}"):
        _send(egress, tls_server.url(), method, purpose)
    tls_server.close()
    assert (tls_server.connections, tls_server.wire) == (0, b"")


def test_credentials_in_the_url_put_zero_bytes_on_the_wire(
    pki: Pki, tls_server: Recorder
) -> None:
    egress = Egress(_policy(), verify=pki.client_ctx())
    url = tls_server.url().replace("https://", "https://user:secret@")
    with pytest.raises(EgressPolicyError, match="user info"):
        _send(egress, url, content=b"x")
    tls_server.close()
    assert (tls_server.connections, tls_server.wire) == (0, b"")


# --- TLS a reviewer would sign -----------------------------------------------------------


def test_a_context_without_hostname_check_is_refused_outside_test_mode(
    pki: Pki, pki_evil: trustme.LeafCert
) -> None:
    server = Recorder(tls=pki.server_ctx(pki_evil))  # a certificate for evil.example
    try:
        lax = pki.client_ctx()
        lax.check_hostname = False
        with pytest.raises(EgressPolicyError, match="host name checking"):
            Egress(_policy(), verify=lax)
        # With the check on, the wrong name fails the handshake: no request byte.
        with pytest.raises(NetworkError):
            _send(Egress(_policy(), verify=pki.client_ctx()), server.url(), content=b"x")
        # Test mode is the one place that relaxes it (a local server, a test cert).
        assert _send(Egress(_policy(test_mode=True), verify=lax), server.url(), content=b"x") \
            == 200
    finally:
        server.close()
    assert server.received[0] == b""
    assert server.received[1].startswith(b"POST /v1/events HTTP/1.1\r\n")


@pytest.fixture(scope="module")
def pki_evil(pki: Pki) -> trustme.LeafCert:
    return pki.root.issue_cert("evil.example")


def test_a_server_from_another_ca_gets_no_request_byte(pki: Pki) -> None:
    server = Recorder(tls=pki.server_ctx(pki.other_ca.issue_cert("127.0.0.1")))
    try:
        with pytest.raises(NetworkError):
            _send(Egress(_policy(), verify=pki.client_ctx()), server.url(), content=b"x")
    finally:
        server.close()
    assert server.wire == b""


@pytest.mark.parametrize("level", ["leaf", "intermediate", "root"])
def test_a_pin_at_any_level_of_the_verified_chain_works(
    pki: Pki, tls_server: Recorder, level: str
) -> None:
    pins = {Purpose.N2NET_API: PinSet({pki.pin(level), BOGUS[0]}, expires=FUTURE)}
    egress = Egress(_policy(), verify=pki.client_ctx(), pins=pins, clock=lambda: NOW)
    assert _send(egress, tls_server.url(), content=b"sealed") == 200
    tls_server.close()
    assert tls_server.wire.endswith(b"\r\n\r\nsealed")


@pytest.mark.parametrize("pins", [BOGUS, ("other", BOGUS[0])])
def test_a_pin_failure_puts_zero_request_bytes_on_the_wire(
    pki: Pki, tls_server: Recorder, pins: tuple[str, str]
) -> None:
    values = {pki.pin(p) if p == "other" else p for p in pins}
    egress = Egress(
        _policy(), verify=pki.client_ctx(),
        pins={Purpose.N2NET_API: PinSet(values, expires=FUTURE)}, clock=lambda: NOW,
    )
    with pytest.raises(PinMismatchError):
        _send(egress, tls_server.url(), content=b"sealed")
    tls_server.close()
    assert tls_server.connections == 1  # the handshake happened, then the door hung up
    assert tls_server.wire == b""
    (entry,) = egress.audit.entries()
    assert entry.blocked


def test_a_root_pin_works_async(pki: Pki, tls_server: Recorder) -> None:
    """asyncio hands the door an ssl.SSLObject, not a socket: the chain must still read."""
    egress = Egress(
        _policy(), verify=pki.client_ctx(),
        pins={Purpose.N2NET_API: PinSet({pki.pin("root"), BOGUS[0]}, expires=FUTURE)},
        clock=lambda: NOW,
    )

    async def run() -> int:
        client = egress.async_client(Purpose.N2NET_API)
        try:
            return (await client.request("POST", tls_server.url(), content=b"sealed")).status
        finally:
            await client.aclose()

    assert asyncio.run(run()) == 200
    tls_server.close()
    assert tls_server.wire.endswith(b"\r\n\r\nsealed")


def test_a_pin_failure_puts_zero_request_bytes_on_the_wire_async(
    pki: Pki, tls_server: Recorder
) -> None:
    egress = Egress(
        _policy(), verify=pki.client_ctx(),
        pins={Purpose.N2NET_API: PinSet(BOGUS, expires=FUTURE)}, clock=lambda: NOW,
    )

    async def run() -> None:
        client = egress.async_client(Purpose.N2NET_API)
        try:
            with pytest.raises(PinMismatchError):
                await client.request("POST", tls_server.url(), content=b"sealed")
        finally:
            await client.aclose()

    asyncio.run(run())
    tls_server.close()
    assert tls_server.wire == b""


def test_expired_pins_lapse_with_a_warning_and_never_brick(
    pki: Pki, tls_server: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    pin_set = PinSet(BOGUS, expires=PAST)
    clock = FakeClock(wall=dt.datetime(2026, 5, 31, 23, 0, tzinfo=dt.UTC))
    egress = Egress(_policy(), verify=pki.client_ctx(), pins={Purpose.N2NET_API: pin_set},
                    clock=clock.clock)
    with pytest.raises(PinMismatchError):  # an hour before expiry the pins hold
        _send(egress, tls_server.url(), content=b"before")
    clock.advance(2 * 3600)
    with caplog.at_level(logging.WARNING):
        assert _send(egress, tls_server.url(), content=b"after") == 200
        assert _send(egress, tls_server.url(), content=b"again") == 200
    tls_server.close()
    assert tls_server.received[0] == b""
    assert tls_server.received[1].endswith(b"after")
    warnings = [r for r in caplog.records if "expired" in r.getMessage()]
    assert len(warnings) == 1  # once, not on every request
    assert "n2net_api" in warnings[0].getMessage()


# --- injected transports cannot weaken the door ---------------------------------------


class Forwarding(httpx.BaseTransport):
    """A custom transport that really sends (through a stock one)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_pins_with_a_custom_transport_are_refused_at_construction(pki: Pki) -> None:
    pins = {Purpose.N2NET_API: PinSet(BOGUS, expires=FUTURE)}
    for transport in (
        httpx.MockTransport(lambda r: httpx.Response(200)),
        Forwarding(httpx.HTTPTransport(verify=pki.client_ctx())),
    ):
        with pytest.raises(EgressPolicyError, match="pins cannot be enforced"):
            Egress(_policy(), transport=transport, pins=pins)  # type: ignore[arg-type]
        transport.close()


def test_pins_hold_through_an_injected_stock_transport(pki: Pki, tls_server: Recorder) -> None:
    transport = httpx.HTTPTransport(verify=pki.client_ctx())
    egress = Egress(_policy(), transport=transport, clock=lambda: NOW,
                    pins={Purpose.N2NET_API: PinSet(BOGUS, expires=FUTURE)})
    with pytest.raises(PinMismatchError):
        _send(egress, tls_server.url(), content=b"sealed")
    tls_server.close()
    assert tls_server.wire == b""


def test_a_custom_transport_cannot_carry_a_fronted_host(pki: Pki, tls_server: Recorder) -> None:
    egress = Egress(_policy(), transport=Forwarding(httpx.HTTPTransport(verify=pki.client_ctx())))
    with pytest.raises(EgressPolicyError):
        _send(egress, tls_server.url(), content=b"x", headers={"Host": "evil.example"})
    with pytest.raises(EgressPolicyError):
        _send(egress, tls_server.url(path="/x"), method="PATCH")
    assert _send(egress, tls_server.url(), content=b"x") == 200
    tls_server.close()
    assert tls_server.connections == 1
    assert [e.blocked for e in egress.audit.entries()] == [True, True, False]


def test_a_transport_through_a_proxy_is_refused(plain_server: Recorder) -> None:
    for transport in (
        httpx.HTTPTransport(proxy=plain_server.url("")),
        httpx.AsyncHTTPTransport(proxy=plain_server.url("")),
    ):
        with pytest.raises(EgressPolicyError, match="proxy"):
            if isinstance(transport, httpx.HTTPTransport):
                Egress(_policy(), transport=transport)
            else:
                Egress(_policy(), async_transport=transport)
    transport = httpx.HTTPTransport(uds="/nonexistent/n2net.sock")
    with pytest.raises(EgressPolicyError, match="Unix socket"):
        Egress(_policy(), transport=transport)
    transport.close()
    plain_server.close()
    assert plain_server.connections == 0


def test_an_injected_transport_with_lax_tls_is_refused_outside_test_mode(pki: Pki) -> None:
    lax = pki.client_ctx()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE
    transport = httpx.HTTPTransport(verify=lax)
    with pytest.raises(EgressPolicyError, match="verification"):
        Egress(_policy(), transport=transport)
    Egress(_policy(test_mode=True), transport=transport)
    transport.close()
