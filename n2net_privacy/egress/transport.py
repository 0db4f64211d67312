"""The door's transport wrapper: the gate every request passes, whatever is underneath.

:class:`AuditingTransport` (and its asyncio twin) wraps the transport that
really sends, so the host, port, method, framing-header, inspector and
audit rules hold for the stock httpx transport and for any injected one.
Pins are checked by an httpcore trace hook after the TLS handshake and
before the first request byte; :func:`check_transport` refuses at
construction the injected transports through which a rule could not hold.

Only :mod:`n2net_privacy.egress` uses this module; with it, the two are the
only modules that import httpx (a test enforces it).
"""

from __future__ import annotations

import importlib.util
import itertools
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx

# httpcore asks sniffio which event loop it runs under for every lock, event and
# semaphore it makes, a few per request, with ``import sniffio`` inside a try.
# httpx no longer installs sniffio, and a failed import searches every sys.path
# entry again each time: about a fifth of an asyncio request's CPU. Recording
# the absence once (None in sys.modules) makes that import fail at once, with
# the same ImportError and the same fallback to asyncio.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

from n2net_privacy.egress.headers import (
    USER_AGENT,
    check_framing,
    check_userinfo,
    host_header,
    refuse_reserved,
)
from n2net_privacy.egress.policy import (
    AdmittedRequest,
    AuditEntry,
    AuditLog,
    EgressPolicy,
    OutgoingRequest,
    Purpose,
    RequestInspector,
)
from n2net_privacy.egress.tls import PinCheck, PinSet, check_context, verified_chain_available
from n2net_privacy.errors import EgressPolicyError, PinMismatchError
from n2net_privacy.redact import get_logger

__all__ = [
    "CALLER_HEADERS",
    "STREAMED_BODY",
    "USER_AGENT",
    "AsyncAuditingTransport",
    "AuditingTransport",
    "Gate",
    "InnerGate",
    "check_transport",
    "pin_checks",
]

#: Request extension carrying the header names the caller passed (not httpx's own).
CALLER_HEADERS = "n2net_privacy.caller_headers"
#: Request extension set by the door when the caller passed the body as a stream.
STREAMED_BODY = "n2net_privacy.streamed_body"
_STRIPPED_HEADERS = ("cookie", "referer", "origin")
_TLS_DONE = "connection.start_tls.complete"
_log = get_logger(__name__)


def _ssl_object(stream: Any) -> Any:
    get_extra_info = getattr(stream, "get_extra_info", None)
    return get_extra_info("ssl_object") if get_extra_info is not None else None


def _pin_tracer(pins: PinCheck) -> Callable[[str, dict[str, Any]], None]:
    """An httpcore trace hook that checks the pins right after the TLS handshake.

    It runs before the first byte of the request is written, so on a
    mismatch nothing is sent; the stream is closed and the error propagates.
    """

    def trace(event: str, info: dict[str, Any]) -> None:
        if event != _TLS_DONE:
            return
        stream: Any = info.get("return_value")
        try:
            pins.check(_ssl_object(stream))
        except PinMismatchError:
            stream.close()
            raise

    return trace


def _async_pin_tracer(pins: PinCheck) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """The asyncio twin of :func:`_pin_tracer` (httpcore wants a coroutine there)."""

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event != _TLS_DONE:
            return
        stream: Any = info.get("return_value")
        try:
            pins.check(_ssl_object(stream))
        except PinMismatchError:
            await stream.aclose()
            raise

    return trace


def _wire_size(request: httpx.Request) -> int:
    """Bytes an HTTP/1.1 request puts on the wire: request line, headers, body."""
    line = len(request.method) + len(request.url.raw_path) + len(" HTTP/1.1\r\n") + 1
    headers = sum(len(k) + len(v) + 4 for k, v in request.headers.raw)  # "k: v\r\n"
    return line + headers + 2 + len(request.content)


REQUEST_ID = "n2net_request_id"
"""The httpx request extension that carries the egress's request id."""


class Gate:
    """The decisions shared by the sync and async transports (no I/O)."""

    def __init__(
        self,
        purpose: Purpose,
        policy: EgressPolicy,
        audit: AuditLog,
        inspectors: list[RequestInspector],
        now_s: Callable[[], float],
        *,
        pins: PinCheck | None = None,
        ids: Iterator[int] | None = None,
        via: Purpose | None = None,
    ) -> None:
        self.pins = pins
        self.via = via
        # One counter per Egress: every request of every client gets the next id.
        self._ids = ids if ids is not None else itertools.count(1)
        self.purpose = purpose
        self.policy = policy
        self.audit = audit
        # Shared, not copied: an inspector added later sees existing clients too.
        self.inspectors = inspectors
        self.now_s = now_s  # Unix seconds, for the audit entries

    def admit(self, request: httpx.Request) -> None:
        """Scrub headers, enforce the policy, run inspectors; raise to block."""
        for name in _STRIPPED_HEADERS:
            request.headers.pop(name, None)
        request.headers["user-agent"] = USER_AGENT
        url = request.url
        request.extensions[REQUEST_ID] = request_id = next(self._ids)
        try:
            self._check(request)
            outgoing = OutgoingRequest(
                request.method,
                str(url),
                headers=tuple(request.headers.items()),
                content=request.content,
                purpose=self.purpose,
                scheme=url.scheme,
                host=url.host,
                path=url.path,
                query=url.query.decode("ascii", "replace"),
                request_id=request_id,
                via=self.via,
            )
            for inspector in tuple(self.inspectors):
                inspector.inspect(outgoing)
        except EgressPolicyError:
            self.blocked(request)
            raise

    def _check(self, request: httpx.Request) -> None:
        url, purpose, host = request.url, self.purpose, request.url.host
        self.policy.check(purpose, url.scheme, host, url.port)
        self.policy.check_method(purpose, request.method, host)
        check_userinfo(url.userinfo.decode("ascii", "replace"), purpose=purpose, host=host)
        refuse_reserved(request.extensions.get(CALLER_HEADERS, ()), purpose=purpose, host=host)
        check_framing(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            expected_host=host_header(url.raw_host.decode("ascii"), url.port),
            body_length=len(request.content),
            purpose=purpose,
            host=host,
            chunked=bool(request.extensions.get(STREAMED_BODY, False)),
        )
        if url.scheme != "https" and self.pins is not None and self.pins.active():
            raise EgressPolicyError(
                f"purpose {purpose.value!r} is pinned: plaintext cannot be pinned",
                purpose=purpose.value, host=host,
            )

    def blocked(self, request: httpx.Request) -> None:
        self.audit.record(self._entry(request, blocked=True))
        _log.warning("egress blocked: purpose=%s host=%s", self.purpose.value, request.url.host)

    def done(
        self, request: httpx.Request, status: int | None, error: BaseException | None = None
    ) -> None:
        name = None if error is None else type(error).__name__
        self.audit.record(self._entry(request, status=status, error=name))

    def _entry(
        self,
        request: httpx.Request,
        *,
        status: int | None = None,
        blocked: bool = False,
        error: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            at=self.now_s(),
            purpose=self.purpose,
            method=request.method,
            host=request.url.host,
            path=request.url.path,
            request_bytes=_wire_size(request),
            status=status,
            blocked=blocked,
            request_id=request.extensions.get(REQUEST_ID, 0),
            error=error,
            via=self.via,
        )


_BHTTP_FRAMING = frozenset({"host", "content-length"})


class InnerGate:
    """The door for a request that travels inside an Oblivious HTTP request.

    It builds the request as httpx would send it directly and puts it through
    the same :class:`Gate` (purpose rules, header scrubbing, inspectors,
    audit), so an inner request to Gravatar or the ingest meets exactly the
    rules it would meet on the direct path. Nothing is sent from here.
    """

    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    def admit(self, inner: OutgoingRequest) -> AdmittedRequest:
        try:
            request = httpx.Request(
                inner.method, inner.url, headers=list(inner.headers), content=inner.body
            )
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise EgressPolicyError(
                "the inner request's URL is not usable", purpose=self._gate.purpose.value, host="*"
            ) from exc
        request.extensions[CALLER_HEADERS] = tuple(name for name, _ in inner.headers)
        self._gate.admit(request)
        url_ = request.url
        path = url_.raw_path.decode("ascii")
        return AdmittedRequest(
            request_id=request.extensions[REQUEST_ID],
            method=request.method,
            scheme=url_.scheme,
            authority=url_.netloc.decode("ascii"),
            path=path,
            headers=tuple(
                (k, v) for k, v in request.headers.items() if k.lower() not in _BHTTP_FRAMING
            ),
            content=request.content,
            handle=request,
        )

    def done(
        self, request: AdmittedRequest, status: int | None, error: BaseException | None = None
    ) -> None:
        if isinstance(request.handle, httpx.Request):
            self._gate.done(request.handle, status, error)


class AuditingTransport(httpx.BaseTransport):
    def __init__(self, gate: Gate, inner: httpx.BaseTransport) -> None:
        self._gate = gate
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self._gate.admit(request)
        if self._gate.pins is not None:
            request.extensions["trace"] = _pin_tracer(self._gate.pins)
        try:
            response = self._inner.handle_request(request)
        except PinMismatchError:
            self._gate.blocked(request)
            raise
        except BaseException as exc:  # a cancelled task's request may have left too
            self._gate.done(request, None, exc)
            raise
        self._gate.done(request, response.status_code)
        return response

    def close(self) -> None:
        self._inner.close()


class AsyncAuditingTransport(httpx.AsyncBaseTransport):
    def __init__(self, gate: Gate, inner: httpx.AsyncBaseTransport) -> None:
        self._gate = gate
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self._gate.admit(request)
        if self._gate.pins is not None:
            request.extensions["trace"] = _async_pin_tracer(self._gate.pins)
        try:
            response = await self._inner.handle_async_request(request)
        except PinMismatchError:
            self._gate.blocked(request)
            raise
        except BaseException as exc:  # a cancelled task's request may have left too
            self._gate.done(request, None, exc)
            raise
        self._gate.done(request, response.status_code)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _refuse(message: str) -> EgressPolicyError:
    return EgressPolicyError(message, purpose="*", host="*")


_HTTPX_TRANSPORTS = (httpx.HTTPTransport, httpx.AsyncHTTPTransport)


def check_transport(
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
    *,
    pinned: bool,
    verify: ssl.SSLContext | None,
    test_mode: bool,
) -> None:
    """Refuse an injected transport that would weaken the door.

    The gate's host, port, method, header, inspector and audit rules wrap
    any transport. TLS and pins reach only a stock httpx transport (whose
    httpcore pool runs the pin hook); anything else with pins, or with a
    ``verify`` it would ignore, is refused. So is a transport with a proxy.
    """
    if transport is None:
        return
    # httpx itself loads httpcore (and h11) only when a transport is built.
    import httpcore

    pools = (httpcore.ConnectionPool, httpcore.AsyncConnectionPool)
    pool = getattr(transport, "_pool", None)
    if isinstance(transport, _HTTPX_TRANSPORTS) and (
        type(pool) not in pools or getattr(pool, "_uds", None) is not None
    ):
        # A proxy, or a Unix socket that is not where the URL says: not the door's route.
        raise _refuse("an injected transport may not go through a proxy or a Unix socket")
    if verify is not None:
        raise _refuse("verify= cannot apply to an injected transport: configure its TLS")
    if type(transport) in _HTTPX_TRANSPORTS:
        context: ssl.SSLContext = pool._ssl_context  # type: ignore[union-attr]
        check_context(context, test_mode=test_mode)
        if pinned and context.verify_mode != ssl.CERT_REQUIRED:
            raise _refuse("pins are checked against the verified chain: the transport's TLS "
                          "must be CERT_REQUIRED")
    elif pinned:
        raise _refuse(
            f"pins cannot be enforced through a custom transport ({type(transport).__name__}); "
            "inject httpx.HTTPTransport or drop the pins"
        )


def pin_checks(
    pins: Mapping[Purpose, PinSet] | None, verify: ssl.SSLContext | None, now_s: Callable[[], float]
) -> dict[Purpose, PinCheck]:
    checks: dict[Purpose, PinCheck] = {}
    for key, pin_set in (pins or {}).items():
        if not isinstance(pin_set, PinSet):
            raise _refuse("pins must be PinSet values: an expiry and at least two pins")
        try:
            purpose = Purpose(key)
        except ValueError as exc:
            raise _refuse(f"pins for an unknown purpose {key!r}") from exc
        checks[purpose] = PinCheck(pin_set, purpose, now_s)
    if checks and not verified_chain_available():
        raise _refuse("this Python cannot read the verified chain, so pins cannot be checked")
    if checks and verify is not None and verify.verify_mode != ssl.CERT_REQUIRED:
        raise _refuse("pins are checked against the verified chain: verify must be CERT_REQUIRED")
    return checks


