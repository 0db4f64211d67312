"""A Gravatar stand-in on loopback, for the demo, the tests and the benchmark.

:class:`GravatarStandIn` is a real threaded HTTP server on ``127.0.0.1`` with
an ephemeral port. It answers ``GET /avatar/<hash>`` like Gravatar does: a
real PNG for the hashes it was given, a 404 for others when asked with
``d=404`` (a generated "mystery person" PNG otherwise, as the real service
does). Latency and failures (429 with Retry-After, 503, a wrong content
type, an oversized body, a reply slower than the client's timeout) can be
injected; every request is recorded so tests can prove what left.

>>> with GravatarStandIn(avatars=["0bc83cb571cd1c50ba6f3e8a78ef1346"]) as server:
...     server.base_url.startswith("http://127.0.0.1:")
True

Point the SDK at it with ``GravatarConfig(base_url=server.base_url)`` and
``EgressPolicy(allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1"})},
test_mode=True)``.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from n2net_privacy.testing.servers.loopback import LoopbackServer, Seen, reply

__all__ = [
    "Fault",
    "FaultKind",
    "GravatarStandIn",
    "RecordedRequest",
    "make_png",
    "png_for_hash",
]

_PATH_PREFIX = "/avatar/"


def make_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (51, 102, 153)) -> bytes:
    """A valid, tiny, single-colour RGB PNG (signature, IHDR, IDAT, IEND, CRCs)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def png_for_hash(email_hash: str) -> bytes:
    """A PNG whose colour comes from the hash, so different avatars differ."""
    digits = (email_hash + "000000")[:6]
    try:
        rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    except ValueError:
        rgb = (128, 128, 128)
    return make_png(rgb=rgb)


_MYSTERY_PNG = make_png(rgb=(200, 200, 200))


class FaultKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429, with Retry-After when given
    UNAVAILABLE = "unavailable"  # 503, with Retry-After when given
    WRONG_CONTENT_TYPE = "wrong_content_type"  # 200 text/html
    OVERSIZED = "oversized"  # 200 image/png larger than the SDK accepts
    SLOW = "slow"  # the normal reply, after ``delay`` seconds


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure to inject; build one with the class methods."""

    kind: FaultKind
    retry_after: str | None = None
    delay: float = 0.0
    size: int = 2 * 1024 * 1024

    @classmethod
    def rate_limited(cls, retry_after: str | None = "1") -> Fault:
        return cls(FaultKind.RATE_LIMITED, retry_after=retry_after)

    @classmethod
    def unavailable(cls, retry_after: str | None = None) -> Fault:
        return cls(FaultKind.UNAVAILABLE, retry_after=retry_after)

    @classmethod
    def wrong_content_type(cls) -> Fault:
        return cls(FaultKind.WRONG_CONTENT_TYPE)

    @classmethod
    def oversized(cls, size: int = 2 * 1024 * 1024) -> Fault:
        return cls(FaultKind.OVERSIZED, size=size)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        return cls(FaultKind.SLOW, delay=delay)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the stand-in received it: everything that left the client."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_host: str = ""

    @property
    def hash(self) -> str | None:
        """The hash the request asked for, or None for another path."""
        if self.path.startswith(_PATH_PREFIX):
            return self.path[len(_PATH_PREFIX):]
        return None


@dataclass(slots=True)
class _Rule:
    fault: Fault
    email_hash: str | None
    remaining: int | None


class GravatarStandIn(LoopbackServer):
    """A loopback Gravatar. Use as a context manager; it stops cleanly on exit.

    ``avatars`` are the hashes that have an image: an iterable of hashes (each
    gets :func:`png_for_hash`) or a mapping from hash to PNG bytes.
    ``on_request`` is called (in the server thread) for each request, before
    the reply, so a test can flip a setting mid-batch.
    """

    thread_name = "gravatar-stand-in"

    def __init__(
        self,
        avatars: Mapping[str, bytes] | Iterable[str] = (),
        *,
        latency: float = 0.0,
        cache_control: str | None = "max-age=300",
        on_request: Callable[[RecordedRequest], None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host, idle_timeout_s=10.0)
        self.latency = latency
        self.cache_control = cache_control
        self.on_request = on_request
        self._lock = threading.Lock()
        self._avatars: dict[str, tuple[bytes, str]] = {}
        self._rules: list[_Rule] = []
        self._requests: Seen[RecordedRequest] = Seen()
        if isinstance(avatars, Mapping):
            for email_hash, image in avatars.items():
                self.add_avatar(email_hash, image)
        else:
            for email_hash in avatars:
                self.add_avatar(email_hash)

    @property
    def base_url(self) -> str:
        """The avatar base URL to give :class:`~n2net_privacy.gravatar.GravatarConfig`."""
        return f"http://{self._host}:{self.port}{_PATH_PREFIX}"

    # -- configuration ---------------------------------------------------------

    def add_avatar(
        self, email_hash: str, image: bytes | None = None, content_type: str = "image/png"
    ) -> None:
        with self._lock:
            body = image if image is not None else png_for_hash(email_hash)
            self._avatars[email_hash] = (body, content_type)

    def remove_avatar(self, email_hash: str) -> None:
        with self._lock:
            self._avatars.pop(email_hash, None)

    def avatar(self, email_hash: str) -> bytes | None:
        """The image served for ``email_hash``, if any."""
        with self._lock:
            entry = self._avatars.get(email_hash)
        return entry[0] if entry else None

    def inject(self, fault: Fault, *, email_hash: str | None = None, times: int | None = 1) -> None:
        """Answer the next ``times`` matching requests (None: all) with ``fault``.

        Rules match in the order they were added; ``email_hash`` None matches any.
        """
        with self._lock:
            self._rules.append(_Rule(fault, email_hash, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    # -- what was received -------------------------------------------------------

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        return self._requests.all()

    @property
    def request_count(self) -> int:
        return len(self._requests)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(r.path for r in self.requests)

    def reset(self) -> None:
        """Forget recorded requests (avatars and faults stay)."""
        self._requests.clear()

    # -- serving -----------------------------------------------------------------

    def _record(self, handler: BaseHTTPRequestHandler) -> RecordedRequest:
        length = handler.headers.get("content-length", "0")
        body = handler.rfile.read(int(length)) if length.isdigit() and int(length) else b""
        parts = urlsplit(handler.path)
        request = RecordedRequest(
            method=handler.command,
            path=parts.path,
            query=parts.query,
            headers=tuple((k.lower(), v) for k, v in handler.headers.items()),
            body=body,
            client_host=str(handler.client_address[0]),
        )
        self._requests.add(request)
        return request

    def _next_fault(self, email_hash: str | None) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.email_hash is not None and rule.email_hash != email_hash:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule.fault
        return None

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        request = self._record(handler)
        if handler.command != "GET":
            reply(handler, 405, b"", "text/plain", (("Allow", "GET"),), cache_control=None)
            return
        if self.on_request is not None:
            self.on_request(request)
        if self.latency > 0 and self.stopping.wait(self.latency):
            return
        email_hash = request.hash
        fault = self._next_fault(email_hash)
        if fault is not None:
            if fault.kind is FaultKind.SLOW:
                if self.stopping.wait(fault.delay):
                    return
            else:
                self._fail(handler, fault)
                return
        with self._lock:
            found = self._avatars.get(email_hash) if email_hash else None
        cache = self.cache_control
        if found is not None:
            body, content_type = found
            reply(handler, 200, body, content_type, cache_control=cache)
        elif email_hash and parse_qs(request.query).get("d") != ["404"]:
            reply(handler, 200, _MYSTERY_PNG, "image/png", cache_control=cache)
        else:
            reply(handler, 404, b"Not Found", "text/plain", cache_control=cache)

    @staticmethod
    def _fail(handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        retry = (("Retry-After", fault.retry_after),) if fault.retry_after is not None else ()
        if fault.kind is FaultKind.RATE_LIMITED:
            reply(handler, 429, b"Too Many Requests", "text/plain", retry, cache_control=None)
        elif fault.kind is FaultKind.UNAVAILABLE:
            reply(handler, 503, b"Service Unavailable", "text/plain", retry, cache_control=None)
        elif fault.kind is FaultKind.WRONG_CONTENT_TYPE:
            reply(handler, 200, b"<html>not an image</html>", "text/html", cache_control=None)
        else:
            body = make_png() + b"\x00" * max(0, fault.size - len(make_png()))
            reply(handler, 200, body, "image/png", cache_control=None)
