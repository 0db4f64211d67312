"""A threaded loopback HTTP server with a clean stop, for the OHTTP stand-ins."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from n2net_privacy.errors import ServerNotRunningError

__all__ = ["LoopbackServer", "read_body", "reply"]

Route = Callable[[BaseHTTPRequestHandler], None]


def read_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes | None:
    """The request body, or None (after answering 411/413) if it cannot be read."""
    length = handler.headers.get("content-length", "")
    if not length.isdigit():
        handler.close_connection = True
        reply(handler, 411, b"", "text/plain")
        return None
    if int(length) > limit:
        handler.close_connection = True
        reply(handler, 413, b"", "text/plain")
        return None
    return handler.rfile.read(int(length))


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "private, no-store")
    for name, value in extra:
        handler.send_header(name, value)
    if handler.close_connection:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30.0
    server: _Server

    def _dispatch(self) -> None:
        self.server.route(self)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: each server keeps its own record of what it saw


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, route: Route) -> None:
        self.route = route
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__((host, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is not an error for a stand-in

    def drop_connections(self) -> None:
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """Start on ``__enter__``, stop (and close every connection) on ``__exit__``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        if self._server is None:
            self._server = _Server(self._host, self._route)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                daemon=True,
                name=type(self).__name__,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise ServerNotRunningError(f"{type(self).__name__} is not running: start() it first")
        return f"http://{self._host}:{self._server.server_address[1]}"
