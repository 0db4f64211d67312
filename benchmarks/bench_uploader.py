"""The uploader: record_* latency, end-to-end throughput, and the cost of the SDK.

The reference ingest server runs in its own process (as a real backend
would), over TLS on loopback with a ``trustme`` certificate. Reported:

- ``record_sms`` latency, p50/p99/max, over 20,000 calls to 1,000 distinct
  numbers: with the sender idle, with the normalization cache off (every
  call parses), and while the sender drains at full speed (target p99 <= 1 ms);
- end-to-end throughput over 100,000 events: from the first ``record_sms``
  until the server holds every event (target >= 20,000 events/s), and the
  drain of a 100,000-event backlog after a restart;
- the bare loop: the same SQLite inserts (no encryption) and the same sealed
  POSTs of 500 events with httpx and cryptography's HPKE directly, no SDK;
  and the SDK's throughput as a ratio of it.

Wall-clock time: the pipeline spans two processes and several threads.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import ssl
import statistics
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import trustme
from cryptography.hazmat.primitives import hpke

from n2net_privacy.audit import EgressAuditor
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.testing.synthetic import synthetic_address_book
from n2net_privacy.uploader import Endpoint, QueueLimits
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.wire import ServerKeyPair

APP_KEY = "bench-app-key"
EVENTS = 100_000
LATENCY_CALLS = 20_000
DISTINCT_NUMBERS = 1_000
BATCH = 500


def _serve(conn: Connection, private_hex: str, cert_path: str) -> None:
    """The server process: answer "count" until told to "stop"."""
    keys = ServerKeyPair.from_private_raw("bench", bytes.fromhex(private_hex))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_path)
    with IngestServer(keys, app_key=APP_KEY, tls=tls, capture_bodies=False) as server:
        conn.send(server.url)
        while (message := conn.recv()) != "stop":
            if message == "count":
                conn.send(server.count())


class ServerProcess:
    def __init__(self, keys: ServerKeyPair, cert_path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, keys.private_bytes.hex(), str(cert_path)), daemon=True
        )
        self._process.start()
        self.url: str = self._conn.recv()

    def count(self) -> int:
        self._conn.send("count")
        return int(self._conn.recv())

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)


def _numbers() -> list[str]:
    return [f"+1201555{i:04d}" for i in range(DISTINCT_NUMBERS)]


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e6
    p99 = ordered[int(len(ordered) * 0.99)] * 1e6
    p999 = ordered[int(len(ordered) * 0.999)] * 1e6
    return (
        f"p50 {p50:6.1f} us  p99 {p99:7.1f} us  p99.9 {p999:8.1f} us"
        f"  max {ordered[-1] * 1e6:8.1f} us"
    )


def _auditor(keys: ServerKeyPair) -> EgressAuditor:
    """The QA auditor in record mode, opening every sealed batch with the server key."""
    return EgressAuditor(
        synthetic_address_book(300, seed=5),
        mode="record",
        allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})},
        server_private_key=keys.private_key,
    )


def _uploader(
    url: str,
    keys: ServerKeyPair,
    data_dir: Path,
    client_tls: ssl.SSLContext,
    *,
    auditor: EgressAuditor | None = None,
    **kwargs: object,
) -> Uploader:
    egress = Egress(
        EgressPolicy(allowed_hosts={Purpose.N2NET_API: frozenset({"127.0.0.1"})}),
        verify=client_tls,
        inspectors=[auditor] if auditor is not None else [],
    )
    return Uploader(
        Endpoint(url, APP_KEY, keys.public), data_dir, key_store=FileKeyStore(data_dir / "keys"),
        egress=egress, region="US", **kwargs,
    )


def _latency(url: str, keys: ServerKeyPair, root: Path, tls: ssl.SSLContext, **kw: object) -> str:
    numbers = _numbers()
    with _uploader(url, keys, root / str(uuid.uuid4()), tls, start=False, **kw) as uploader:
        samples = []
        for i in range(LATENCY_CALLS):
            started = time.perf_counter()
            uploader.record_sms(numbers[i % DISTINCT_NUMBERS])
            samples.append(time.perf_counter() - started)
        uploader.close(0)
    return _percentiles(samples)


def _end_to_end(
    server: ServerProcess,
    keys: ServerKeyPair,
    root: Path,
    tls: ssl.SSLContext,
    auditor: EgressAuditor | None = None,
) -> tuple[float, str, float]:
    numbers = _numbers()
    before = server.count()
    uploader = _uploader(server.url, keys, root / "e2e", tls, auditor=auditor)
    samples = []
    started = time.perf_counter()
    for i in range(EVENTS):
        t0 = time.perf_counter()
        uploader.record_sms(numbers[i % DISTINCT_NUMBERS])
        samples.append(time.perf_counter() - t0)
    recorded = time.perf_counter() - started
    if not uploader.flush(300):
        raise RuntimeError("the uploader did not drain")
    elapsed = time.perf_counter() - started
    uploader.close(5)
    if server.count() - before != EVENTS:
        raise RuntimeError("the server does not hold every event")
    print(f"  record phase alone: {EVENTS / recorded:,.0f} events/s", flush=True)
    return EVENTS / elapsed, _percentiles(samples), recorded


def _drain_backlog(
    server: ServerProcess, keys: ServerKeyPair, root: Path, tls: ssl.SSLContext
) -> float:
    numbers = _numbers()
    data_dir = root / "backlog"
    with _uploader(server.url, keys, data_dir, tls, start=False) as offline:
        for i in range(EVENTS):
            offline.record_sms(numbers[i % DISTINCT_NUMBERS])
        offline.close(0)
    before = server.count()
    started = time.perf_counter()
    with _uploader(server.url, keys, data_dir, tls) as online:
        if not online.flush(300):
            raise RuntimeError("the backlog did not drain")
    elapsed = time.perf_counter() - started
    if server.count() - before != EVENTS:
        raise RuntimeError("the server does not hold every event")
    return EVENTS / elapsed


def _bare_loop(
    server: ServerProcess, keys: ServerKeyPair, root: Path, tls: ssl.SSLContext
) -> float:
    """The same inserts and sealed POSTs, by hand: no normalization, no at-rest crypto."""
    numbers = _numbers()
    before = server.count()
    db = sqlite3.connect(root / "bare.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE q (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    url = server.url + "/v1/events"
    started = time.perf_counter()
    for i in range(EVENTS):
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = (
            f'{{"id":"{uuid.uuid4()}","type":"sms","number":"{numbers[i % DISTINCT_NUMBERS]}",'
            f'"at":"{at}"}}'
        )
        db.execute("INSERT INTO q (body) VALUES (?)", (event.encode(),))
    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
    select = "SELECT seq, body FROM q ORDER BY seq LIMIT ?"
    with httpx.Client(verify=tls) as client:
        while rows := db.execute(select, (BATCH,)).fetchall():
            events = b",".join(row[1] for row in rows)
            plaintext = b'{"schema":"n2net.events/1","events":[' + events + b"]}"
            body = suite.encrypt(plaintext, keys.public.public_key, info=b"n2net/events/v1")
            headers = {
                "Content-Type": "application/n2net-sealed",
                "Authorization": f"Bearer {APP_KEY}",
                "Idempotency-Key": str(uuid.uuid4()),
                "N2Net-Key-Id": keys.key_id,
            }
            reply = client.post(url, content=body, headers=headers)
            if reply.status_code != 200:
                raise RuntimeError(f"bare loop got {reply.status_code}")
            db.execute("DELETE FROM q WHERE seq <= ?", (rows[-1][0],))
    elapsed = time.perf_counter() - started
    db.close()
    if server.count() - before != EVENTS:
        raise RuntimeError("the server does not hold every bare-loop event")
    return EVENTS / elapsed


def main() -> None:
    keys = ServerKeyPair.generate(key_id="bench")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cert_path = root / "server.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
        server = ServerProcess(keys, cert_path)
        try:
            print(f"record_sms, sender idle, {LATENCY_CALLS:,} calls:")
            print("  warm normalization cache: " + _latency(server.url, keys, root, client_tls))
            cold = _latency(
                server.url, keys, root, client_tls, limits=QueueLimits(normalize_cache_size=0)
            )
            print("  cache off (every call parses): " + cold, flush=True)
            sdk_rates, bare_rates, audited_rates = [], [], []
            for round_ in range(3):
                rate, during, _ = _end_to_end(server, keys, root / f"r{round_}", client_tls)
                sdk_rates.append(rate)
                print(f"  round {round_}: end-to-end {rate:,.0f} events/s;"
                      f" record_sms while draining: {during}", flush=True)
                bare_rates.append(_bare_loop(server, keys, root / f"r{round_}", client_tls))
                print(f"  round {round_}: bare loop {bare_rates[-1]:,.0f} events/s", flush=True)
                auditor = _auditor(keys)
                audited, _, _ = _end_to_end(
                    server, keys, root / f"a{round_}", client_tls, auditor=auditor
                )
                if auditor.findings():
                    raise RuntimeError("the auditor flagged the real uploader")
                audited_rates.append(audited)
                print(f"  round {round_}: with the auditor (record mode) {audited:,.0f} events/s",
                      flush=True)
            backlog = _drain_backlog(server, keys, root, client_tls)
        finally:
            server.stop()
    sdk, bare = statistics.median(sdk_rates), statistics.median(bare_rates)
    print(f"end-to-end, {EVENTS:,} events (median of 3): {sdk:,.0f} events/s (target >= 20,000)")
    print(f"backlog of {EVENTS:,} drained after a restart: {backlog:,.0f} events/s")
    print(f"bare loop (sqlite + httpx, no SDK): {bare:,.0f} events/s")
    print(f"SDK / bare loop: {sdk / bare:.2f}")
    audited = statistics.median(audited_rates)
    print(f"with the egress auditor in record mode: {audited:,.0f} events/s; "
          f"overhead {sdk / audited - 1:+.1%} (target <= 10%)")


if __name__ == "__main__":
    main()
