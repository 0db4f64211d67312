"""Taking a request apart into places: URL, query, headers, JSON, form, text."""

from __future__ import annotations

import gzip
import json

from n2net_privacy.audit.decoding import Encoding
from n2net_privacy.audit.places import Field, header, media_type, request_fields
from n2net_privacy.egress.policy import OutgoingRequest, Purpose


def _request(
    body: bytes = b"", headers: tuple[tuple[str, str], ...] = (), query: str = ""
) -> OutgoingRequest:
    return OutgoingRequest("POST", f"https://h/p?{query}" if query else "https://h/p",
                           headers=(("Host", "h"), *headers), content=body,
                           purpose=Purpose.N2NET_API)


def _places(request: OutgoingRequest) -> list[tuple[str, str]]:
    """Places other than the method and the Host header, and no joined-body field."""
    return [(f.place(lambda _: True), f.text) for f in request_fields(request)
            if f.area != "method" and f.keys != ("host",) and not f.whole]


def test_the_method_the_host_header_and_content_length_are_places() -> None:
    request = _request(b"x", (("Content-Length", "1"),))
    places = [(f.place(lambda _: True), f.text) for f in request_fields(request)]
    assert places[:5] == [
        ("method", "POST"), ("url.host", "h"), ("url.path", "/p"),
        ("header:host", "Host: h"), ("header:content-length", "Content-Length: 1"),
    ]


def test_url_query_and_headers() -> None:
    request = _request(headers=(("X-Debug", "v"),), query="a=1&b=x%40y&&c")
    assert _places(request) == [
        ("url.host", "h"), ("url.path", "/p"),
        ("query:a", "a=1"), ("query:b", "b=x%40y"), ("query:c", "c"),
        ("header:x-debug", "X-Debug: v"),
    ]


def test_json_body_leaves_and_keys() -> None:
    body = json.dumps({"user": {"tags": ["a", 7, True, None]}, "n": 1.5}).encode()
    request = _request(body, (("Content-Type", "application/json"),))
    assert _places(request)[3:] == [
        ("body:$.user", "user"), ("body:$.user.tags", "tags"),
        ("body:$.user.tags[0]", "a"), ("body:$.user.tags[1]", "7"),
        ("body:$.n", "n"), ("body:$.n", "1.5"),
    ]


def test_gzip_form_and_text_bodies() -> None:
    form = _request(gzip.compress(b"note=hi&x=1"),
                    (("Content-Type", "application/x-www-form-urlencoded"),))
    fields = [f for f in request_fields(form)[5:] if not f.whole]
    assert [(f.place(lambda _: True), f.encoding) for f in fields] == [
        ("body:form:note", Encoding.GZIP), ("body:form:x", Encoding.GZIP)
    ]
    assert _places(_request(b"{not json"))[2:] == [("body", "{not json")]
    assert _places(_request(b"\xff\xfd"))[2:] == [("body", "\xff\xfd")]


def test_bodies_can_be_left_out() -> None:
    assert [f.area for f in request_fields(_request(b"x"), with_body=False)] == [
        "method", "url.host", "url.path", "header"
    ]


def test_keys_that_fail_the_safety_check_are_not_shown() -> None:
    field = Field("body", ("events", 0, "Ann Lee"), "1")
    assert field.place(lambda key: "Ann" not in key) == "body:$.events[0].[redacted]"
    assert Field("query", ("Ann",), "").place(lambda key: False) == "query:[redacted]"
    assert Field("header", ("\x00\x01",), "").place(lambda key: True) == "header:[redacted]"


def test_header_and_media_type() -> None:
    request = _request(headers=(("Content-Type", "Application/JSON; charset=utf-8"),))
    assert header(request, "content-type") == "Application/JSON; charset=utf-8"
    assert header(request, "x-missing") is None
    assert media_type(request) == "application/json"
