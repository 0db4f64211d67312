"""The reference ingest server: wire contract v1, executable, on loopback.

It checks the app key, opens the HPKE seal, validates strictly against v1,
dedups by event id, stores events in SQLite and honours ``Idempotency-Key``.
Tests, the demo and backend teams use it as the contract that runs.

>>> keys = ServerKeyPair.generate()
>>> with IngestServer(keys, app_key="app-key") as server:  # doctest: +SKIP
...     server.fail_next(2, status=503)        # the next two POSTs fail
...     upload_to(server.url, keys.public)
...     assert server.count() == 1

Failure injection (``fail_next``, ``delay``, ``reset_next_connection``) and
the request log (``requests()``) are for tests. Key rotation
(``rotate_key``, ``retire_key``) is what a backend does: serve the new key
next to the old one during a grace period, then retire the old one; a
request under a key the server no longer holds gets ``401 unknown_key_id``.
Plain HTTP by default; pass an ``ssl.SSLContext`` (e.g. made with ``trustme``) for TLS.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from n2net_privacy.errors import InvalidArgumentError
from n2net_privacy.testing.servers.ingest_endpoint import IngestEndpoint, Reply, error_reply
from n2net_privacy.testing.servers.ingest_store import EventStore
from n2net_privacy.testing.servers.loopback import BufferedHTTPHandler, LoopbackServer, Seen
from n2net_privacy.testing.servers.loopback import reply as send
from n2net_privacy.uploader.wire import EVENTS_PATH, ServerKeyPair, WireEvent

__all__ = ["IngestRequest", "IngestServer"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# struct linger {l_onoff=1, l_linger=0}: close() sends RST instead of FIN.
_LINGER_RESET = struct.pack("ii", 1, 0)


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """One request as the server saw it. ``status`` is None for a reset connection.

    ``client_host`` is the address the connection came from, so a test can
    show that an Oblivious HTTP path hid the device's address.

    ``headers`` has lower-case names. ``body`` is the raw sealed body (empty
    when body capture is off); ``replayed`` marks an idempotent replay.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body_size: int
    body: bytes
    status: int | None
    replayed: bool = False
    client_host: str = ""


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int | None  # None: reset the connection
    retry_after: str | None = None
    after_processing: bool = False


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP RST and no reply."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    # The descriptor really closes (and the RST goes out) when finish()
    # releases rfile; closing the files here would break the base class.
    handler.connection.close()


class IngestServer(LoopbackServer):
    """A loopback server implementing ``POST /v1/events`` of wire contract v1.

    ``keys`` are the server key pairs it can open seals for (looked up by
    ``N2Net-Key-Id``). ``db_path=None`` keeps events in memory; a path keeps
    them across restarts. ``stop()`` then ``start()`` brings the server down
    and back up on the same port with the same events. An idle keep-alive
    connection is closed after ``idle_timeout_s`` (None: never), and always
    on ``stop()``.
    """

    thread_name = "n2net-ingest-server"
    handler = BufferedHTTPHandler  # small replies, many of them: one write each
    join_timeout_s = None  # close() releases the store only once no handler can touch it

    def __init__(
        self,
        keys: ServerKeyPair | Iterable[ServerKeyPair],
        *,
        app_key: str,
        db_path: str | Path | None = None,
        tls: ssl.SSLContext | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        capture_bodies: bool = True,
        idle_timeout_s: float | None = 60.0,
    ) -> None:
        pairs = (keys,) if isinstance(keys, ServerKeyPair) else tuple(keys)
        if not pairs:
            raise InvalidArgumentError("IngestServer needs at least one key pair")
        super().__init__("127.0.0.1", tls=tls, idle_timeout_s=idle_timeout_s)
        self._max_body_bytes = max_body_bytes
        self._capture_bodies = capture_bodies
        self._store = EventStore(db_path)
        self._pairs = {pair.key_id: pair for pair in pairs}
        self._endpoint = IngestEndpoint(self._pairs, app_key=app_key, store=self._store)
        self._lock = threading.Lock()
        self._held = threading.Condition(self._lock)
        self._holding = 0
        self._faults: deque[_Fault] = deque()
        self._delay = 0.0
        self._log: Seen[IngestRequest] = Seen()
        self.start()

    # -- lifecycle (start, stop, url, running: see LoopbackServer) ----------

    @property
    def events_url(self) -> str:
        """Where to POST: ``url + EVENTS_PATH``."""
        return self.url + EVENTS_PATH

    def close(self) -> None:
        """Stop and release the database."""
        super().close()
        self._store.close()

    # -- key rotation ------------------------------------------------------

    def rotate_key(self, new: ServerKeyPair, *, grace: bool = True) -> None:
        """Start serving ``new``. With ``grace`` the old keys stay valid until retired."""
        with self._lock:
            self._pairs = ({**self._pairs} if grace else {}) | {new.key_id: new}
            self._endpoint.set_keys(self._pairs)

    def retire_key(self, key_id: str) -> None:
        """End the grace period of ``key_id``: uploads under it get 401 unknown_key_id."""
        with self._lock:
            self._pairs = {k: v for k, v in self._pairs.items() if k != key_id}
            self._endpoint.set_keys(self._pairs)

    def key_ids(self) -> tuple[str, ...]:
        """The ids of the keys the server accepts now."""
        return self._endpoint.key_ids()

    # -- failure injection -------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 503, retry_after: str | None = None) -> None:
        """Answer the next ``n`` POSTs with ``status`` (and ``Retry-After``), storing nothing."""
        with self._lock:
            self._faults.extend(_Fault(status, retry_after) for _ in range(n))

    def reset_next_connection(self, n: int = 1, *, after_processing: bool = False) -> None:
        """Close the next ``n`` POSTs' connections abruptly, with no reply.

        With ``after_processing`` the batch is stored first: the client's 200
        is lost, as when the network drops between the server's commit and
        the device's delete.
        """
        with self._lock:
            self._faults.extend(
                _Fault(None, after_processing=after_processing) for _ in range(n)
            )

    def delay(self, seconds: float) -> None:
        """Wait ``seconds`` before handling every POST from now on (0 to stop)."""
        with self._lock:
            self._delay = max(0.0, seconds)

    def wait_until_delayed(self, n: int = 1, timeout: float = 10.0) -> bool:
        """Block until ``n`` POSTs are being held by :meth:`delay`; False after ``timeout``."""
        with self._held:
            return self._held.wait_for(lambda: self._holding >= n, timeout)

    def clear_faults(self) -> None:
        """Forget pending injected failures and the delay."""
        with self._lock:
            self._faults.clear()
            self._delay = 0.0

    # -- inspection --------------------------------------------------------

    def events(self) -> tuple[WireEvent, ...]:
        """Every stored event, once each, in arrival order."""
        return self._store.events()

    def count(self) -> int:
        """How many distinct events are stored."""
        return self._store.count()

    def requests(self) -> tuple[IngestRequest, ...]:
        """Every request received so far, oldest first."""
        return self._log.all()

    def clear_requests(self) -> None:
        self._log.clear()

    # -- request handling --------------------------------------------------

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            self._handle_post(handler)
        else:
            self._respond(handler, error_reply(404, "not_found", "only POST /v1/events"))

    def _handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        body = self._read_body(handler, headers)
        if body is None:
            return
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            delay = self._delay
        if delay:
            with self._lock:
                self._holding += 1
                self._held.notify_all()
            self.stopping.wait(delay)  # cut short by stop(), so exit never waits on it
            with self._lock:
                self._holding -= 1
        if fault is not None and fault.status is not None:
            reply = error_reply(
                fault.status, "injected", "failure injected by the test",
                retry_after=fault.retry_after,
            )
            self._finish(handler, headers, body, reply)
            return
        if fault is None or fault.after_processing:
            try:
                reply = self._endpoint.handle(handler.path, headers, body)
            except Exception as exc:  # a bug here must still answer, not hang the client
                reply = error_reply(500, "internal", type(exc).__name__)
            if fault is None:
                self._finish(handler, headers, body, reply)
                return
        self._record(handler, headers, body, None)
        _reset(handler)

    def _read_body(
        self, handler: BaseHTTPRequestHandler, headers: Mapping[str, str]
    ) -> bytes | None:
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) <= self._max_body_bytes:
            return handler.rfile.read(int(length))
        # The unread body must not be parsed as the next request: hang up after.
        handler.close_connection = True
        if not length.isdigit():
            reply = error_reply(411, "length_required", "Content-Length is required")
        else:
            reply = error_reply(413, "payload_too_large", "body exceeds the server's limit")
        self._finish(handler, headers, b"", reply)
        return None

    def _finish(
        self, handler: BaseHTTPRequestHandler, headers: Mapping[str, str], body: bytes, reply: Reply
    ) -> None:
        self._record(handler, headers, body, reply.status, replayed=reply.replayed)
        self._respond(handler, reply)

    def _record(
        self,
        handler: BaseHTTPRequestHandler,
        headers: Mapping[str, str],
        body: bytes,
        status: int | None,
        *,
        replayed: bool = False,
    ) -> None:
        entry = IngestRequest(
            method=handler.command,
            path=handler.path,
            headers=dict(headers),
            body_size=len(body),
            body=body if self._capture_bodies else b"",
            status=status,
            replayed=replayed,
            client_host=str(handler.client_address[0]),
        )
        self._log.add(entry)

    def _respond(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        retry = (("Retry-After", reply.retry_after),) if reply.retry_after is not None else ()
        send(handler, reply.status, reply.body, "application/json", retry, cache_control=None)
