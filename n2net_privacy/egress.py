"""The one egress chokepoint: every HTTP request the SDK makes leaves through here.

This is the only module that imports httpx (a test enforces it). It builds
the clients for each :class:`Purpose`, and wraps their transport so that every
request, before a byte leaves:

* goes only to a host on its purpose's allowlist;
* uses ``https://`` (plaintext only to loopback, and only when the policy says
  so for tests);
* carries no cookie, no Referer, and the SDK's fixed generic User-Agent;
* is shown to each registered inspector (the QA auditor), which may block it;
* is recorded in the :class:`AuditLog`: time, purpose, method, host, path, bytes.

The rest of the SDK sees :class:`EgressClient` / :class:`AsyncEgressClient`,
which return an :class:`EgressResponse` and raise :class:`NetworkError` for
network trouble, so no httpx type escapes this module.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.cookiejar
import itertools
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx

from n2net_privacy._version import __version__
from n2net_privacy.egress_policy import (
    AuditEntry,
    AuditLog,
    EgressPolicy,
    EgressResponse,
    OutgoingRequest,
    Purpose,
    RequestInspector,
)
from n2net_privacy.errors import EgressPolicyError, NetworkError, NetworkTimeout, PinMismatchError
from n2net_privacy.redact import get_logger

__all__ = [
    "USER_AGENT",
    "AsyncEgressClient",
    "AuditEntry",
    "AuditLog",
    "Egress",
    "EgressClient",
    "EgressPolicy",
    "EgressResponse",
    "OutgoingRequest",
    "Purpose",
    "RequestInspector",
    "on_new_egress",
    "spki_sha256",
]

USER_AGENT = f"n2net-privacy/{__version__}"
_STRIPPED_HEADERS = ("cookie", "referer", "origin")
_log = get_logger(__name__)


def spki_sha256(der_certificate: bytes) -> str:
    """The base64 SHA-256 of a certificate's SubjectPublicKeyInfo: the pin format.

    The same value ``openssl x509 -pubkey | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64`` prints.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    spki = x509.load_der_x509_certificate(der_certificate).public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def _pinned(stream: object, pins: frozenset[str]) -> bool:
    """True when the TLS stream's peer certificate carries one of the pinned keys."""
    get_extra_info = getattr(stream, "get_extra_info", None)
    ssl_object = get_extra_info("ssl_object") if get_extra_info is not None else None
    der = ssl_object.getpeercert(True) if ssl_object is not None else None
    return der is not None and spki_sha256(der) in pins


_TLS_DONE = "connection.start_tls.complete"


def _mismatch(purpose: Purpose) -> PinMismatchError:
    return PinMismatchError(f"server key for purpose {purpose.value!r} is not pinned")


def _pin_tracer(pins: frozenset[str], purpose: Purpose) -> Callable[[str, dict[str, Any]], None]:
    """An httpcore trace hook that checks the pin right after the TLS handshake.

    It runs before the first byte of the request is written, so on a
    mismatch nothing is sent; the stream is closed and the error propagates.
    """

    def trace(event: str, info: dict[str, Any]) -> None:
        stream: Any = info.get("return_value")
        if event == _TLS_DONE and not _pinned(stream, pins):
            stream.close()
            raise _mismatch(purpose)

    return trace


def _async_pin_tracer(
    pins: frozenset[str], purpose: Purpose
) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """The asyncio twin of :func:`_pin_tracer` (httpcore wants a coroutine there)."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        stream: Any = info.get("return_value")
        if event == _TLS_DONE and not _pinned(stream, pins):
            await stream.aclose()
            raise _mismatch(purpose)

    return trace


def _wire_size(request: httpx.Request) -> int:
    """Bytes an HTTP/1.1 request puts on the wire: request line, headers, body."""
    line = len(request.method) + len(request.url.raw_path) + len(" HTTP/1.1\r\n") + 1
    headers = sum(len(k) + len(v) + 4 for k, v in request.headers.raw)  # "k: v\r\n"
    return line + headers + 2 + len(request.content)


class _Gate:
    """The decisions shared by the sync and async transports (no I/O)."""

    def __init__(
        self,
        purpose: Purpose,
        policy: EgressPolicy,
        audit: AuditLog,
        inspectors: list[RequestInspector],
        clock: Callable[[], float],
        *,
        pins: frozenset[str] | None = None,
        ids: Iterator[int] | None = None,
    ) -> None:
        self.pins = pins
        self._ids = ids if ids is not None else itertools.count(1)
        self.purpose = purpose
        self.policy = policy
        self.audit = audit
        # Shared, not copied: an inspector added later sees existing clients too.
        self.inspectors = inspectors
        self.clock = clock

    def admit(self, request: httpx.Request) -> None:
        """Scrub headers, enforce the policy, run inspectors; raise to block."""
        for name in _STRIPPED_HEADERS:
            request.headers.pop(name, None)
        request.headers["user-agent"] = USER_AGENT
        url = request.url
        request.extensions["n2net_request_id"] = request_id = next(self._ids)
        outgoing = OutgoingRequest(
            purpose=self.purpose,
            method=request.method,
            url=str(url),
            scheme=url.scheme,
            host=url.host,
            path=url.path,
            query=url.query.decode("ascii", "replace"),
            headers=tuple(request.headers.items()),
            body=request.content,
            request_id=request_id,
        )
        try:
            self.policy.check(self.purpose, url.scheme, url.host)
            for inspector in tuple(self.inspectors):
                inspector.inspect(outgoing)
        except EgressPolicyError:
            self.audit.record(self._entry(request, blocked=True))
            _log.warning("egress blocked: purpose=%s host=%s", self.purpose.value, url.host)
            raise

    def done(
        self, request: httpx.Request, status: int | None, error: BaseException | None = None
    ) -> None:
        self.audit.record(self._entry(
            request, status=status, error=None if error is None else type(error).__name__
        ))

    def _entry(
        self, request: httpx.Request, *, status: int | None = None, blocked: bool = False,
        error: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            at=self.clock(),
            purpose=self.purpose,
            method=request.method,
            host=request.url.host,
            path=request.url.path,
            request_bytes=_wire_size(request),
            status=status,
            blocked=blocked,
            request_id=request.extensions.get("n2net_request_id", 0),
            error=error,
        )


class _AuditingTransport(httpx.BaseTransport):
    def __init__(self, gate: _Gate, inner: httpx.BaseTransport) -> None:
        self._gate = gate
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self._gate.admit(request)
        if self._gate.pins is not None:
            request.extensions["trace"] = _pin_tracer(self._gate.pins, self._gate.purpose)
        try:
            response = self._inner.handle_request(request)
        except Exception as exc:
            self._gate.done(request, None, exc)
            raise
        self._gate.done(request, response.status_code)
        return response

    def close(self) -> None:
        self._inner.close()


class _AsyncAuditingTransport(httpx.AsyncBaseTransport):
    def __init__(self, gate: _Gate, inner: httpx.AsyncBaseTransport) -> None:
        self._gate = gate
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self._gate.admit(request)
        if self._gate.pins is not None:
            request.extensions["trace"] = _async_pin_tracer(self._gate.pins, self._gate.purpose)
        try:
            response = await self._inner.handle_async_request(request)
        except Exception as exc:
            self._gate.done(request, None, exc)
            raise
        self._gate.done(request, response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _no_cookies() -> httpx.Cookies:
    return httpx.Cookies(http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(
        allowed_domains=[]
    )))


_UNUSABLE = EgressResponse(status=0, headers={}, content=b"")


class _Reply:
    """Collects one reply's body under the byte cap (shared by both clients)."""

    def __init__(self, response: httpx.Response, max_bytes: int | None) -> None:
        declared = response.headers.get("content-length")
        self.too_large = (
            max_bytes is not None
            and declared is not None
            and declared.isdigit()
            and int(declared) > max_bytes
        )
        self._response = response
        self._max = max_bytes
        self._body = bytearray()

    def add(self, chunk: bytes) -> bool:
        """Append a chunk; False once the cap is passed (stop reading)."""
        self._body += chunk
        self.too_large = self._max is not None and len(self._body) > self._max
        return not self.too_large

    def result(self) -> EgressResponse:
        if self.too_large:
            return _UNUSABLE
        return EgressResponse(
            status=self._response.status_code,
            headers={k.lower(): v for k, v in self._response.headers.items()},
            content=bytes(self._body),
        )


@contextlib.contextmanager
def _network_errors() -> Iterator[None]:
    """Map httpx's exceptions to the SDK's at the boundary (works around awaits too)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise NetworkTimeout(f"timed out: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise NetworkError(f"network error: {type(exc).__name__}") from exc


def _timeout(timeout: float | None) -> dict[str, Any]:
    return {} if timeout is None else {"timeout": timeout}


class EgressClient:
    """A synchronous client bound to one purpose. Thread-safe."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        """Send one request and read the reply (at most ``max_response_bytes``).

        A reply larger than the cap comes back with status 0 and no content,
        so callers treat it like any other unusable reply.
        Raises :class:`NetworkTimeout` / :class:`NetworkError` for network
        trouble and :class:`EgressPolicyError` when the chokepoint refuses.
        """
        with _network_errors(), self._client.stream(
            method, url, headers=headers, content=content, **_timeout(timeout)
        ) as response:
            reply = _Reply(response, max_response_bytes)
            if not reply.too_large:
                for chunk in response.iter_bytes():
                    if not reply.add(chunk):
                        break
            return reply.result()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> EgressClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncEgressClient:
    """An asyncio client bound to one purpose."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        """The async twin of :meth:`EgressClient.request`."""
        with _network_errors():
            async with self._client.stream(
                method, url, headers=headers, content=content, **_timeout(timeout)
            ) as response:
                reply = _Reply(response, max_response_bytes)
                if not reply.too_large:
                    async for chunk in response.aiter_bytes():
                        if not reply.add(chunk):
                            break
                return reply.result()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AsyncEgressClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Egress:
    """Builds every HTTP client the SDK uses, all sharing one policy and audit log.

    ``verify`` is an :class:`ssl.SSLContext` (for example one trusting a
    ``trustme`` test CA) or None for the system trust store. Certificate
    verification cannot be turned off outside ``policy.test_mode``.
    ``transport``/``async_transport`` replace the network layer (tests).
    ``pins`` maps a purpose to the SPKI SHA-256 pins (see :func:`spki_sha256`)
    its server must present; on a mismatch :class:`PinMismatchError` is
    raised after the handshake and before any request byte is written.
    """

    def __init__(
        self,
        policy: EgressPolicy | None = None,
        *,
        audit: AuditLog | None = None,
        inspectors: Iterable[RequestInspector] = (),
        verify: ssl.SSLContext | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        pins: Mapping[Purpose, frozenset[str]] | None = None,
    ) -> None:
        self.policy = policy if policy is not None else EgressPolicy()
        self._pins = dict(pins or {})
        if verify is not None and verify.verify_mode == ssl.CERT_NONE and not self.policy.test_mode:
            raise EgressPolicyError(
                "certificate verification cannot be disabled outside test mode",
                purpose="*",
                host="*",
            )
        self.audit = audit if audit is not None else AuditLog()
        self._inspectors = list(inspectors)
        self._verify: ssl.SSLContext | bool = verify if verify is not None else True
        self._transport = transport
        self._async_transport = async_transport
        self._clock = clock
        self._ids = itertools.count(1)  # one sequence for all clients: the request ids
        for hook in tuple(_NEW_EGRESS_HOOKS):
            hook(self)

    def add_inspector(self, inspector: RequestInspector) -> None:
        """Register an inspector; it sees every later request of every client."""
        self._inspectors.append(inspector)

    def _gate(self, purpose: Purpose) -> _Gate:
        return _Gate(
            purpose, self.policy, self.audit, self._inspectors, self._clock,
            pins=self._pins.get(purpose), ids=self._ids,
        )

    def client(self, purpose: Purpose, *, timeout: float = 10.0) -> EgressClient:
        """A blocking client for ``purpose``; every request passes the chokepoint."""
        inner = self._transport or httpx.HTTPTransport(verify=self._verify)
        transport = _AuditingTransport(self._gate(purpose), inner)
        return EgressClient(httpx.Client(transport=transport, **_client_options(timeout)))

    def async_client(self, purpose: Purpose, *, timeout: float = 10.0) -> AsyncEgressClient:
        """The asyncio twin of :meth:`client`."""
        inner = self._async_transport or httpx.AsyncHTTPTransport(verify=self._verify)
        transport = _AsyncAuditingTransport(self._gate(purpose), inner)
        return AsyncEgressClient(httpx.AsyncClient(transport=transport, **_client_options(timeout)))


_NEW_EGRESS_HOOKS: list[Callable[[Egress], None]] = []


def on_new_egress(hook: Callable[[Egress], None]) -> Callable[[], None]:
    """Call ``hook(egress)`` for every :class:`Egress` built from now on; return an undo.

    QA tooling only: the pytest plugin attaches its auditor this way, so an
    SDK object that builds its own default egress inside an audited test is
    audited too.
    """
    _NEW_EGRESS_HOOKS.append(hook)

    def undo() -> None:
        with contextlib.suppress(ValueError):
            _NEW_EGRESS_HOOKS.remove(hook)

    return undo


def _client_options(timeout: float) -> dict[str, Any]:
    """What every client shares: no cookie jar, fixed UA, no redirects, no env proxies."""
    return {
        "timeout": timeout,
        "cookies": _no_cookies(),
        "headers": {"user-agent": USER_AGENT},
        "follow_redirects": False,
        "trust_env": False,
    }
