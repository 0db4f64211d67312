"""A reference Oblivious HTTP relay and gateway, as real loopback servers.

They exist so that tests, the demo and backend teams can run the three-party
path for real: device -> **relay** -> **gateway** -> ingest or Gravatar.

- :class:`OhttpRelay` forwards only the encapsulated bytes. It drops every
  client header (cookies, user agent, forwarding headers: RFC 9458 §6.2 asks
  relays not to pass on what identifies the client) and connects upstream
  from its own source address. A ``GET`` of :data:`KEYS_PATH` is forwarded
  to the gateway's key endpoint the same way, so a device fetches the key
  configuration without ever connecting to the gateway.
- :class:`OhttpGatewayServer` serves ``application/ohttp-keys``, opens each
  request, forwards it to the target named by its authority, and seals the
  target's answer, padded to its size bucket (RFC 9292 §3.8). It connects
  to targets from yet another source address.

Both record what they saw (:meth:`sightings`), so a test can prove that the
relay never saw a number and that the ingest never saw the device's address.
On loopback, give each hop its own 127.0.0.x source (Linux routes all of
127.0.0.0/8 to ``lo``) so that those checks mean something.

These are server-side stand-ins: their upstream requests use the standard
library, not the SDK's egress, which is the device's door.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from n2net_privacy import ohttp
from n2net_privacy.errors import WireFormatError
from n2net_privacy.testing.servers.loopback import LoopbackServer, Seen, read_body, reply

__all__ = [
    "GATEWAY_PATH",
    "KEYS_PATH",
    "GatewaySighting",
    "OhttpGatewayServer",
    "OhttpRelay",
    "RelaySighting",
]

GATEWAY_PATH = "/gateway"
KEYS_PATH = "/ohttp-keys"
_MAX_BODY = 2 * 1024 * 1024
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_KEPT_RESPONSE_HEADERS = frozenset(
    {"content-type", "retry-after", "cache-control", "expires", "etag", "last-modified"}
)
_PROBLEM_OHTTP_KEY = (
    b'{"type":"https://iana.org/assignments/http-problem-types#ohttp-key",'
    b'"title":"key identifier unknown"}'
)


def _post(
    server: LoopbackServer,
    url: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str = "POST",
    source_host: str,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request upstream from ``source_host``; ``server.stop()`` cuts it short."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise WireFormatError(f"stand-in upstream must be a plain http URL, got {parts.scheme!r}")
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port or 80, timeout=30.0, source_address=(source_host, 0)
    )
    try:
        connection.connect()
        sock = connection.sock
        server.track(sock)
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read(_MAX_BODY + 1)[:_MAX_BODY]
        finally:
            server.untrack(sock)
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class RelaySighting:
    """What the relay saw of one request: the client's address and opaque bytes."""

    client_host: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    status: int
    method: str = "POST"
    #: Bytes of the answer's body the relay passed back to the client.
    response_bytes: int = 0


class OhttpRelay(LoopbackServer):
    """Forward ``message/ohttp-req`` bodies, and key-configuration GETs, to one gateway.

    ``gateway_keys_url`` defaults to :data:`KEYS_PATH` on the gateway's origin.
    """

    thread_name = "ohttp-relay"

    def __init__(
        self,
        gateway_url: str,
        *,
        gateway_keys_url: str | None = None,
        source_host: str = "127.0.0.2",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.gateway_url = gateway_url
        parts = urlsplit(gateway_url)
        self.gateway_keys_url = gateway_keys_url or f"{parts.scheme}://{parts.netloc}{KEYS_PATH}"
        self.source_host = source_host
        self._seen: Seen[RelaySighting] = Seen()

    def sightings(self) -> tuple[RelaySighting, ...]:
        return self._seen.all()

    @property
    def keys_url(self) -> str:
        """Where a device fetches the gateway's key configuration, through this relay."""
        return self.url + KEYS_PATH

    def _relay(
        self, handler: BaseHTTPRequestHandler, method: str, url: str, header: tuple[str, str],
        body: bytes,
    ) -> None:
        """Send ``body`` on to ``url`` from the relay's own address; pass back the answer."""
        status, content_type, answer = 502, "text/plain", b""
        try:
            status, reply_headers, answer = _post(
                self, url, urlsplit(url).path or "/", dict((header,)), body,
                method=method, source_host=self.source_host,
            )
            content_type = dict((k.lower(), v) for k, v in reply_headers).get(
                "content-type", "application/octet-stream"
            )
        except OSError:
            pass
        self._answer(handler, method, body, status, answer=answer, content_type=content_type)

    def _answer(
        self, handler: BaseHTTPRequestHandler, method: str, body: bytes, status: int, *,
        answer: bytes = b"", content_type: str = "text/plain",
    ) -> None:
        headers = tuple((k.lower(), v) for k, v in handler.headers.items())
        sighting = RelaySighting(
            str(handler.client_address[0]), headers, body, status, method, len(answer)
        )
        self._seen.add(sighting)
        reply(handler, status, answer, content_type)

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "GET" and handler.path == KEYS_PATH:
            accept = ("Accept", ohttp.KEY_CONFIG_MEDIA_TYPE)
            self._relay(handler, "GET", self.gateway_keys_url, accept, b"")
            return
        if handler.command != "POST":
            reply(handler, 405, b"", "text/plain", (("Allow", "GET, POST"),))
            return
        body = read_body(handler, _MAX_BODY)
        if body is None:
            return
        if handler.headers.get("content-type", "") != ohttp.REQUEST_MEDIA_TYPE:
            self._answer(handler, "POST", body, 415)
            return
        content_type = ("Content-Type", ohttp.REQUEST_MEDIA_TYPE)
        self._relay(handler, "POST", self.gateway_url, content_type, body)


@dataclass(frozen=True, slots=True)
class GatewaySighting:
    """What the gateway saw: who connected (the relay) and the opened request."""

    relay_host: str
    key_id: int | None
    method: str
    authority: str
    path: str
    status: int


class OhttpGatewayServer(LoopbackServer):
    """Open OHTTP requests and forward them to the target their authority names.

    ``targets`` maps an authority as the client wrote it (``"api.n2net.com"``)
    to the stand-in's base URL (``ingest.url``). Any other authority is
    answered, inside the encapsulation, with 403.

    ``published`` decides what the n-th key-configuration GET (from 0) is
    answered with; by default every fetch gets ``gateway.encoded_key_configs()``.
    A red-team test passes one that hands each fetch its own key id.
    Every key-configuration GET is recorded in :meth:`key_fetches` (the
    connecting address), so a test can show that no device fetched directly.
    """

    thread_name = "ohttp-gateway"

    def __init__(
        self,
        gateway: ohttp.Gateway,
        targets: Mapping[str, str],
        *,
        source_host: str = "127.0.0.3",
        host: str = "127.0.0.1",
        published: Callable[[int], bytes] | None = None,
    ) -> None:
        super().__init__(host)
        self.gateway = gateway
        self.published = published
        self._key_fetches: Seen[str] = Seen()
        self.targets = dict(targets)
        self.source_host = source_host
        self._seen: Seen[GatewaySighting] = Seen()

    @property
    def gateway_url(self) -> str:
        return self.url + GATEWAY_PATH

    @property
    def keys_url(self) -> str:
        return self.url + KEYS_PATH

    def sightings(self) -> tuple[GatewaySighting, ...]:
        return self._seen.all()

    def key_fetches(self) -> tuple[str, ...]:
        """The address each key-configuration GET came from, in order."""
        return self._key_fetches.all()

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "GET" and handler.path == KEYS_PATH:
            n = self._key_fetches.add(str(handler.client_address[0]))
            published = self.published
            keys = published(n) if published is not None else self.gateway.encoded_key_configs()
            reply(handler, 200, keys, ohttp.KEY_CONFIG_MEDIA_TYPE)
            return
        if handler.command != "POST" or handler.path != GATEWAY_PATH:
            reply(handler, 404, b"", "text/plain")
            return
        body = read_body(handler, _MAX_BODY)
        if body is None:
            return
        relay_host = str(handler.client_address[0])
        if handler.headers.get("content-type", "") != ohttp.REQUEST_MEDIA_TYPE:
            reply(handler, 415, b"", "text/plain")
            return
        try:
            inner, responder = self.gateway.decapsulate(body)
            request = ohttp.bhttp.decode_request(inner)
        except ohttp.KeyConfigMismatchError:
            self._seen.add(GatewaySighting(relay_host, None, "", "", "", 400))
            reply(handler, 400, _PROBLEM_OHTTP_KEY, "application/problem+json")
            return
        except WireFormatError:
            self._seen.add(GatewaySighting(relay_host, None, "", "", "", 400))
            reply(handler, 400, b"", "text/plain")
            return
        status, headers, content = self._forward(request)
        self._seen.add(
            GatewaySighting(
                relay_host,
                responder.key_id,
                request.method,
                request.authority,
                request.path,
                status,
            )
        )
        # Padded to its bucket, so the relay cannot count events from the answer's size.
        sealed = responder.encapsulate(
            ohttp.padding.pad(ohttp.bhttp.encode_response(status, headers, content))
        )
        reply(handler, 200, sealed, ohttp.RESPONSE_MEDIA_TYPE)

    def _forward(
        self, request: ohttp.bhttp.Request
    ) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
        base = self.targets.get(request.authority)
        if base is None:
            return 403, (), b""
        headers = {
            name.decode("ascii"): value.decode("latin-1")
            for name, value in request.headers
            if name.decode("ascii") not in _HOP_BY_HOP
        }
        headers["Content-Length"] = str(len(request.content))
        try:
            status, reply_headers, content = _post(
                self, base, request.path, headers, request.content,
                method=request.method, source_host=self.source_host,
            )
        except OSError:
            return 502, (), b""
        kept = tuple(
            (k.lower(), v) for k, v in reply_headers if k.lower() in _KEPT_RESPONSE_HEADERS
        )
        return status, kept, content
