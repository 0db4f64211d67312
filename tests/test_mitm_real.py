"""The mitmproxy addon in a real ``mitmdump``, on loopback, with a bounded lifetime.

mitmproxy 12 needs Python 3.12+, so ``make test`` installs it in its own
environment (``.venv-mitm``) where such a Python exists; these tests find
``mitmdump`` there (or through ``N2NET_MITMDUMP``) and skip with a message
otherwise. The test process drives httpx through the proxy, trusting the CA
that mitmproxy generates, to a loopback TLS server whose CA mitmproxy trusts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support import wait_until

from n2net_privacy.audit.capture import CaptureAudit
from n2net_privacy.audit.corpus.leaky_client import LeakyRequest, build_leaky_request, leak_matrix
from n2net_privacy.audit.corpus.redteam import REDTEAM_BOOK, redteam_matrix
from n2net_privacy.audit.destinations import DestinationPolicy
from n2net_privacy.audit.har import HarExchange
from n2net_privacy.cli.audit_har import run as audit_har
from n2net_privacy.contacts import Contact

trustme = pytest.importorskip("trustme")

REPO = Path(__file__).resolve().parents[1]
MITMDUMP = Path(os.environ.get("N2NET_MITMDUMP", REPO / ".venv-mitm" / "bin" / "mitmdump"))
pytestmark = pytest.mark.skipif(
    not MITMDUMP.exists(),
    reason=f"mitmproxy is not installed at {MITMDUMP}: it needs Python 3.12+ (the 'mitm' extra); "
    "`make test` builds .venv-mitm where python3.12 or python3.13 exists",
)
LIFETIME = 120.0  # seconds: mitmdump is killed after this whatever happens
# A lying Content-Length breaks HTTP/1.1 framing: a proxy waits for bytes that never
# come. The SDK's egress refuses the request before the wire, so only in-process applies.
NOT_THROUGH_A_PROXY = {"phone/in-content-length"}
ANN = REDTEAM_BOOK[0]


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UpstreamServer

    def _any(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.seen.append(self.path)
        # A server that sends a contact back proves the contact left the device before.
        body = ANN.display_name.encode() if self.path.startswith("/echo-pii") else b"ok"
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._any
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _UpstreamServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Upstream)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.seen: list[str] = []
        self.lock = threading.Lock()


@dataclass
class Proxy:
    port: int
    confdir: Path
    report_dir: Path
    har: Path
    process: subprocess.Popen[bytes]

    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.confdir / "mitmproxy-ca-cert.pem"))
        return httpx.Client(proxy=f"http://127.0.0.1:{self.port}", verify=context, timeout=30)

    def stop(self) -> dict[str, Any]:
        """SIGINT: mitmproxy runs the addon's done() (the report) and writes the HAR."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return json.loads((self.report_dir / "report.json").read_text())


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[_UpstreamServer, Any]]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = _UpstreamServer(context)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server, ca
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def start_proxy(
    tmp: Path,
    ca: Any,
    book: Path,
    policy: Path,
    *,
    block: bool = False,
    gravatar: bool = True,
    options: tuple[str, ...] = (),
) -> Proxy:
    ca_file = tmp / "upstream-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    addon = REPO / "n2net_privacy" / "audit" / "mitm_addon.py"
    port = _free_port()
    confdir, report_dir, har = tmp / "mitm-conf", tmp / "mitm-report", tmp / "capture.har"
    log = (tmp / "mitmdump.log").open("wb")
    process = subprocess.Popen(
        [
            "timeout",
            "-s",
            "KILL",
            str(int(LIFETIME)),
            str(MITMDUMP),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--set",
            f"confdir={confdir}",
            "--set",
            f"ssl_verify_upstream_trusted_ca={ca_file}",
            "--set",
            f"hardump={har}",
            "-s",
            str(addon),
            "--set",
            f"n2net_contacts={book}",
            "--set",
            f"n2net_policy={policy}",
            "--set",
            f"n2net_report={report_dir}",
            "--set",
            f"n2net_block={'true' if block else 'false'}",
            "--set",
            f"n2net_gravatar={'true' if gravatar else 'false'}",
            *(arg for option in options for arg in ("--set", option)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=False,
    )
    log.close()

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"mitmdump exited: {(tmp / 'mitmdump.log').read_text()[-2000:]}")
        return (confdir / "mitmproxy-ca-cert.pem").exists() and _accepts(port)

    if wait_until(listening, timeout=60, interval=0.1):
        return Proxy(port, confdir, report_dir, har, process)
    process.kill()
    raise AssertionError("mitmdump did not start listening within 60 s")


def _book_file(tmp: Path, contacts: tuple[Contact, ...]) -> Path:
    path = tmp / "book.json"
    path.write_text(json.dumps({"contacts": [c.model_dump(mode="json") for c in contacts]}))
    return path


def _policy_file(tmp: Path, *ports: int) -> Path:
    path = tmp / "policy.json"
    path.write_text(
        json.dumps(
            {"destinations": [{"host": "127.0.0.1", "purpose": "n2net_api", "ports": list(ports)}]}
        )
    )
    return path


def _exchange(index: int, request: LeakyRequest) -> HarExchange:
    return HarExchange(
        index,
        request.method,
        request.url,
        tuple(request.headers.items()),
        (),
        request.content,
        200,
        (),
        b"",
        "",
    )


def _cells(base: str) -> list[tuple[str, LeakyRequest]]:
    cells: list[tuple[str, LeakyRequest]] = []
    for leak in leak_matrix():
        request = build_leaky_request(
            leak,
            email=ANN.emails[0],
            name=ANN.display_name,
            number=ANN.phones[0].number,
            base_url=base,
        )
        cells.append((str(leak), request))
    for red in redteam_matrix():
        if red.name in NOT_THROUGH_A_PROXY:
            continue
        built = red.build()
        url = built.url.replace("https://api.n2net.com", base).replace("https://gravatar.com", base)
        cells.append((red.name, LeakyRequest(built.method, url, built.headers, built.content)))
    return cells


def _by_request(findings: list[dict[str, Any]]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for f in findings:
        out.setdefault(int(f["request_id"]), set()).add(f["rule"])
    return out


def test_the_leak_matrix_through_mitmdump_is_caught_cell_for_cell(
    tmp_path: Path, upstream: Any
) -> None:
    server, ca = upstream
    port = server.server_address[1]
    base = f"https://127.0.0.1:{port}"
    book, policy = _book_file(tmp_path, REDTEAM_BOOK), _policy_file(tmp_path, port)
    cells = _cells(base)
    expected = CaptureAudit(REDTEAM_BOOK, DestinationPolicy.load(policy), gravatar_enabled=False)
    for index, (_, request) in enumerate(cells):
        expected.audit(_exchange(index, request))
    in_process = _by_request([f.to_dict() for f in expected.findings()])

    proxy = start_proxy(tmp_path, ca, book, policy, gravatar=False)
    try:
        with proxy.client() as client:
            for _, request in cells:
                client.request(
                    request.method,
                    request.url,
                    headers=dict(request.headers),
                    content=request.content,
                )
    finally:
        report = proxy.stop()
    live = _by_request(report["findings"])
    for index, (name, _) in enumerate(cells):
        assert live.get(index + 1, set()) == in_process.get(index + 1, set()), name
        assert live.get(index + 1), f"{name}: not caught through mitmdump"

    # mitmproxy's own HAR export of the same session, audited, finds the same.
    assert proxy.har.exists()
    out = tmp_path / "har"
    code = audit_har(
        proxy.har,
        contacts=book,
        policy=policy,
        gravatar_enabled=False,
        json_path=out / "r.json",
        html_path=out / "r.html",
        stdout=_Null(),
        stderr=_Null(),
    )
    assert code == 1
    from_har = _by_request(json.loads((out / "r.json").read_text())["findings"])

    # savehar writes request bodies as text it has already decompressed, so the
    # body over 16 MiB *after* decompression is no longer a compressed body there.
    def leaks(found: dict[int, set[str]]) -> dict[int, set[str]]:
        skip = {"audit.not_inspected"}
        return {k: v - skip for k, v in found.items() if v - skip}

    # savehar also writes the URL from the Host header, so the Host-header cell goes,
    # in the HAR, to the leaky host itself: undeclared there, on top of the same leak.
    names = [name for name, _ in cells]
    host_cell = names.index("phone/in-the-host-header") + 1
    assert from_har[host_cell] - live[host_cell] == {"destination.undeclared"}
    from_har[host_cell] = live[host_cell]
    assert leaks(from_har) == leaks(live)


def test_block_mode_answers_451_and_the_server_never_sees_the_leak(
    tmp_path: Path, upstream: Any
) -> None:
    server, ca = upstream
    port = server.server_address[1]
    base = f"https://127.0.0.1:{port}"
    book, policy = _book_file(tmp_path, REDTEAM_BOOK), _policy_file(tmp_path, port)
    proxy = start_proxy(tmp_path, ca, book, policy, block=True)
    try:
        with proxy.client() as client:
            clean = client.get(f"{base}/clean-{port}")
            leaky = client.get(f"{base}/leak-{port}", headers={"x-debug": ANN.display_name})
    finally:
        report = proxy.stop()
    assert clean.status_code == 200 and clean.text == "ok"
    assert leaky.status_code == 451 and leaky.headers["x-n2net-privacy"] == "blocked"
    with server.lock:
        seen = list(server.seen)
    assert f"/clean-{port}" in seen and f"/leak-{port}" not in seen
    assert [f["rule"] for f in report["findings"]] == ["pii.name"]
    outcomes = {r["id"]: (r["status"], r["outcome"]) for r in report["requests"]}
    assert outcomes == {1: (200, "sent"), 2: (451, "blocked")}


def test_the_addon_holds_sdk_traffic_to_a_privacy_manifest(
    tmp_path: Path, upstream: Any
) -> None:
    from n2net_privacy.manifest import ManifestConfig, ios_plist

    server, ca = upstream
    port = server.server_address[1]
    book, policy = _book_file(tmp_path, REDTEAM_BOOK), _policy_file(tmp_path, port)
    manifest = tmp_path / "PrivacyInfo.xcprivacy"
    manifest.write_bytes(ios_plist(ManifestConfig(uploader=False)))
    proxy = start_proxy(tmp_path, ca, book, policy, options=(f"n2net_manifest={manifest}",))
    try:
        with proxy.client() as client:
            assert client.get(f"https://127.0.0.1:{port}/v1/ping").status_code == 200
    finally:
        report = proxy.stop()
    assert [(f["rule"], f["detail"]) for f in report["findings"]] == [
        ("manifest.undeclared", "destination n2net_api is outside the manifest's data flows")
    ]
    assert report["manifest"]["declared_not_observed"] == [
        "NSPrivacyCollectedDataTypeEmailAddress", "NSPrivacyCollectedDataTypeContacts"
    ]


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def isatty(self) -> bool:
        return False


class _ReverseProxies:
    """``route`` for the scenario runner and the demo: one mitmdump per loopback server.

    Each runs in reverse mode in front of its server and writes mitmproxy's own
    HAR of everything that passed when it stops.
    """

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.processes: list[subprocess.Popen[bytes]] = []
        self.hars: list[Path] = []
        self.purposes: dict[int, str] = {}
        self.fronts: dict[str, str] = {}

    def __call__(self, url: str) -> str:
        origin = "/".join(url.split("/")[:3])
        if origin in self.fronts:
            return url.replace(origin, self.fronts[origin], 1)
        upstream_port = int(origin.rsplit(":", 1)[1])
        self.purposes[upstream_port] = "gravatar" if "/avatar/" in url else "n2net_api"
        port = _free_port()
        har = self.tmp / f"reverse-{upstream_port}.har"
        process = subprocess.Popen(
            [
                "timeout",
                "-s",
                "KILL",
                str(int(LIFETIME)),
                str(MITMDUMP),
                "--mode",
                f"reverse:{origin}@127.0.0.1:{port}",
                "--set",
                f"confdir={self.tmp / 'mitm-conf'}",
                "--set",
                f"hardump={har}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        self.hars.append(har)
        if wait_until(lambda: process.poll() is not None or _accepts(port), timeout=60,
                      interval=0.1) and process.poll() is None:
            self.fronts[origin] = f"http://127.0.0.1:{port}"
            return url.replace(origin, self.fronts[origin], 1)
        raise AssertionError(f"mitmdump in reverse mode for {origin} did not start")

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def policy(self) -> Path:
        path = self.tmp / "lab-policy.json"
        destinations = [
            {"host": "127.0.0.1", "purpose": purpose, "ports": [port]}
            for port, purpose in self.purposes.items()
        ]
        path.write_text(json.dumps({"destinations": destinations}))
        return path

    def audit(self, book: Path) -> list[dict[str, Any]]:
        findings: list[dict[str, Any]] = []
        for har in self.hars:
            assert har.exists(), har
            out = har.with_suffix("")
            code = audit_har(
                har,
                contacts=book,
                policy=self.policy(),
                allow_loopback_http=True,
                json_path=out / "r.json",
                html_path=out / "r.html",
                stdout=_Null(),
                stderr=_Null(),
            )
            assert code in (0, 1), har
            findings += json.loads((out / "r.json").read_text())["findings"]
        return findings


def _what(findings: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted((f["rule"], f["method"], f["path"], f["place"]) for f in findings)


@pytest.mark.parametrize("example", ["clean", "leaky"])
def test_a_scenario_through_mitmdump_gives_the_same_findings_as_audit(
    tmp_path: Path, example: str
) -> None:
    from n2net_privacy.scenario.loader import load_scenario
    from n2net_privacy.scenario.runner import run_scenario

    loaded = load_scenario(REPO / "examples" / "scenarios" / f"{example}.json")
    in_process = run_scenario(loaded)
    proxies = _ReverseProxies(tmp_path)
    try:
        run_scenario(loaded, route=proxies)
    finally:
        proxies.stop()
    book = _book_file(tmp_path, loaded.book)
    from_har = proxies.audit(book)
    # The sealed event bodies are opened only in-process (the server's key):
    # events.* rules cannot be seen in any capture.
    expected = [f for f in in_process.to_dict()["findings"] if not f["rule"].startswith("events.")]
    assert _what(from_har) == _what(expected)
    assert bool(from_har) == (example == "leaky")


def test_the_demo_through_mitmdump_has_no_findings(tmp_path: Path) -> None:
    import io

    from n2net_privacy.demo import run_demo
    from n2net_privacy.testing.synthetic import synthetic_address_book

    proxies = _ReverseProxies(tmp_path)
    try:
        assert run_demo(io.StringIO(), contacts=400, seed=2026, route=proxies) == 0
    finally:
        proxies.stop()
    assert len(proxies.hars) == 2
    book = _book_file(tmp_path, tuple(synthetic_address_book(400, seed=2026)))
    assert proxies.audit(book) == []


def test_a_response_leak_and_a_streamed_body_are_in_the_report(
    tmp_path: Path, upstream: Any
) -> None:
    server, ca = upstream
    port = server.server_address[1]
    base = f"https://127.0.0.1:{port}"
    book, policy = _book_file(tmp_path, REDTEAM_BOOK), _policy_file(tmp_path, port)
    proxy = start_proxy(tmp_path, ca, book, policy, options=("stream_large_bodies=1k",))
    try:
        with proxy.client() as client:
            assert client.get(f"{base}/echo-pii").text == ANN.display_name
            # Over 1 KiB: mitmproxy streams it through and never holds it.
            big = client.post(f"{base}/upload", content=b"x" * 8192,
                              headers={"content-type": "application/octet-stream"})
            assert big.status_code == 200
    finally:
        report = proxy.stop()
    found = sorted((f["request_id"], f["rule"], f["place"]) for f in report["findings"])
    assert found == [
        (1, "pii.name", "response.body"),
        (2, "audit.not_inspected", "body"),
    ]


class _PlainLoopback(ThreadingHTTPServer):
    """A plain-HTTP lab server: ``ok`` to any request, and a WebSocket echo on ``/ws``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PlainHandler)


class _PlainHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.headers.get("upgrade", "").lower() != "websocket":
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        accept = base64.b64encode(
            hashlib.sha1((self.headers["sec-websocket-key"] + _WS_GUID).encode()).digest()
        ).decode()
        self.send_response(101)
        self.send_header("upgrade", "websocket")
        self.send_header("connection", "Upgrade")
        self.send_header("sec-websocket-accept", accept)
        self.end_headers()
        while True:
            opcode, payload = _read_frame(self.rfile)
            self.wfile.write(_frame(opcode, payload, mask=False))  # echo, close included
            if opcode == _WS_CLOSE:
                self.close_connection = True
                return

    def log_message(self, format: str, *args: Any) -> None:
        pass


_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"  # RFC 6455 §1.3
_WS_TEXT, _WS_CLOSE = 0x1, 0x8


def _frame(opcode: int, payload: bytes, *, mask: bool) -> bytes:
    """One final RFC 6455 frame; a client masks, a server does not (§5.3)."""
    head = bytes([0x80 | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    else:
        head += bytes([bit | 126]) + length.to_bytes(2, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def _read_frame(stream: Any) -> tuple[int, bytes]:
    first, second = stream.read(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(stream.read(2), "big")
    elif length == 127:
        length = int.from_bytes(stream.read(8), "big")
    key = stream.read(4) if second & 0x80 else b""
    payload = stream.read(length)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, payload


def test_websocket_frames_are_audited_with_their_direction_and_loopback_http_is_a_lab(
    tmp_path: Path, upstream: Any
) -> None:
    _, ca = upstream
    lab = _PlainLoopback()
    threading.Thread(target=lab.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port = lab.server_address[1]
    book, policy = _book_file(tmp_path, REDTEAM_BOOK), _policy_file(tmp_path, port)
    proxy = start_proxy(
        tmp_path, ca, book, policy, block=True, options=("n2net_allow_loopback_http=true",)
    )
    try:
        # Plain HTTP to loopback is a lab, not a leak: not answered 451.
        with httpx.Client(proxy=f"http://127.0.0.1:{proxy.port}", timeout=30) as client:
            assert client.get(f"http://127.0.0.1:{port}/clean").text == "ok"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
            stream = sock.makefile("rwb")
            key = base64.b64encode(os.urandom(16)).decode()
            stream.write(
                f"GET http://127.0.0.1:{port}/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            stream.flush()
            assert stream.readline().split()[1] == b"101"
            while stream.readline() not in (b"\r\n", b""):
                pass
            stream.write(_frame(_WS_TEXT, b'{"status": "online"}', mask=True))
            stream.flush()
            assert _read_frame(stream) == (_WS_TEXT, b'{"status": "online"}')
            # In block mode the leaking frame is dropped: the echo server never gets it.
            leak = json.dumps({"contact": ANN.display_name}).encode()
            stream.write(_frame(_WS_TEXT, leak, mask=True))
            stream.write(_frame(_WS_CLOSE, b"", mask=True))
            stream.flush()
            assert _read_frame(stream)[0] == _WS_CLOSE
    finally:
        report = proxy.stop()
        lab.shutdown()
        lab.server_close()
    found = sorted((f["request_id"], f["rule"], f["place"]) for f in report["findings"])
    assert found == [(2, "pii.name", "websocket.sent[2].body:$.contact")]
