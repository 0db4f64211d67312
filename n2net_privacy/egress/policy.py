"""The pure side of the egress chokepoint: purposes, policy, audit records.

Nothing here does I/O or imports httpx; :mod:`n2net_privacy.egress` applies
these decisions to real requests. QA tools and tests can use the types
without touching the network.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeAlias
from urllib.parse import SplitResult, urlsplit

from n2net_privacy.checks import quoted, require_type
from n2net_privacy.errors import (
    EgressPolicyError,
    InvalidArgumentError,
    InvalidArgumentTypeError,
    InvalidUrlError,
)

__all__ = [
    "DEFAULT_PORTS",
    "AdmittedRequest",
    "AsyncRequestClient",
    "AuditEntry",
    "AuditLog",
    "Body",
    "EgressPolicy",
    "EgressResponse",
    "InnerDoor",
    "OutgoingRequest",
    "Purpose",
    "RequestClient",
    "RequestInspector",
    "is_loopback",
    "parse_endpoint",
]


class Purpose(StrEnum):
    """Why a request leaves the device. Each purpose has its own allowlists."""

    N2NET_API = "n2net_api"
    GRAVATAR = "gravatar"
    #: An Oblivious HTTP relay (RFC 9458): it sees only ciphertext, and no host is
    #: allowed until the app names its relay in the policy.
    OHTTP_RELAY = "ohttp_relay"
    #: The app's own traffic in a capture from a real device (``audit-har``,
    #: the mitmproxy addon). The SDK never sends for it: no host is allowed.
    APP = "app"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``[::1]``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: The port a bare host name admits, per scheme.
DEFAULT_PORTS: Mapping[str, int] = {"https": 443, "http": 80}


def parse_endpoint(entry: str) -> tuple[str, int | None]:
    """Split an allowlist entry into ``(host, port)``; port None for a bare host.

    >>> parse_endpoint("api.n2net.com:8443")
    ('api.n2net.com', 8443)
    >>> parse_endpoint("[::1]:9000"), parse_endpoint("::1")
    (('::1', 9000), ('::1', None))
    """
    text = entry.strip().lower()
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    if not host or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        raise EgressPolicyError(
            f"allowlist entry {entry!r} is not 'host' or 'host:port'", purpose="*", host="*"
        )
    return host, int(port) if port else None


def _admits(endpoints: frozenset[tuple[str, int | None]], host: str, port: int) -> bool:
    for name, explicit in endpoints:
        if name != host:
            continue
        if explicit is not None:
            if explicit == port:
                return True
        elif port == DEFAULT_PORTS["https"] or is_loopback(name):
            # A bare loopback name admits any port: loopback never leaves the
            # device, and local test servers bind ephemeral ports.
            return True
    return False


@dataclass(frozen=True)
class EgressPolicy:
    """Which ``(host, port)`` pairs and methods each purpose may use.

    ``allowed_hosts`` entries are ``"host"`` (port 443 only; a loopback name
    admits any port) or ``"host:port"`` (exactly that port).
    ``allowed_methods`` lists the HTTP methods of each purpose.
    ``test_mode`` is the only switch that admits ``http://`` (to loopback
    hosts only) and TLS contexts that do not verify certificates.
    """

    allowed_hosts: Mapping[Purpose, frozenset[str]] = field(
        default_factory=lambda: {
            Purpose.N2NET_API: frozenset({"api.n2net.com"}),
            Purpose.GRAVATAR: frozenset({"gravatar.com", "www.gravatar.com"}),
        }
    )
    test_mode: bool = False
    allowed_methods: Mapping[Purpose, frozenset[str]] = field(
        default_factory=lambda: {
            # POST: sealed event batches. GET: reads of the API (and QA probes).
            Purpose.N2NET_API: frozenset({"GET", "POST"}),
            Purpose.GRAVATAR: frozenset({"GET"}),
            # POST: encapsulated requests. GET: the gateway's application/ohttp-keys.
            Purpose.OHTTP_RELAY: frozenset({"GET", "POST"}),
        }
    )

    _endpoints: Mapping[Purpose, frozenset[tuple[str, int | None]]] = field(
        init=False, repr=False, compare=False
    )
    _methods: Mapping[Purpose, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Parsed once: a typo fails here, not on the first request.
        require_type("test_mode", self.test_mode, bool)
        _check_per_purpose("allowed_hosts", self.allowed_hosts,
                           "{Purpose.GRAVATAR: {'gravatar.com'}}")
        _check_per_purpose("allowed_methods", self.allowed_methods, "{Purpose.GRAVATAR: {'GET'}}")
        endpoints = {
            purpose: frozenset(parse_endpoint(entry) for entry in entries)
            for purpose, entries in self.allowed_hosts.items()
        }
        methods = {
            purpose: frozenset(m.upper() for m in names)
            for purpose, names in self.allowed_methods.items()
        }
        object.__setattr__(self, "_endpoints", endpoints)
        object.__setattr__(self, "_methods", methods)

    def check(self, purpose: Purpose, scheme: str, host: str, port: int | None = None) -> None:
        """Raise :class:`EgressPolicyError` unless the policy admits this destination.

        ``port`` None means the scheme's default port (443 for https). The
        scheme is judged first, so ``http://`` and ``ftp://`` are told that
        https is required rather than that port 80 or 0 is not allowed.
        """
        host = host.lower().strip("[]")
        self._check_scheme(purpose, scheme, host)
        endpoints = self._endpoints.get(purpose, frozenset())
        if not any(name == host for name, _ in endpoints):
            raise EgressPolicyError(
                f"host {host!r} is not allowed for purpose {purpose.value!r}"
                + self._loopback_hint(purpose, host),
                purpose=purpose.value,
                host=host,
            )
        effective = port if port is not None else DEFAULT_PORTS[scheme]
        if not _admits(endpoints, host, effective):
            raise EgressPolicyError(
                f"port {effective} of {host!r} is not allowed for purpose {purpose.value!r}"
                f" (allow it with the entry '{host}:{effective}' in allowed_hosts)",
                purpose=purpose.value,
                host=host,
            )

    def check_url(self, purpose: Purpose, url: object, *, name: str) -> SplitResult:
        """Check a URL the app configured, when the object using it is built.

        The same rules as :meth:`check`, port included, plus the URL's shape:
        a scheme and a host, no user info, query or fragment. Raises
        :class:`~n2net_privacy.errors.InvalidUrlError` naming the parameter
        ``name``, so a misconfigured app fails at start-up, not at the first
        request. Returns the split URL.
        """
        require_type(name, url, str, hint="pass the URL as text, such as 'https://api.n2net.com'")
        assert isinstance(url, str)
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.scheme or not parts.hostname or port == -1:
            raise InvalidUrlError(
                f"{name} must be a URL such as 'https://host[:port][/path]'",
                purpose=purpose.value, host="",
            )
        host = parts.hostname
        if parts.username or parts.password or parts.query or parts.fragment:
            raise InvalidUrlError(
                f"{name} must be scheme://host[:port][/path] only: "
                "no user info, query or fragment",
                purpose=purpose.value, host=host,
            )
        try:
            self.check(purpose, parts.scheme.lower(), host, port)
        except EgressPolicyError as exc:
            raise InvalidUrlError(f"{name}: {exc}", purpose=exc.purpose, host=exc.host) from None
        return parts

    def _check_scheme(self, purpose: Purpose, scheme: str, host: str) -> None:
        if scheme == "https":
            return
        if scheme == "http" and is_loopback(host):
            if self.test_mode:
                return
            message = (
                f"http:// to the loopback host {host!r} is for tests only: use https://, "
                f"or build the Egress with {_test_policy(purpose, host)}"
            )
        else:
            shown = f"{scheme}://" if scheme.isascii() and scheme.isalnum() else "this scheme"
            message = (
                f"{shown} to {host!r} refused: the SDK sends only over https:// "
                f"(use https://{host})"
            )
        raise EgressPolicyError(message, purpose=purpose.value, host=host)

    def _loopback_hint(self, purpose: Purpose, host: str) -> str:
        if not is_loopback(host):
            return ""
        if self.test_mode:
            return f"; a local test server needs it in allowed_hosts, e.g. {_entry(purpose, host)}"
        return f"; a local test server needs {_test_policy(purpose, host)}"

    def check_method(self, purpose: Purpose, method: str, host: str) -> None:
        """Raise :class:`EgressPolicyError` unless ``method`` is allowed for ``purpose``."""
        allowed = self._methods.get(purpose, frozenset())
        if method.upper() not in allowed:
            # Name the method only when it is a standard one: a made-up method is
            # caller data, and a leaky app may have put a number in it.
            upper = method.upper()
            shown = f"method {upper!r}" if upper in _STANDARD_METHODS else "a non-standard method"
            raise EgressPolicyError(
                f"{shown} is not allowed for purpose {purpose.value!r} "
                f"(allowed: {', '.join(sorted(allowed)) or 'none'})",
                purpose=purpose.value,
                host=host,
            )


def _check_per_purpose(name: str, value: object, example: str) -> None:
    """``value`` maps known purposes to collections of strings (never one string)."""
    require_type(name, value, Mapping, hint=f"such as {example}")
    assert isinstance(value, Mapping)
    for key, entries in value.items():
        if key not in _PURPOSE_VALUES:
            known = ", ".join(f"Purpose.{p.name}" for p in Purpose)
            raise InvalidArgumentError(f"{name}: {quoted(key)} is not a purpose; use {known}")
        if (
            isinstance(entries, str)
            or not isinstance(entries, Collection)
            or not all(isinstance(entry, str) for entry in entries)
        ):
            raise InvalidArgumentTypeError(
                f"{name}[Purpose.{Purpose(key).name}] must be a collection of str, "
                f"such as {example}"
            )


_PURPOSE_VALUES = frozenset(p.value for p in Purpose)


def _entry(purpose: Purpose, host: str) -> str:
    return f"{{Purpose.{purpose.name}: frozenset({{{host!r}}})}}"


def _test_policy(purpose: Purpose, host: str) -> str:
    """The policy a test against a loopback server wants, spelled out for a message."""
    return f"EgressPolicy(allowed_hosts={_entry(purpose, host)}, test_mode=True)"


_STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One request that left (or was blocked). Carries no query, header or body."""

    at: float
    purpose: Purpose
    method: str
    host: str
    path: str
    #: Request line, headers and body: everything the request wrote (before TLS).
    request_bytes: int
    status: int | None = None
    blocked: bool = False
    #: Same as the inspectors' :attr:`OutgoingRequest.request_id`.
    request_id: int = 0
    #: The network error's type name when no reply came (``"ConnectTimeout"``).
    error: str | None = None
    #: For an inner (Oblivious HTTP) request: the outer hop's purpose, ``OHTTP_RELAY``.
    #: The outer POST to the relay has an entry of its own.
    via: Purpose | None = None


@dataclass(frozen=True, slots=True)
class AdmittedRequest:
    """An inner request the door let through, ready to be encoded as Binary HTTP.

    ``headers`` are the ones the door settled (the SDK's User-Agent, no
    cookie), without ``host`` and ``content-length``, which BHTTP carries
    as the authority and the known length.
    """

    request_id: int
    method: str
    scheme: str
    authority: str
    path: str
    headers: tuple[tuple[str, str], ...]
    content: bytes
    handle: object = field(repr=False, compare=False, default=None)


class InnerDoor(Protocol):
    """The egress door for requests that travel inside another (Oblivious HTTP).

    :meth:`admit` applies the purpose's host, port, scheme and method rules
    and every inspector to the *inner* request, exactly as for a direct one,
    and raises :class:`EgressPolicyError` (audited as blocked) to refuse it;
    :meth:`done` writes its audit entry once the inner answer is known.
    """

    def admit(self, request: OutgoingRequest) -> AdmittedRequest: ...

    def done(
        self, request: AdmittedRequest, status: int | None, error: BaseException | None = None
    ) -> None: ...


class RequestInspector(Protocol):
    """Looks at every outgoing request; raises EgressPolicyError to block it."""

    def inspect(self, request: OutgoingRequest) -> None: ...


class AuditLog:
    """A thread-safe, append-only record of every request through the chokepoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> tuple[AuditEntry, ...]:
        with self._lock:
            return tuple(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


@dataclass(frozen=True, slots=True)
class EgressResponse:
    """A reply, fully read. Header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


#: A request body: bytes, or chunks (sent ``Transfer-Encoding: chunked`` by the door).
Body: TypeAlias = bytes | Iterable[bytes]


#: Header fields in order, as (name, value) pairs; a name may repeat.
Headers: TypeAlias = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, init=False)
class OutgoingRequest:
    """One HTTP request: the one request shape of the SDK, as httpx has one ``Request``.

    A caller builds it with ``method``, ``url``, ``headers``, ``content``,
    ``timeout`` and ``max_response_bytes``, and every layer (the egress's
    clients, the Oblivious HTTP ones, a test's fake) implements
    ``send(OutgoingRequest) -> EgressResponse``, as an httpx transport
    implements ``handle_request``. A reply longer than ``max_response_bytes``
    comes back as status 0.

    The door hands inspectors the same shape for the request it lets out,
    stamped: the headers it settled, the body as bytes, its client's
    ``purpose`` (``APP`` until then: a request the SDK has not stamped is
    not the SDK's), a ``request_id`` that the audit entry shares, and
    ``via`` for a request sent *inside* another (Oblivious HTTP).
    ``scheme``, ``host``, ``path`` and ``query`` are read from ``url``
    unless given (the door gives them as httpx normalised them).

    >>> OutgoingRequest("GET", "https://example.com/a?b=1", headers={"accept": "*/*"}).host
    'example.com'
    """

    method: str
    url: str
    headers: Headers
    content: Body | None
    timeout: float | None
    max_response_bytes: int | None
    purpose: Purpose
    scheme: str
    host: str
    path: str
    query: str
    #: The egress's sequence number of the request (from 1); its audit entry has the same.
    request_id: int
    #: For a request sent *inside* another (Oblivious HTTP), the outer hop's purpose.
    via: Purpose | None

    def __init__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        content: Body | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
        purpose: Purpose = Purpose.APP,
        scheme: str | None = None,
        host: str | None = None,
        path: str | None = None,
        query: str | None = None,
        request_id: int = 0,
        via: Purpose | None = None,
    ) -> None:
        if isinstance(headers, Mapping):
            pairs: Headers = tuple(headers.items())
        else:
            pairs = tuple(headers or ())
        if None in (scheme, host, path, query):
            try:
                parts = urlsplit(url)
            except ValueError:  # the door refuses it with a clear error; nothing to read here
                parts = SplitResult("", "", "", "", "")
            scheme = parts.scheme.lower() if scheme is None else scheme
            host = (parts.hostname or "") if host is None else host
            path = (parts.path or "/") if path is None else path
            query = parts.query if query is None else query
        put = object.__setattr__
        put(self, "method", method)
        put(self, "url", url)
        put(self, "headers", pairs)
        put(self, "content", content)
        put(self, "timeout", timeout)
        put(self, "max_response_bytes", max_response_bytes)
        put(self, "purpose", purpose)
        put(self, "scheme", scheme)
        put(self, "host", host)
        put(self, "path", path)
        put(self, "query", query)
        put(self, "request_id", request_id)
        put(self, "via", via)

    @property
    def chunked(self) -> bool:
        """Whether the body was handed over as chunks rather than bytes."""
        return self.content is not None and not isinstance(self.content, bytes)

    def whole_content(self) -> bytes | None:
        """The body as one byte string (chunks joined)."""
        if self.content is None or isinstance(self.content, bytes):
            return self.content
        return b"".join(self.content)

    @property
    def body(self) -> bytes:
        """The body as bytes, empty for none: what inspectors read."""
        return self.whole_content() or b""


#: The name the request shape had while 0.2 was being written; the same class.
ClientRequest = OutgoingRequest


class RequestClient(Protocol):
    """A blocking client: ``EgressClient``, ``ObliviousClient``, a test's fake.

    The uploader's sender, the Gravatar fetcher, the Oblivious HTTP client and
    the conformance kit depend on this shape, not on httpx. An implementation
    names this class as a base and writes :meth:`send` and :meth:`close`.
    """

    def send(self, request: OutgoingRequest) -> EgressResponse:
        """Send one request and read the reply; raise ``NetworkError`` for network trouble."""
        ...

    def close(self) -> None: ...

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: Body | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        """:meth:`send` with the fields as arguments."""
        return self.send(OutgoingRequest(
            method, url, headers=headers, content=content, timeout=timeout,
            max_response_bytes=max_response_bytes,
        ))


class AsyncRequestClient(Protocol):
    """The asyncio twin of :class:`RequestClient` (``AsyncEgressClient``, ...)."""

    async def send(self, request: OutgoingRequest) -> EgressResponse: ...

    async def aclose(self) -> None: ...

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: Body | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
    ) -> EgressResponse:
        """:meth:`send` with the fields as arguments."""
        return await self.send(OutgoingRequest(
            method, url, headers=headers, content=content, timeout=timeout,
            max_response_bytes=max_response_bytes,
        ))
