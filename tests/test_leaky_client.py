"""The deliberately leaky client: each cell's request really carries the leak."""

from __future__ import annotations

import base64
import gzip
import json

import httpx

from n2net_privacy.audit.corpus.leaky_client import (
    LEAK_HEADER,
    LeakEncoding,
    LeakKind,
    LeakPlace,
    LeakyClient,
    LeakyRequest,
    SeededLeak,
    build_leaky_request,
    leak_matrix,
)
from n2net_privacy.egress import Egress

PII = {"email": "ann@example.com", "name": "Zoë Lee", "number": "+12015550123"}


def test_gzip_only_for_bodies_and_cookie_is_marked_stripped() -> None:
    for leak in leak_matrix():
        if leak.encoding is LeakEncoding.GZIP:
            assert leak.place in (LeakPlace.BODY_JSON, LeakPlace.BODY_FORM)
        assert leak.stripped_by_chokepoint is (leak.place is LeakPlace.COOKIE)


def test_requests_carry_the_value_where_and_how_the_cell_says() -> None:
    def build(kind: LeakKind, place: LeakPlace, encoding: LeakEncoding) -> LeakyRequest:
        return build_leaky_request(SeededLeak(kind, place, encoding), **PII)

    header = build(LeakKind.EMAIL, LeakPlace.HEADER, LeakEncoding.BASE64)
    assert base64.b64decode(header.headers[LEAK_HEADER]) == b"v1:ann@example.com"
    body = build(LeakKind.NAME, LeakPlace.BODY_JSON, LeakEncoding.GZIP)
    assert json.loads(gzip.decompress(body.content))["note"] == "Zoë Lee"
    assert body.headers["content-encoding"] == "gzip"
    cookie = build(LeakKind.NAME, LeakPlace.COOKIE, LeakEncoding.UPPER)
    assert cookie.headers["cookie"] == "session=ZOE LEE"
    query = build(LeakKind.PHONE, LeakPlace.QUERY, LeakEncoding.PERCENT)
    assert query.url == "https://api.n2net.com/leak?note=%2B12015550123"


def test_the_client_sends_through_the_egress() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = LeakyClient(Egress(transport=httpx.MockTransport(handler)), email=PII["email"],
                         name=PII["name"], number=PII["number"])
    response = client.send(SeededLeak(LeakKind.EMAIL, LeakPlace.PATH, LeakEncoding.PLAIN))
    client.close()
    assert response.status == 204
    assert seen[0].url.path == "/leak/ann@example.com"
