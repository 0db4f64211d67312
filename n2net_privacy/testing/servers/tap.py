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
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

__all__ = ["TapConnection", "TcpTap"]

_CHUNK = 64 * 1024


@dataclass
class TapConnection:
    """One connection through the tap: who opened it, and the bytes each way."""

    client_host: str
    to_server: bytearray = field(default_factory=bytearray)
    to_client: bytearray = field(default_factory=bytearray)


class TcpTap:
    """Accept on ``host`` (an ephemeral port), forward to ``upstream``, record everything."""

    def __init__(self, upstream: tuple[str, int], *, host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self._listener = socket.create_server((host, 0))
        self._host = host
        self._lock = threading.Lock()
        self._connections: list[TapConnection] = []
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="tcp-tap", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._listener.getsockname()[1]}"

    def connections(self) -> tuple[TapConnection, ...]:
        with self._lock:
            return tuple(
                TapConnection(c.client_host, bytearray(c.to_server), bytearray(c.to_client))
                for c in self._connections
            )

    def client_hosts(self) -> set[str]:
        return {c.client_host for c in self.connections()}

    def start(self) -> Self:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                client, address = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            record = TapConnection(str(address[0]))
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                self._connections.append(record)
                self._sockets += [client, server]
            for source, sink, buffer in (
                (client, server, record.to_server),
                (server, client, record.to_client),
            ):
                threading.Thread(
                    target=self._pump, args=(source, sink, buffer), daemon=True
                ).start()

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

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sockets, self._sockets = self._sockets, []
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() on Linux
        self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
