"""The OHTTP gateway checks: the reference gateway passes, each mutant fails its checks."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import WireFormatError
from n2net_privacy.testing.conformance import Report, Verdict
from n2net_privacy.testing.conformance.gateway import (
    GATEWAY_CHECKS,
    GatewayTarget,
    run_gateway_conformance,
)
from n2net_privacy.testing.servers.loopback import read_body, reply
from n2net_privacy.testing.servers.ohttp import KEYS_PATH, OhttpGatewayServer

GATEWAY = ohttp.Gateway([(7, x25519.X25519PrivateKey.generate())])
Route = Callable[[OhttpGatewayServer, BaseHTTPRequestHandler], bool]


class Mutant(OhttpGatewayServer):
    """The reference gateway, with ``defect`` getting the first look at each request.

    A defect that answers returns True; one that read the body puts it back,
    so the reference can read it again.
    """

    def __init__(self, defect: Route) -> None:
        super().__init__(GATEWAY, {}, source_host="127.0.0.1")
        self.defect = defect

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        if not self.defect(self, handler):
            super()._route(handler)


def _body(handler: BaseHTTPRequestHandler) -> bytes:
    body = read_body(handler, 1 << 20) or b""
    handler.rfile = io.BytesIO(body)  # the reference reads it again
    # The connection's reader is gone: answer with Connection: close, so the
    # client does not send its next request into a stream nobody reads.
    handler.close_connection = True
    return body


def keys_as_octet_stream(server: OhttpGatewayServer, handler: BaseHTTPRequestHandler) -> bool:
    if handler.command == "GET" and handler.path == KEYS_PATH:
        reply(handler, 200, GATEWAY.encoded_key_configs(), "application/octet-stream")
        return True
    return False


def no_keys(server: OhttpGatewayServer, handler: BaseHTTPRequestHandler) -> bool:
    if handler.command == "GET":
        reply(handler, 404, b"", "text/plain")
        return True
    return False


def unknown_key_plain_400(server: OhttpGatewayServer, handler: BaseHTTPRequestHandler) -> bool:
    if handler.command != "POST":
        return False
    body = _body(handler)
    if body and body[0] not in {config.key_id for config in GATEWAY.key_configs()}:
        reply(handler, 400, b"bad key", "text/plain")
        return True
    return False


def any_media_type(server: OhttpGatewayServer, handler: BaseHTTPRequestHandler) -> bool:
    del handler.headers["Content-Type"]
    handler.headers["Content-Type"] = ohttp.REQUEST_MEDIA_TYPE
    return False


def malformed_500(server: OhttpGatewayServer, handler: BaseHTTPRequestHandler) -> bool:
    if handler.command != "POST":
        return False
    try:
        GATEWAY.decapsulate(_body(handler))
    except ohttp.KeyConfigMismatchError:
        return False
    except WireFormatError:
        reply(handler, 500, b"", "text/plain")
        return True
    return False


def _run(server: OhttpGatewayServer) -> Report:
    policy = EgressPolicy({Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"})}, test_mode=True)
    with Egress(policy).client(Purpose.OHTTP_RELAY) as client:
        return run_gateway_conformance(GatewayTarget.at(server.gateway_url), client)


def test_the_reference_gateway_passes_every_check() -> None:
    with OhttpGatewayServer(GATEWAY, {}, source_host="127.0.0.1") as server:
        report = _run(server)
    assert [r.name for r in report.results] == [c.name for c in GATEWAY_CHECKS]
    assert all(r.verdict is Verdict.PASSED for r in report.results), report.results
    assert report.results[1].message == "the inner response opened: status 403"


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        (keys_as_octet_stream, {"ohttp-keys-served"}),
        (unknown_key_plain_400, {"ohttp-unknown-key-id"}),
        (any_media_type, {"ohttp-wrong-media-type"}),
        (malformed_500, {"ohttp-malformed-request", "ohttp-tampered-request"}),
    ],
)
def test_a_mutant_gateway_fails_exactly_its_checks(defect: Route, expected: set[str]) -> None:
    with Mutant(defect) as server:
        report = _run(server)
    assert set(report.failed) == expected
    assert not [r for r in report.results if r.verdict is Verdict.SKIPPED]


def test_without_a_key_configuration_the_others_are_skipped_not_failed() -> None:
    with Mutant(no_keys) as server:
        report = _run(server)
    assert report.failed == ("ohttp-keys-served",)
    assert {r.name for r in report.results if r.verdict is Verdict.SKIPPED} == {
        c.name for c in GATEWAY_CHECKS[1:]
    }


def test_the_cli_checks_a_gateway_alone(tmp_path: Path) -> None:
    with OhttpGatewayServer(GATEWAY, {}, source_host="127.0.0.1") as server:
        done = subprocess.run(
            [sys.executable, "-m", "n2net_privacy.cli", "conformance",
             "--ohttp-gateway", server.gateway_url, "--allow-loopback-http", "--json", "-"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [c["name"] for c in report["checks"]] == [c.name for c in GATEWAY_CHECKS]
    assert report["failed"] == 0


def test_the_cli_exits_1_for_a_broken_gateway(tmp_path: Path) -> None:
    with Mutant(unknown_key_plain_400) as server:
        done = subprocess.run(
            [sys.executable, "-m", "n2net_privacy.cli", "conformance",
             "--ohttp-gateway", server.gateway_url, "--allow-loopback-http",
             "--only", "ohttp-unknown-*"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
        )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL ohttp-unknown-key-id: a request under an unknown key id")
