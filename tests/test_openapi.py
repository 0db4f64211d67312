"""The OpenAPI 3.1 document of POST /v1/events: valid, and true to the reference server.

Every reply below is a real one from :class:`IngestServer` on 127.0.0.1; each
is checked against the documented response for its status (content type,
body schema, declared headers), and the test fails if the document lists a
status or ``error`` code that the server never produced, or the server
produced one that the document does not list.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from n2net_privacy.cli import main
from n2net_privacy.cli.schema import run
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.openapi import ERROR_CODES, openapi_document
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing import IngestServer
from n2net_privacy.uploader import Endpoint, Uploader
from n2net_privacy.uploader.wire import (
    CONTENT_TYPE,
    EVENTS_PATH,
    EventBatch,
    ServerKeyPair,
    WireEvent,
    encode_batch,
    json_schema,
    request_headers,
    seal,
)

APP_KEY = "app-key-1"
KEY = ServerKeyPair.generate("x25519", key_id="k1")
AT = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)
DOC = openapi_document()
OPERATION = DOC["paths"][EVENTS_PATH]["post"]


def _batch(n: int = 2) -> bytes:
    return encode_batch(EventBatch.of(
        [WireEvent.call(uuid.uuid4(), "+12025550143", AT, 30) for _ in range(n)]
    ))


def _documented(status: int) -> tuple[str, dict[str, Any]]:
    responses = OPERATION["responses"]
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in responses:
            return key, responses[key]
    raise AssertionError(f"status {status} is not documented")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # "#/components/..." refs resolve against the root of the schema being checked.
    return jsonschema.Draft202012Validator({**schema, "components": DOC["components"]})


def check_against_document(response: httpx.Response) -> str:
    """Assert that ``response`` is what the document promises; return its documented key."""
    key, documented = _documented(response.status_code)
    media_type = response.headers["content-type"].split(";")[0].strip()
    assert media_type in documented["content"], (response.status_code, media_type)
    schema = documented["content"][media_type]["schema"]
    errors = sorted(_validator(schema).iter_errors(response.json()), key=str)
    assert not errors, (response.status_code, response.text, [e.message for e in errors])
    for name, declared in documented.get("headers", {}).items():
        header = _resolve(declared)
        value = response.headers.get(name)
        if header.get("required"):
            assert value is not None, (response.status_code, name)
        if value is not None:
            _validator(header["schema"]).validate(value)
    return key


@pytest.fixture
def server() -> Iterator[IngestServer]:
    with IngestServer(KEY, app_key=APP_KEY, max_body_bytes=4096) as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(DOC)  # raises on any error
    assert DOC["openapi"].startswith("3.1.")
    assert list(OpenAPIV31SpecValidator(DOC).iter_errors()) == []


def test_the_validator_rejects_a_broken_document() -> None:
    """The check above can fail: a document the validator must refuse."""
    broken = copy.deepcopy(DOC)
    del broken["info"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
    broken = copy.deepcopy(DOC)
    broken["paths"][EVENTS_PATH]["post"]["parameters"][0]["in"] = "body"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_the_document_uses_the_same_models_as_schema() -> None:
    schemas = DOC["components"]["schemas"]
    plaintext = json_schema()
    assert schemas["EventBatch"]["properties"]["events"]["items"] == {
        "$ref": "#/components/schemas/WireEvent"
    }
    assert schemas["WireEvent"] == json.loads(
        json.dumps(plaintext["$defs"]["WireEvent"]).replace("#/$defs/", "#/components/schemas/")
    )
    assert schemas["EventBatch"]["required"] == plaintext["required"]
    body = OPERATION["requestBody"]["content"]
    assert list(body) == [CONTENT_TYPE]
    assert body[CONTENT_TYPE]["x-n2net-plaintext"] == {"$ref": "#/components/schemas/EventBatch"}
    assert "0x647A" in schemas["SealedBody"]["description"]


def test_the_plaintext_schema_in_the_document_accepts_what_the_sdk_sends() -> None:
    validator = _validator({"$ref": "#/components/schemas/EventBatch"})
    validator.validate(json.loads(_batch()))
    bad = json.loads(_batch())
    bad["events"][0]["email"] = "x"
    assert not validator.is_valid(bad)


def test_the_sdk_request_matches_the_documented_parameters(
    server: IngestServer, tmp_path: Any
) -> None:
    loopback = EgressPolicy({Purpose.N2NET_API: frozenset({"127.0.0.1"})}, test_mode=True)
    uploader = Uploader(
        Endpoint(server.url, APP_KEY, KEY.public), tmp_path, key_store=SimulatedAndroidKeystore(),
        egress=Egress(loopback), region="US",
    )
    try:
        uploader.record_sms("+12025550143")
        assert uploader.flush(timeout=10.0)
    finally:
        uploader.close(timeout=2.0)
    (request,) = server.requests()
    for parameter in OPERATION["parameters"]:
        value = request.headers.get(parameter["name"].lower())
        assert value is not None or not parameter["required"], parameter["name"]
        _validator(parameter["schema"]).validate(value)
    assert request.headers["content-type"] in OPERATION["requestBody"]["content"]
    scheme = DOC["components"]["securitySchemes"]["appKey"]
    assert request.headers["authorization"] == f"{scheme['scheme'].title()} {APP_KEY}"


def _post(
    client: httpx.Client,
    server: IngestServer,
    *,
    plaintext: bytes | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    batch_id: str | None = None,
) -> httpx.Response:
    sent = request_headers(APP_KEY, batch_id or str(uuid.uuid4()), KEY.key_id)
    sent.update(headers or {})
    for name in drop:
        sent.pop(name)
    content = body if body is not None else seal(plaintext or _batch(), KEY.public)
    return client.post(server.url + EVENTS_PATH, content=content, headers=sent)


def test_every_real_reply_matches_the_document(
    server: IngestServer, client: httpx.Client
) -> None:
    seen: dict[str, set[str]] = {}

    def check(response: httpx.Response, status: int, code: str | None = None) -> None:
        assert response.status_code == status, response.text
        key = check_against_document(response)
        if code is not None:
            assert response.json()["error"] == code
            seen.setdefault(key, set()).add(code)
        else:
            seen.setdefault(key, set())

    plaintext = _batch()
    batch_id = str(uuid.uuid4())
    check(_post(client, server, plaintext=plaintext, batch_id=batch_id), 200)
    check(_post(client, server, plaintext=plaintext, batch_id=batch_id), 200)  # replay
    duplicate = _post(client, server, plaintext=plaintext)
    check(duplicate, 200)
    assert duplicate.json()["accepted"] == [] and len(duplicate.json()["duplicates"]) == 2

    check(_post(client, server, drop=("N2Net-Key-Id",)), 400, "missing_key_id")
    check(_post(client, server, drop=("Idempotency-Key",)), 400, "missing_idempotency_key")
    check(_post(client, server, body=b"\x00" * 64), 400, "unsealable")
    check(_post(client, server, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    check(_post(client, server, headers={"N2Net-Key-Id": "k9"}), 401, "unknown_key_id")
    check(
        _post(client, server, headers={"Content-Type": "application/json"}),
        415, "unsupported_media_type",
    )
    invalid = _post(client, server, plaintext=b'{"schema":"n2net.events/1","events":[]}')
    check(invalid, 422, "invalid_batch")
    assert invalid.json()["paths"] == ["events"]
    check(_post(client, server, batch_id=batch_id), 422, "idempotency_key_reused")
    check(_post(client, server, body=b"\x00" * 5000), 413, "payload_too_large")
    chunked = client.post(
        server.url + EVENTS_PATH, content=iter([b"\x00" * 64]),
        headers=request_headers(APP_KEY, str(uuid.uuid4()), KEY.key_id),
    )
    check(chunked, 411, "length_required")

    server.fail_next(status=429, retry_after="2")
    throttled = _post(client, server)
    check(throttled, 429)
    assert throttled.headers["retry-after"] == "2"
    server.fail_next(status=503, retry_after="1")
    check(_post(client, server), 503)

    # Both ways: nothing documented that the server never says, nothing said undocumented.
    assert set(seen) == set(OPERATION["responses"])
    for status, codes in ERROR_CODES.items():
        assert seen[str(status)] == set(codes), status


def test_a_reply_that_breaks_the_document_is_caught() -> None:
    """The reply check can fail: a 200 without `duplicates`, a 401 with a 400's code."""
    request = httpx.Request("POST", "http://127.0.0.1" + EVENTS_PATH)
    with pytest.raises(AssertionError):
        check_against_document(httpx.Response(200, json={"accepted": []}, request=request))
    with pytest.raises(AssertionError):
        check_against_document(httpx.Response(
            401, json={"error": "unsealable", "detail": "x"}, request=request
        ))
    with pytest.raises(AssertionError):
        check_against_document(httpx.Response(418, json={}, request=request))


def test_schema_openapi_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--openapi"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == openapi_document()
    assert err == ""
    first, second = io.StringIO(), io.StringIO()
    run(stdout=first, openapi=True)
    run(stdout=second, openapi=True)
    assert first.getvalue() == second.getvalue()
