"""The uploader over Oblivious HTTP against the direct path: the cost of unlinkability.

Three servers, each in its own process as in production: the reference
ingest, the OHTTP gateway (forwarding to the ingest) and the relay
(forwarding to the gateway), each hop from its own loopback address. The
same number of events goes through the direct path and the OHTTP path,
interleaved over several rounds; reported are events/s from the first
``record_sms`` until the ingest holds every event, and the ratio (target:
OHTTP >= 0.5x direct). Plain HTTP on loopback, so the figure isolates the
OHTTP work (BHTTP, padding to size buckets, HPKE, the extra two hops), not
TLS. The OHTTP path runs as an app would: the gateway key pinned (with a
backup), inner requests and answers padded.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.testing.file_keystore import FileKeyStore
from n2net_privacy.uploader import Endpoint
from n2net_privacy.uploader.recorder import Uploader
from n2net_privacy.uploader.send.sender import SenderConfig
from n2net_privacy.uploader.wire import ServerKeyPair

APP_KEY = "bench-app-key"
EVENTS = 20_000
ROUNDS = 3


def _ingest(conn: Connection, private_hex: str) -> None:
    from n2net_privacy.testing.servers.ingest import IngestServer

    keys = ServerKeyPair.from_private_raw("bench", bytes.fromhex(private_hex))
    with IngestServer(keys, app_key=APP_KEY, capture_bodies=False) as server:
        conn.send(server.url)
        while (message := conn.recv()) != "stop":
            conn.send(server.count() if message == "count" else None)


def _pins(key_configs: bytes) -> object:
    import datetime as dt

    from cryptography.hazmat.primitives.asymmetric import x25519

    from n2net_privacy import ohttp
    from n2net_privacy.egress import PinSet

    backup = ohttp.Gateway([(2, x25519.X25519PrivateKey.generate())]).key_configs()
    pins = [ohttp.key_config_pin(c) for c in ohttp.KeyConfig.decode_list(key_configs)]
    return PinSet([*pins, ohttp.key_config_pin(backup[0])], expires=dt.date(2099, 1, 1))


def _gateway(conn: Connection, ingest_url: str, key_hex: str) -> None:
    from n2net_privacy import ohttp
    from n2net_privacy.testing.servers.ohttp import OhttpGatewayServer

    gateway = ohttp.Gateway([(1, bytes.fromhex(key_hex))])
    with OhttpGatewayServer(gateway, {"api.n2net.com": ingest_url}) as server:
        conn.send((server.gateway_url, gateway.encoded_key_configs()))
        conn.recv()


def _relay(conn: Connection, gateway_url: str) -> None:
    from n2net_privacy.testing.servers.ohttp import OhttpRelay

    with OhttpRelay(gateway_url) as relay:
        conn.send(relay.url)
        conn.recv()


class Child:
    def __init__(self, target: object, *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        self.hello = self.conn.recv()

    def ask(self, message: str) -> object:
        self.conn.send(message)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


def _run(url: str, keys: ServerKeyPair, ingest: Child, oblivious: object | None) -> float:
    from n2net_privacy.ohttp.client import ObliviousConfig

    hosts = {Purpose.N2NET_API: frozenset({"127.0.0.1", "api.n2net.com"}),
             Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"})}
    before = int(ingest.ask("count"))  # type: ignore[call-overload]
    with tempfile.TemporaryDirectory() as tmp:
        uploader = Uploader(
            Endpoint(
                url,
                APP_KEY,
                keys.public,
                oblivious=oblivious if isinstance(oblivious, ObliviousConfig) else None,
            ),
            Path(tmp), key_store=FileKeyStore(Path(tmp) / "keys"),
            egress=Egress(EgressPolicy(allowed_hosts=hosts, test_mode=True)),
            sending=SenderConfig(linger_s=0.05),
        )
        started = time.perf_counter()
        for n in range(EVENTS):
            uploader.record_sms(f"+1202555{n % 500:04d}")
        assert uploader.flush(300)
        while int(ingest.ask("count")) < before + EVENTS:  # type: ignore[call-overload]
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        uploader.close(5)
    return EVENTS / elapsed


def main() -> None:
    from cryptography.hazmat.primitives.asymmetric import x25519

    from n2net_privacy.ohttp.client import ObliviousConfig

    keys = ServerKeyPair.generate(key_id="bench")
    ingest = Child(_ingest, keys.private_bytes.hex())
    gateway_key = x25519.X25519PrivateKey.generate().private_bytes_raw().hex()
    gateway = Child(_gateway, ingest.hello, gateway_key)
    gateway_url, key_configs = gateway.hello  # type: ignore[misc]
    relay = Child(_relay, gateway_url)
    config = ObliviousConfig(
        relay_url=str(relay.hello),
        key_config=key_configs,
        key_pins=_pins(key_configs),  # type: ignore[arg-type]
    )
    direct, oblivious = [], []
    try:
        for _ in range(ROUNDS):
            direct.append(_run(str(ingest.hello), keys, ingest, None))
            oblivious.append(_run("https://api.n2net.com", keys, ingest, config))
    finally:
        for child in (relay, gateway, ingest):
            child.stop()
    d, o = statistics.median(direct), statistics.median(oblivious)
    print(f"direct: {d:,.0f} events/s (rounds: {', '.join(f'{x:,.0f}' for x in direct)})")
    print(f"OHTTP:  {o:,.0f} events/s (rounds: {', '.join(f'{x:,.0f}' for x in oblivious)})")
    print(f"ratio OHTTP/direct: {o / d:.2f} (target >= 0.5)")
    print("bytes per batch on the relay's wire, per bucket: docs/ohttp.md (Padding)")
