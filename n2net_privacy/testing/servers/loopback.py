"""The one lifecycle of every loopback server here: bind, serve in threads, stop cleanly.

:class:`LoopbackServer` binds ``127.0.0.1`` on an ephemeral port (the same
port again after a ``stop()``), accepts in one thread and serves each
connection in its own. ``start()`` returns once the socket listens, so a
client may connect at once: that is the ready signal, with no wait. ``stop()``
stops accepting, sets :attr:`~LoopbackServer.stopping` (a handler that waits
on it wakes), shuts every open connection (upstream ones a handler
:meth:`~LoopbackServer.track`-ed included) and joins the threads; ``close()``
also releases what a subclass opened. A ``with`` block starts and closes.

A server is a subclass with a ``_route(handler)`` for HTTP, or its own
``handler`` class for raw TCP (:class:`~n2net_privacy.testing.servers.tap.TcpTap`).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Generic, Self, TypeVar

from n2net_privacy._closing import ClosingContextManager
from n2net_privacy.errors import ServerNotRunningError

__all__ = ["BufferedHTTPHandler", "LoopbackServer", "Seen", "read_body", "reply"]


T = TypeVar("T")


class Seen(Generic[T]):
    """What a server saw, appended by its handler threads and read by the test's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def add(self, item: T) -> int:
        """Append ``item``; how many came before it (the n-th, from 0)."""
        with self._lock:
            self._items.append(item)
            return len(self._items) - 1

    def all(self) -> tuple[T, ...]:
        with self._lock:
            return tuple(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def read_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes | None:
    """The request body, or None (after answering 411/413) if it cannot be read."""
    length = handler.headers.get("content-length", "")
    if length.isdigit() and int(length) <= limit:
        return handler.rfile.read(int(length))
    # The unread body must not be parsed as the next request: hang up after.
    handler.close_connection = True
    reply(handler, 411 if not length.isdigit() else 413, b"", "text/plain")
    return None


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    extra: Iterable[tuple[str, str]] = (),
    *,
    cache_control: str | None = "private, no-store",
) -> None:
    """Answer with type, length, ``extra`` headers, and ``Connection: close`` when closing."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    if cache_control is not None:
        handler.send_header("Cache-Control", cache_control)
    for name, value in extra:
        handler.send_header(name, value)
    if handler.close_connection:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    # Headers and body go out in two writes; without this, Nagle plus the
    # client's delayed ACK adds ~40 ms to every reply.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        # An idle keep-alive connection gives up eventually, even if never closed.
        self.connection.settimeout(self.server.owner.idle_timeout_s)

    def handle(self) -> None:
        if isinstance(self.connection, ssl.SSLSocket):
            try:  # in this connection's thread, not the accept loop
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().handle()

    def _dispatch(self) -> None:
        self.server.owner._route(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: each server keeps its own record of what it saw


class BufferedHTTPHandler(_HTTPHandler):
    """The HTTP handler with its replies buffered: status line, headers and body leave
    in one write when the handler returns (``handle_one_request`` flushes).

    For servers whose replies are small and many (the ingest under a fleet): one
    packet per reply instead of two. Not for a server that streams or drips a body.
    """

    wbufsize = -1


class _Server(socketserver.TCPServer):
    allow_reuse_address = True  # start() again on the same port, past TIME_WAIT
    # socketserver's listen backlog is 5: devices connecting in the same second
    # (a fleet's reconnect storm) got connection resets from the kernel.
    request_queue_size = 1024

    def __init__(
        self, owner: LoopbackServer, address: tuple[str, int], tls: ssl.SSLContext | None
    ) -> None:
        self.owner = owner
        self.tls = tls
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        super().__init__(address, owner.handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.track(sock)
        return sock, address

    def track(self, sock: socket.socket) -> None:
        with self.lock:
            self.connections.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self.lock:
            self.connections.discard(sock)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve, args=(request, client_address), daemon=True,
            name=self.owner.thread_name,
        )
        with self.lock:
            self.threads.add(thread)
        thread.start()

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.untrack(request)
            with self.lock:
                self.threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (timeouts, resets) is not a server error

    def drop_connections(self) -> list[threading.Thread]:
        with self.lock:
            connections, threads = list(self.connections), list(self.threads)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return threads


class LoopbackServer(ClosingContextManager):
    """Start on ``__enter__``, stop (every connection closed, every thread joined) on exit.

    Class attributes tune a subclass: ``handler`` (HTTP by default, routed to
    ``_route``), ``thread_name``, ``idle_timeout_s`` (an idle connection's
    limit; None: none) and ``join_timeout_s`` (how long ``stop()`` waits for
    a handler; None: until it ends).
    """

    handler: ClassVar[type[socketserver.BaseRequestHandler]] = _HTTPHandler
    thread_name: ClassVar[str] = "loopback-server"
    join_timeout_s: ClassVar[float | None] = 5.0

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        tls: ssl.SSLContext | None = None,
        idle_timeout_s: float | None = 30.0,
    ) -> None:
        self._host = host
        self._tls = tls
        self.idle_timeout_s = idle_timeout_s
        self._port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Set while stopping: a handler that waits (latency, an injected delay) waits on it.
        self.stopping = threading.Event()

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Listen (again, on the same port) and serve. A no-op if already running."""
        if self._server is None:
            self.stopping.clear()
            server = _Server(self, (self._host, self._port), self._tls)
            self._port = int(server.server_address[1])
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05},
                daemon=True, name=f"{self.thread_name}-accept",
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, wake waiting handlers, close connections, join threads."""
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        threads = server.drop_connections()
        server.server_close()
        for thread in threads:
            thread.join(self.join_timeout_s)
        if self._thread is not None:
            self._thread.join(self.join_timeout_s)
            self._thread = None

    def close(self) -> None:
        """Stop for good (the port is forgotten); a subclass also releases what it opened."""
        self.stop()
        self._port = 0

    def __enter__(self) -> Self:
        return self.start()

    def track(self, sock: socket.socket) -> None:
        """Have ``stop()`` shut ``sock`` too (an upstream connection a handler opened)."""
        if (server := self._server) is not None:
            server.track(sock)

    def untrack(self, sock: socket.socket) -> None:
        if (server := self._server) is not None:
            server.untrack(sock)

    # -- where it listens --------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port it listens on, and listens on again after ``stop()`` and ``start()``."""
        if not self._port:
            raise ServerNotRunningError(f"{type(self).__name__} is not running: start() it first")
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https`` with ``tls``)."""
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{self._host}:{self.port}"
