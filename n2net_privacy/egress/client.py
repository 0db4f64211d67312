"""The one egress chokepoint: every HTTP request the SDK makes leaves through here.

With :mod:`n2net_privacy.egress.transport` (the gate it wraps around every
transport) this is the only module that imports httpx; a test enforces it.
It builds the clients for each :class:`Purpose`, so that every request,
before a byte leaves, whatever transport is underneath:

* goes only to a ``(host, port)`` pair on its purpose's allowlist, with a
  method allowed for that purpose;
* uses ``https://`` (plaintext only to loopback, and only when the policy says
  so for tests);
* carries the framing the door derives (``Host``, ``Content-Length``) and no
  caller-set framing or hop-by-hop header (:mod:`n2net_privacy.egress.headers`);
* carries no cookie, no Referer, and the SDK's fixed generic User-Agent;
* is shown to each registered inspector (the QA auditor), which may block it;
* is recorded in the :class:`AuditLog`: time, purpose, method, host, path, bytes;
* leaves no trace in other libraries' log records (httpx logs each URL at
  INFO): :func:`~n2net_privacy.redact.sdk_request` withholds them.

TLS contexts and pins follow :mod:`n2net_privacy.egress.tls`; a pin is
checked after the handshake and before the first request byte.

The rest of the SDK sees :class:`EgressClient` / :class:`AsyncEgressClient`,
which return an :class:`EgressResponse` and raise :class:`NetworkError` for
network trouble, so no httpx type escapes this module.
"""

from __future__ import annotations

import contextlib
import functools
import http.cookiejar
import itertools
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import httpx

from n2net_privacy.checks import ensure_open, require_type
from n2net_privacy.egress.headers import USER_AGENT
from n2net_privacy.egress.policy import (
    AsyncRequestClient,
    AuditLog,
    EgressPolicy,
    EgressResponse,
    OutgoingRequest,
    Purpose,
    RequestClient,
    RequestInspector,
)
from n2net_privacy.egress.tls import PinSet, check_context, harden
from n2net_privacy.egress.transport import (
    CALLER_HEADERS,
    STREAMED_BODY,
    AsyncAuditingTransport,
    AuditingTransport,
    Gate,
    InnerGate,
    check_transport,
    pin_checks,
)
from n2net_privacy.errors import InvalidArgumentError, NetworkError, NetworkTimeout
from n2net_privacy.redact import sdk_request
from n2net_privacy.runtime import Clock, epoch_seconds, require_clock, utc_now

__all__ = [
    "AsyncEgressClient",
    "Egress",
    "EgressClient",
    "on_new_egress",
]


class _RefusingJar(http.cookiejar.CookieJar):
    """A jar that never takes a cookie in and never puts one on a request.

    The refusing policy alone would do, but only after parsing every reply's
    headers and walking the jar for every request (~0.1 ms of CPU each).
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


def _no_cookies() -> httpx.Cookies:
    return httpx.Cookies(_RefusingJar(policy=http.cookiejar.DefaultCookiePolicy(
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
    except httpx.InvalidURL as exc:  # not an HTTPError; the URL itself stays out of the message
        raise InvalidArgumentError("url: not a usable URL (the request was not sent)") from exc
    except httpx.TimeoutException as exc:
        raise NetworkTimeout(f"timed out: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise NetworkError(f"network error: {type(exc).__name__}") from exc


def _stream_args(request: OutgoingRequest) -> dict[str, Any]:
    """httpx's arguments for one request: the caller's header names travel to the gate."""
    extensions: dict[str, Any] = {CALLER_HEADERS: tuple(name for name, _ in request.headers)}
    if request.chunked:
        extensions[STREAMED_BODY] = True
    args: dict[str, Any] = {
        "method": request.method,
        "url": request.url,
        "headers": list(request.headers),
        "content": request.content,
        "extensions": extensions,
    }
    if request.timeout is not None:
        args["timeout"] = request.timeout
    return args


async def _achunks(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class EgressClient(RequestClient):
    """A synchronous client bound to one purpose. Thread-safe.

    :meth:`request` (or :meth:`send`) sends one request and reads the reply,
    at most ``max_response_bytes`` of it. ``content`` given as chunks rather
    than bytes goes out with ``Transfer-Encoding: chunked`` and no
    ``Content-Length``, framed by the door (the conformance kit probes a
    server's ``411`` this way). A reply larger than the cap comes back with
    status 0 and no content, so callers treat it like any other unusable
    reply. Raises :class:`NetworkTimeout` / :class:`NetworkError` for network
    trouble and :class:`EgressPolicyError` when the chokepoint refuses;
    :class:`ClosedError` after :meth:`close`.
    """

    def __init__(self, client: httpx.Client) -> None:
        self._client = client
        self._closed = False

    def send(self, request: OutgoingRequest) -> EgressResponse:
        ensure_open(self._closed, "EgressClient")
        with sdk_request(), _network_errors(), self._client.stream(
            **_stream_args(request)
        ) as response:
            reply = _Reply(response, request.max_response_bytes)
            if not reply.too_large:
                for chunk in response.iter_bytes():
                    if not reply.add(chunk):
                        break
            return reply.result()

    def close(self) -> None:
        self._closed = True
        with sdk_request():  # httpcore logs the closing of the SDK's connections
            self._client.close()

    def __enter__(self) -> EgressClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncEgressClient(AsyncRequestClient):
    """An asyncio client bound to one purpose: the twin of :class:`EgressClient`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._closed = False

    async def send(self, request: OutgoingRequest) -> EgressResponse:
        ensure_open(self._closed, "AsyncEgressClient")
        args = _stream_args(request)
        if request.chunked:  # httpx's async client streams only async chunks
            args["content"] = _achunks(args["content"])
        with sdk_request(), _network_errors():
            async with self._client.stream(**args) as response:
                reply = _Reply(response, request.max_response_bytes)
                if not reply.too_large:
                    async for chunk in response.aiter_bytes():
                        if not reply.add(chunk):
                            break
                return reply.result()

    async def aclose(self) -> None:
        self._closed = True
        with sdk_request():
            await self._client.aclose()

    async def __aenter__(self) -> AsyncEgressClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class Egress:
    """Builds every HTTP client the SDK uses, all sharing one policy and audit log.

    ``verify`` is an :class:`ssl.SSLContext` (for example one trusting a
    ``trustme`` test CA) or None for httpx's default trust store (certifi),
    always with TLS 1.2 as the floor. Outside ``policy.test_mode`` a context
    must verify certificates and host names.
    ``transport``/``async_transport`` replace the network layer (tests); the
    door's rules still apply to every request, and combinations it could not
    enforce (pins through a custom transport, a proxy) are refused here.
    ``pins`` maps a purpose to a :class:`PinSet`; on a mismatch
    :class:`PinMismatchError` is raised after the handshake and before any
    request byte is written. Construction errors are :class:`EgressPolicyError`.
    ``clock`` is the wall time (:data:`~n2net_privacy.runtime.Clock`, aware
    UTC): it stamps the audit entries (as Unix seconds) and decides when pins lapse.
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
        clock: Clock = utc_now,
        pins: Mapping[Purpose, PinSet] | None = None,
    ) -> None:
        if policy is not None:
            require_type("policy", policy, EgressPolicy,
                         hint="such as EgressPolicy(allowed_hosts={...}, test_mode=True)")
        if verify is not None:
            require_type("verify", verify, ssl.SSLContext)
        self.policy = policy if policy is not None else EgressPolicy()
        test_mode = self.policy.test_mode
        if verify is not None:
            check_context(verify, test_mode=test_mode)
        require_clock(clock)
        self._now_s = functools.partial(epoch_seconds, clock)
        self._pins = pin_checks(pins, verify, self._now_s)
        for injected in (transport, async_transport):
            check_transport(injected, pinned=bool(self._pins), verify=verify,
                             test_mode=test_mode)
        self.audit = audit if audit is not None else AuditLog()
        self._inspectors = list(inspectors)
        self._verify = verify
        self._transport = transport
        self._async_transport = async_transport
        self._ids = itertools.count(1)  # one sequence for all clients: the request ids
        for hook in tuple(_NEW_EGRESS_HOOKS):
            hook(self)

    def add_inspector(self, inspector: RequestInspector) -> None:
        """Register an inspector; it sees every later request of every client."""
        self._inspectors.append(inspector)

    def _gate(self, purpose: Purpose) -> Gate:
        return Gate(
            purpose, self.policy, self.audit, self._inspectors, self._now_s,
            pins=self._pins.get(purpose), ids=self._ids,
        )

    def _context(self) -> ssl.SSLContext:
        if self._verify is None:  # built once, shared by every client of this egress
            self._verify = harden(httpx.create_ssl_context(trust_env=False))
        return self._verify

    def inner_door(self, purpose: Purpose, *, via: Purpose = Purpose.OHTTP_RELAY) -> InnerGate:
        """The door for requests of ``purpose`` sent inside ``via`` (Oblivious HTTP).

        The inner request meets the purpose's host, port, scheme and method
        rules and every inspector, as a direct one would; its audit entry
        names the purpose, the inner host and path, and ``via``. The outer
        POST to the relay passes the door on its own, under ``via``.
        """
        return InnerGate(
            Gate(purpose, self.policy, self.audit, self._inspectors, self._now_s,
                 ids=self._ids, via=via)
        )

    def client(self, purpose: Purpose, *, timeout: float = 10.0) -> EgressClient:
        """A blocking client for ``purpose``; every request passes the chokepoint."""
        require_type("purpose", purpose, Purpose)
        inner = self._transport or httpx.HTTPTransport(verify=self._context(), trust_env=False)
        transport = AuditingTransport(self._gate(purpose), inner)
        return EgressClient(httpx.Client(transport=transport, **_client_options(timeout)))

    def async_client(self, purpose: Purpose, *, timeout: float = 10.0) -> AsyncEgressClient:
        """The asyncio twin of :meth:`client`."""
        require_type("purpose", purpose, Purpose)
        inner = self._async_transport or httpx.AsyncHTTPTransport(
            verify=self._context(), trust_env=False
        )
        transport = AsyncAuditingTransport(self._gate(purpose), inner)
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
