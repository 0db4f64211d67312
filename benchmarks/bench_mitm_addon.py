"""The mitmproxy addon's cost: 2,000 requests with one finding each, addon vs plain mitmdump.

Starts a plain-HTTP server on loopback and a real ``mitmdump`` (from
``.venv-mitm``, or ``N2NET_MITMDUMP``) in front of it, twice: without the
addon, then with it (``n2net_allow_loopback_http=true`` and a policy that
declares the server, so each request has exactly one finding: a contact's
name in a header). One keep-alive client sends ``N2NET_BENCH_MITM_REQUESTS``
(default 2,000) requests through each and the wall times are compared; the
first and last 200 requests are timed apart, to show the cost per request
does not climb as findings pile up. Skipped, saying why, without mitmdump.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
MITMDUMP = Path(os.environ.get("N2NET_MITMDUMP", REPO / ".venv-mitm" / "bin" / "mitmdump"))
NAME = "Ada Lovelace"


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm and delayed
    # ACKs each response would wait ~40 ms, hiding what the proxy costs.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proxy(folder: Path, options: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [str(MITMDUMP), "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "--set", f"confdir={folder / 'conf'}", *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("mitmdump did not start")


def _run(folder: Path, upstream: int, count: int, options: list[str]) -> list[float]:
    process, port = _proxy(folder, options)
    times: list[float] = []
    try:
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", timeout=30) as client:
            client.get(f"http://127.0.0.1:{upstream}/warm-up")
            for i in range(count):
                started = time.perf_counter()
                response = client.get(f"http://127.0.0.1:{upstream}/r/{i}",
                                      headers={"x-debug": NAME})
                times.append(time.perf_counter() - started)
                assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
    return times


def main() -> None:
    if not MITMDUMP.exists():
        print(f"skipped: mitmdump is not installed at {MITMDUMP} (make .venv-mitm/.installed)")
        return
    count = int(os.environ.get("N2NET_BENCH_MITM_REQUESTS", "2000"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = server.server_address[1]
    with tempfile.TemporaryDirectory(prefix="bench-mitm-") as tmp:
        folder = Path(tmp)
        book, policy = folder / "book.json", folder / "policy.json"
        book.write_text(json.dumps({"contacts": [{"id": "a", "display_name": NAME}]}))
        policy.write_text(json.dumps({"destinations": [
            {"host": "127.0.0.1", "purpose": "n2net_api", "ports": [upstream]}]}))
        plain = _run(folder, upstream, count, [])
        addon = _run(folder, upstream, count, [
            "-s", str(REPO / "n2net_privacy" / "audit" / "mitm_addon.py"),
            "--set", f"n2net_contacts={book}", "--set", f"n2net_policy={policy}",
            "--set", "n2net_allow_loopback_http=true",
            "--set", f"n2net_report={folder / 'report'}",
        ])
        report = json.loads((folder / "report" / "report.json").read_text())
    server.shutdown()
    ms = 1000.0
    print(f"{count} requests, one finding each ({len(report['findings'])} findings reported)")
    for label, times in (("plain mitmdump", plain), ("with the addon", addon)):
        print(f"{label:15s}: {sum(times):6.2f} s, {sum(times) / count * ms:5.2f} ms/request; "
              f"first 200 {sum(times[:200]) / 200 * ms:5.2f} ms, "
              f"last 200 {sum(times[-200:]) / 200 * ms:5.2f} ms")
    print(f"addon / plain: {sum(addon) / sum(plain):.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
