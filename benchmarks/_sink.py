"""One loopback HTTP sink for every client, in its own process, timestamping what it acknowledges.

Every POST is answered 200 with the same small JSON body, whoever sent it.
After the reply is written the sink notes ``time.monotonic()`` (the
acknowledgement), the bytes on the wire (request line, headers and body) and
the body itself. Counting the events in the bodies (JSON, gzip or deflate for
the peers; HPKE-sealed for this SDK, opened with the benchmark's server key)
happens only when asked, after a client is done, so it never slows a reply.

``CLOCK_MONOTONIC`` is one system-wide clock on Linux: a timestamp the sink
takes is comparable with ``time.monotonic()`` in a client's process.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection

REPLY = b'{"accepted": [], "duplicates": [], "status": 1}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(REPLY)).encode()
    + b"\r\n\r\n"
    + REPLY
)


@dataclass(frozen=True, slots=True)
class Received:
    """One acknowledged request."""

    acked_at: float
    """``time.monotonic()`` just after the reply was written."""
    wire_bytes: int
    content_type: str
    encoding: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Window:
    """What the sink acknowledged between :meth:`Sink.mark` and :meth:`Sink.settle`."""

    requests: int
    wire_bytes: int
    events: int
    first_ack: float
    last_ack: float
    """When the request carrying the last event was acknowledged."""


def count_events(
    body: bytes, content_type: str, encoding: str, private_raw: bytes | None = None
) -> int:
    """The events one request carries: a peer's JSON ``batch``, or this SDK's sealed batch.

    A body is sealed when its content type says so (``application/n2net-sealed``):
    a sealed body's first byte is random, and may well be ``{``.
    """
    if content_type.split(";", maxsplit=1)[0].strip() == "application/n2net-sealed":
        if private_raw is None:
            raise ValueError("a sealed body needs the benchmark's server key to be counted")
        from n2net_privacy.uploader import ServerKeyPair, decode_batch

        pair = ServerKeyPair.from_private_raw("bench", private_raw)
        return len(decode_batch(pair.open(body)).events)
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    elif encoding not in ("", "identity"):
        raise ValueError(f"the sink cannot read Content-Encoding {encoding!r}")
    document = json.loads(body)
    batch = document.get("batch", []) if isinstance(document, dict) else document
    return len(batch)


def _serve(conn: Connection, private_raw: bytes | None) -> None:
    received: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            self.wfile.write(RESPONSE)  # one write: status, headers and body
            self.wfile.flush()
            acked_at = time.monotonic()
            head = len(self.requestline) + 2 + len(bytes(self.headers)) + 2
            encoding = self.headers.get("content-encoding", "").strip().lower()
            content_type = self.headers.get("content-type", "").strip().lower()
            received.append(Received(acked_at, head + length, content_type, encoding, body))

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while (message := conn.recv()) != "stop":
        command, argument = message
        if command == "mark":
            # A new window: what came before is settled; drop it (bodies add up).
            received.clear()
            conn.send(0)
        elif command == "settle":
            start, expected = argument
            conn.send(_settle(received, start, expected, private_raw))
    server.shutdown()
    server.server_close()


def _settle(
    received: list[Received], start: int, expected: int, private_raw: bytes | None
) -> Window:
    # A client may read its last reply a moment before the handler thread has
    # noted it: wait (at most 5 s) for the expected events to be on record.
    events: list[int] = []
    deadline = time.monotonic() + 5.0
    while True:
        window = received[start:]
        events += [
            count_events(r.body, r.content_type, r.encoding, private_raw)
            for r in window[len(events) :]
        ]
        if sum(events) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.001)
    if not window:
        return Window(0, 0, 0, 0.0, 0.0)
    carrying = [r for r, n in zip(window, events, strict=True) if n]
    last = max((r.acked_at for r in carrying), default=0.0)
    return Window(
        requests=len(window),
        wire_bytes=sum(r.wire_bytes for r in window),
        events=sum(events),
        first_ack=min(r.acked_at for r in window),
        last_ack=last,
    )


class Sink:
    """The sink process; ``private_raw`` is the server key this SDK seals to, if it runs."""

    def __init__(self, private_raw: bytes | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, private_raw), daemon=True)
        self._proc.start()
        self.url = f"http://127.0.0.1:{self._conn.recv()}"

    def mark(self) -> int:
        """Start a new window (forgetting the last); returns where it starts."""
        self._conn.send(("mark", None))
        start: int = self._conn.recv()
        return start

    def settle(self, start: int, expected: int = 0) -> Window:
        """Everything acknowledged since ``start``, its events counted (``expected`` awaited)."""
        self._conn.send(("settle", (start, expected)))
        window: Window = self._conn.recv()
        return window

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(10)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
