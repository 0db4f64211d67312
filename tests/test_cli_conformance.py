"""``n2net-privacy conformance``: the real command, in a subprocess, against loopback servers."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from n2net_privacy.testing import IngestServer
from n2net_privacy.testing.conformance import CHECKS
from n2net_privacy.uploader import ServerKeyPair

APP_KEY = "app-key-cli"
K1 = ServerKeyPair.generate("x25519", key_id="k1")
K2 = ServerKeyPair.generate("mlkem768x25519", key_id="k2")


def conformance(
    *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "N2NET_APP_KEY"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "n2net_privacy.cli", "conformance", *argv],
        capture_output=True, text=True, timeout=120, cwd=cwd, check=False, env=environment,
    )


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def keys(tmp_path: Path) -> list[str]:
    """k1 as keygen's PEM file, k2 as base64 of the raw public key: both forms."""
    (tmp_path / "k1.pub.pem").write_bytes(K1.public_pem())
    return ["--server-key", "k1=@k1.pub.pem",
            "--server-key", f"k2={base64.b64encode(K2.public_bytes).decode()}"]


@pytest.fixture
def reference(ca: trustme.CA, tmp_path: Path) -> Iterator[IngestServer]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with IngestServer([K1, K2], app_key=APP_KEY, tls=server_ctx) as server:
        yield server


def test_the_reference_ingest_passes_with_junit_and_json(
    reference: IngestServer, keys: list[str], tmp_path: Path
) -> None:
    done = conformance(
        reference.url, "--app-key", APP_KEY, *keys, "--ca", "ca.pem",
        "--junit", "reports/conformance.xml", "--json", "conformance.json", cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "PASS valid-batch-accepted"
    assert "0 failed, 1 skipped" in done.stdout
    suite = ET.parse(tmp_path / "reports/conformance.xml").getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(CHECKS) >= 15
    assert suite.get("failures") == "0" and suite.get("tests") == str(len(cases))
    assert [case.get("name") for case in cases if case.find("skipped") is not None] == [
        "retry-after-parseable"
    ]
    report = json.loads((tmp_path / "conformance.json").read_text())
    assert (report["passed"], report["failed"], report["skipped"]) == (len(CHECKS) - 1, 0, 1)
    for written in ("conformance.json", "reports/conformance.xml"):
        assert APP_KEY not in (tmp_path / written).read_text()  # reports never hold the key
    assert reference.count() > 20


def test_only_and_junit_on_stdout(
    reference: IngestServer, keys: list[str], tmp_path: Path
) -> None:
    done = conformance(
        reference.url, "--app-key", APP_KEY, *keys, "--ca", "ca.pem",
        "--only", "idempotency-*", "--junit", "-", cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    root = ET.fromstring(done.stdout)  # stdout holds the XML alone
    assert [c.get("name") for c in root.iter("testcase")] == [
        "idempotency-replay", "idempotency-key-conflict",
    ]
    assert "PASS idempotency-replay" in done.stderr


def test_the_app_key_may_come_from_the_environment(
    reference: IngestServer, keys: list[str], tmp_path: Path
) -> None:
    done = conformance(
        reference.url, *keys, "--ca", "ca.pem", "--only", "valid-batch-accepted",
        cwd=tmp_path, env={"N2NET_APP_KEY": APP_KEY},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASS valid-batch-accepted")
    assert conformance(reference.url, *keys, cwd=tmp_path).returncode == 2  # no key at all


class _Empty200(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        length = self.headers.get("content-length")
        if length is not None:
            self.rfile.read(int(length))
        else:
            self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def empty_200() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Empty200)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_server_answering_200_with_an_empty_reply_to_everything_exits_1(
    empty_200: str, keys: list[str], tmp_path: Path
) -> None:
    done = conformance(
        empty_200, "--app-key", APP_KEY, *keys, "--allow-loopback-http",
        "--oversize-bytes", "65536", "--json", "-", cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    verdicts = {check["name"]: check["verdict"] for check in report["checks"]}
    assert verdicts["valid-batch-accepted"] == "failed"
    assert verdicts["unknown-key-id"] == "failed"
    assert verdicts["tls-https-only"] == "skipped"
    assert "FAIL valid-batch-accepted: a valid sealed batch: the 200 reply" in done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["http://127.0.0.1:9/", "--server-key", "k1=@k1.pub.pem"], "plain http://"),
        (["http://ingest.example/", "--allow-loopback-http", "--server-key", "k1=@k1.pub.pem"],
         "plain http://"),
        (["ftp://127.0.0.1/", "--server-key", "k1=@k1.pub.pem"], "must be https://"),
        (["https://u:p@127.0.0.1/", "--server-key", "k1=@k1.pub.pem"], "user info"),
        (["https://127.0.0.1/", "--server-key", "k1=@missing.pem"], "cannot read"),
        (["https://127.0.0.1/", "--server-key", "k1=not-base64!"], "not valid base64"),
        (["https://127.0.0.1/", "--server-key", "k1"], "id=base64 or id=@file.pem"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem",
          "--server-key", "k1=@k1.pub.pem"], "distinct key ids"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem", "--only", "nope"],
         "matches no check"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem", "--junit", "-", "--json", "-"],
         "both write to stdout"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem", "--ca", "missing.pem"],
         "--ca: cannot load"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem", "--junit", "."],
         "is a directory"),
        ([], "give the ingest's URL, --ohttp-gateway URL, or both"),
        (["--ohttp-gateway", "https://127.0.0.1/gateway", "--server-key", "k1=@k1.pub.pem"],
         "goes with the ingest's URL"),
        (["https://127.0.0.1/"], "--server-key: give at least one key"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem", "--only", "ohttp-*"],
         "matches no check"),
        (["https://127.0.0.1/", "--server-key", "k1=@k1.pub.pem",
          "--ohttp-gateway", "http://gateway.example/gateway"], "plain http://"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "k1.pub.pem").write_bytes(K1.public_pem())
    app_key = ["--app-key", APP_KEY] if argv and not argv[0].startswith("--") else []
    done = conformance(*argv, *app_key, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("n2net-privacy conformance: error: ")
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stdout == ""


def test_a_report_path_that_cannot_be_written_is_exit_2(
    reference: IngestServer, keys: list[str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    done = conformance(
        reference.url, "--app-key", APP_KEY, *keys, "--ca", "ca.pem",
        "--only", "valid-batch-accepted", "--json", "file/report.json", cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "cannot write file/report.json" in done.stderr


def test_help_names_the_exit_codes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "n2net_privacy.cli", "conformance", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0
    for text in ("--server-key", "--junit", "--json", "--only", "1  at least one check failed"):
        assert text in done.stdout
