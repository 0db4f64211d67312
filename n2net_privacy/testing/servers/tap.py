"""A TCP tap: a loopback proxy that records every byte and who connected.

Put one in front of a server to see the traffic exactly as that server's
operator would: the source address of each connection and the bytes each
way, below HTTP. The OHTTP end-to-end tests put one in front of the relay
(it must see only the device) and one in front of the gateway (it must never
see the device, not even for a key fetch).

>>> with TcpTap(("127.0.0.1", server_port)) as tap:      # doctest: +SKIP
...     client.get(tap.url + "/path")
...     tap.connections()[0].client_host
'127.0.0.1'
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any

from n2net_privacy.testing.servers.loopback import LoopbackServer

__all__ = ["TapConnection", "TcpTap"]

_CHUNK = 64 * 1024


@dataclass
class TapConnection:
    """One connection through the tap: who opened it, and the bytes each way."""

    client_host: str
    to_server: bytearray = field(default_factory=bytearray)
    to_client: bytearray = field(default_factory=bytearray)


class _Pipe(socketserver.BaseRequestHandler):
    server: Any  # the loopback server, whose ``owner`` is the tap

    def handle(self) -> None:
        self.server.owner._pipe(self.request, self.client_address)


class TcpTap(LoopbackServer):
    """Accept on ``host`` (an ephemeral port), forward to ``upstream``, record everything."""

    handler = _Pipe
    thread_name = "tcp-tap"

    def __init__(self, upstream: tuple[str, int], *, host: str = "127.0.0.1") -> None:
        super().__init__(host, idle_timeout_s=None)
        self.upstream = upstream
        self._lock = threading.Lock()
        self._connections: list[TapConnection] = []

    def connections(self) -> tuple[TapConnection, ...]:
        with self._lock:
            return tuple(
                TapConnection(c.client_host, bytearray(c.to_server), bytearray(c.to_client))
                for c in self._connections
            )

    def client_hosts(self) -> set[str]:
        return {c.client_host for c in self.connections()}

    def _pipe(self, client: socket.socket, address: tuple[str, int]) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            return
        self.track(server)  # stop() shuts the upstream side too
        record = TapConnection(str(address[0]))
        with self._lock:
            self._connections.append(record)
        back = threading.Thread(
            target=self._pump, args=(server, client, record.to_client),
            daemon=True, name=self.thread_name,
        )
        back.start()
        try:
            self._pump(client, server, record.to_server)
            back.join()
        finally:
            self.untrack(server)
            server.close()

    def _pump(self, source: socket.socket, sink: socket.socket, buffer: bytearray) -> None:
        try:
            while chunk := source.recv(_CHUNK):
                with self._lock:
                    buffer += chunk
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
