"""This SDK against Segment's and PostHog's Python clients, same sink, same events, one run.

The peers (``segment-analytics-python``, ``posthog``) come from the ``bench``
extra (``make bench`` installs it); the SDK never depends on them.

One loopback HTTP sink runs in its own process and answers 200 to every
POST, counting requests and the bytes on the wire (request line, headers and
body). Each client records the same SMS events (the E.164 number and the
time) and is flushed until its queue is empty; the runs are interleaved
(client order rotates every round) so machine noise spreads over all three.

Two workloads: *phone* (a few hundred distinct numbers) and *fleet* (tens of
thousands, cycling, as a backend team's device-fleet simulation does).

Reported per client and workload (median over rounds): end-to-end events/s
(first record to queue empty), CPU seconds per 1,000 events (this process,
all threads; the sink excluded), wire bytes per event, and the ratios. For
this SDK also ``record_sms`` p99 while the sender drains. The peers keep
events in memory and send plaintext; this SDK commits every event durably,
encrypted at rest, before ``record_sms`` returns, and seals every batch.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.uploader import Endpoint
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.wire import ServerKeyPair

ROUNDS = 3
WORKLOADS = {"phone": (300, 20_000), "fleet": (20_000, 30_000)}  # distinct numbers, events
REPLY = b'{"accepted": [], "duplicates": [], "status": 1}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(REPLY)).encode()
    + b"\r\n\r\n"
    + REPLY
)


# -- the sink --------------------------------------------------------------------


def _sink(conn: Connection) -> None:
    counts = {"requests": 0, "bytes": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            self.rfile.read(length)
            head = len(self.requestline) + 2 + len(bytes(self.headers)) + 2
            counts["requests"] += 1
            counts["bytes"] += head + length
            self.wfile.write(RESPONSE)  # one write: status, headers and body

    import threading

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    while (message := conn.recv()) != "stop":
        if message == "counts":
            conn.send(dict(counts))
    server.shutdown()
    server.server_close()


class Sink:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_sink, args=(child,), daemon=True)
        self._proc.start()
        self.url = f"http://127.0.0.1:{self._conn.recv()}"

    def counts(self) -> dict[str, int]:
        self._conn.send("counts")
        counts: dict[str, int] = self._conn.recv()
        return counts

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(10)


# -- the three clients -------------------------------------------------------------

Run = Callable[[str, list[str], Path], list[float]]


def _sdk(url: str, numbers: list[str], root: Path) -> list[float]:
    keys = ServerKeyPair.generate(key_id="bench")
    egress = Egress(
        EgressPolicy(allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)
    )
    data_dir = root / str(uuid.uuid4())
    uploader = Uploader(
        Endpoint(url, "bench-app-key", keys.public), data_dir,
        key_store=FileKeyStore(data_dir / "keys"), egress=egress, region="US",
    )
    samples = []
    for number in numbers:
        t0 = time.perf_counter()
        uploader.record_sms(number)
        samples.append(time.perf_counter() - t0)
    if not uploader.flush(300):
        raise RuntimeError("the SDK did not drain")
    uploader.close(5)
    return samples


def _segment(url: str, numbers: list[str], root: Path) -> list[float]:
    from segment.analytics import Client

    client = Client(
        "bench-write-key", host=url, max_queue_size=len(numbers) + 1, sync_mode=False,
        max_retries=1,
    )
    for number in numbers:
        client.track("device-1", "sms", {"number": number})
    client.flush()
    client.shutdown()
    return []


def _posthog(url: str, numbers: list[str], root: Path) -> list[float]:
    from posthog import Posthog

    client = Posthog(
        "bench-api-key", host=url, max_queue_size=len(numbers) + 1, sync_mode=False,
        max_retries=1, disable_geoip=True,
    )
    for number in numbers:
        client.capture("sms", distinct_id="device-1", properties={"number": number})
    client.flush()
    client.shutdown()
    return []


CLIENTS: dict[str, Run] = {"n2net": _sdk, "segment": _segment, "posthog": _posthog}


def _numbers(distinct: int, events: int) -> list[str]:
    pool = [f"+1201{5550000 + i:07d}" if i < 10_000 else f"+1215{5550000 + i:07d}"
            for i in range(distinct)]
    return [pool[i % distinct] for i in range(events)]  # cycling: the LRU worst case


Figures = tuple[float, float, float]


def _measure(
    sink: Sink, run: Run, numbers: list[str], root: Path
) -> tuple[float, float, float, list[float]]:
    before = sink.counts()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    samples = run(sink.url, numbers, root)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    time.sleep(0.2)  # let the sink finish counting the last request
    after = sink.counts()
    n = len(numbers)
    return n / wall, cpu / n * 1000, (after["bytes"] - before["bytes"]) / n, samples


def main() -> None:
    sink = Sink()
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    p99s: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for round_ in range(ROUNDS):
                for workload, (distinct, events) in WORKLOADS.items():
                    numbers = _numbers(distinct, events)
                    names = list(CLIENTS)
                    names = names[round_ % 3 :] + names[: round_ % 3]  # interleave
                    for name in names:
                        rate, cpu, wire, samples = _measure(sink, CLIENTS[name], numbers, root)
                        results.setdefault((name, workload), []).append((rate, cpu, wire))
                        extra = ""
                        if samples:
                            ordered = sorted(samples)
                            p99 = ordered[int(len(ordered) * 0.99)] * 1e6
                            p99s.setdefault(workload, []).append(p99)
                            extra = f"; record_sms p99 {p99:.0f} us while draining"
                        print(f"  round {round_} {workload:5} {name:8} {rate:9,.0f} events/s,"
                              f" {cpu:.3f} CPU s/1k, {wire:6.1f} wire B/event{extra}", flush=True)
    finally:
        sink.stop()
    print("\nmedian of rounds:")
    for workload, (distinct, events) in WORKLOADS.items():
        med: dict[str, Figures] = {}
        for name in CLIENTS:
            runs = results[(name, workload)]
            med[name] = (
                statistics.median(r[0] for r in runs),
                statistics.median(r[1] for r in runs),
                statistics.median(r[2] for r in runs),
            )
        print(f"{workload} ({distinct:,} distinct numbers, {events:,} events):")
        for name, (rate, cpu, wire) in med.items():
            print(f"  {name:8} {rate:9,.0f} events/s  {cpu:.3f} CPU s/1k events"
                  f"  {wire:6.1f} wire B/event")
        ours = med["n2net"]
        for peer in ("segment", "posthog"):
            theirs = med[peer]
            print(f"  n2net / {peer}: throughput {ours[0] / theirs[0]:.2f}x,"
                  f" CPU per event {ours[1] / theirs[1]:.2f}x,"
                  f" wire bytes {ours[2] / theirs[2]:.2f}x")
        p99 = statistics.median(p99s[workload])
        print(f"  record_sms p99 while draining (median): {p99:.0f} us")


if __name__ == "__main__":
    main()
