"""Binary HTTP (RFC 9292): known-length encoding, strict bounded decoding."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n2net_privacy.errors import WireFormatError
from n2net_privacy.ohttp import bhttp
from n2net_privacy.ohttp._varint import Reader, encode_varint

# RFC 9458 Appendix A: GET https://example.com/ and a bare 200.
APPENDIX_REQUEST = bytes.fromhex("00034745540568747470730b6578616d706c652e636f6d012f")
APPENDIX_RESPONSE = bytes.fromhex("0140c8")


def test_encoders_reproduce_rfc9458_appendix_a_with_empty_sections_truncated() -> None:
    assert bhttp.encode_request("GET", "https", "example.com", "/") == APPENDIX_REQUEST
    assert bhttp.encode_response(200) == APPENDIX_RESPONSE


def test_decoders_read_rfc9458_appendix_a() -> None:
    request = bhttp.decode_request(APPENDIX_REQUEST)
    assert (request.method, request.scheme, request.authority, request.path) == (
        "GET",
        "https",
        "example.com",
        "/",
    )
    assert request.headers == () and request.content == b"" and request.trailers == ()
    assert bhttp.decode_response(APPENDIX_RESPONSE).status == 200


@pytest.mark.parametrize(
    ("value", "encoded"),
    # RFC 9000 Appendix A.1 examples.
    [
        (37, "25"),
        (15293, "7bbd"),
        (494878333, "9d7f3e7d"),
        (151288809941952652, "c2197c5eff14e88c"),
    ],
)
def test_varints_match_rfc9000_examples(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).varint("x") == value


def test_a_request_with_headers_and_content_round_trips() -> None:
    raw = bhttp.encode_request(
        "POST",
        "https",
        "api.n2net.com",
        "/v1/events",
        headers=[("Content-Type", "application/json"), ("idempotency-key", "abc")],
        content=b'{"x":1}',
    )
    request = bhttp.decode_request(raw)
    assert request.method == "POST"
    assert request.header("content-type") == b"application/json"
    assert request.content == b'{"x":1}'


def test_content_without_trailers_drops_only_the_trailer_section() -> None:
    raw = bhttp.encode_response(202, content=b"ok")
    # framing, status 202, empty header section, content length 2, content
    assert raw == bytes.fromhex("0140ca0002") + b"ok"


def test_padding_is_accepted_when_zero_and_refused_otherwise() -> None:
    padded = APPENDIX_RESPONSE + b"\x00\x00\x00\x00\x00\x00"
    assert bhttp.decode_response(padded).status == 200
    with pytest.raises(WireFormatError, match="non-zero bytes"):
        bhttp.decode_response(padded + b"\x01")


def test_informational_responses_precede_the_final_status() -> None:
    raw = bytes.fromhex("0140670040c8")  # 103 with no fields, then 200
    response = bhttp.decode_response(raw)
    assert response.informational == ((103, ()),)
    assert response.status == 200


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "framing indicator"),
        (bytes.fromhex("02"), "indeterminate-length"),
        (bytes.fromhex("07"), "unexpected framing"),
        (bytes.fromhex("0003474554"), "scheme"),
        (bytes.fromhex("00034745540568747470730b6578616d706c65"), "truncated authority"),
        (
            bytes.fromhex("000347 45 54 00 00 00 04 0141 0141".replace(" ", "")),
            "invalid field name",
        ),
    ],
)
def test_malformed_requests_name_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        bhttp.decode_request(raw)


def test_limits_are_enforced_before_reading_past_them() -> None:
    many = [(f"x-{i}", "v") for i in range(10)]
    raw = bhttp.encode_request("GET", "https", "h", "/", headers=many)
    with pytest.raises(WireFormatError, match="more than 5 fields"):
        bhttp.decode_request(raw, bhttp.Limits(max_fields=5))
    with pytest.raises(WireFormatError, match="exceeds the 10 limit"):
        bhttp.decode_request(raw, bhttp.Limits(max_message=10))
    # A section that claims more bytes than the message holds.
    lying = bytes.fromhex("0140c8") + encode_varint(1 << 40)
    with pytest.raises(WireFormatError, match="declares"):
        bhttp.decode_response(lying)


def test_status_codes_outside_http_are_refused() -> None:
    with pytest.raises(WireFormatError, match="outside 100-599"):
        bhttp.decode_response(bytes.fromhex("01") + encode_varint(600))
    with pytest.raises(WireFormatError, match="outside 200-599"):
        bhttp.encode_response(99)


def test_encoders_refuse_what_would_break_the_framing() -> None:
    with pytest.raises(WireFormatError, match="NUL, CR or LF"):
        bhttp.encode_request("GET", "https", "h", "/", headers=[("x", "a\r\nb")])
    with pytest.raises(WireFormatError, match="invalid request method"):
        bhttp.encode_request("G T", "https", "h", "/")
    with pytest.raises(WireFormatError, match="ASCII"):
        bhttp.encode_request("GET", "https", "h\u00e9", "/")


_names = st.from_regex(r"[a-z][a-z0-9\-]{0,15}", fullmatch=True)
_values = st.binary(max_size=40).filter(lambda b: not (set(b) & {0, 10, 13}))


@given(
    headers=st.lists(st.tuples(_names, _values), max_size=6),
    content=st.binary(max_size=200),
    status=st.integers(200, 599),
)
def test_responses_round_trip(
    headers: list[tuple[str, bytes]], content: bytes, status: int
) -> None:
    decoded = bhttp.decode_response(bhttp.encode_response(status, headers, content))
    assert decoded.status == status
    assert decoded.headers == tuple((n.encode(), v) for n, v in headers)
    assert decoded.content == content


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_wire_format_error(data: bytes) -> None:
    for decode in (bhttp.decode_request, bhttp.decode_response):
        with contextlib.suppress(WireFormatError):
            decode(data)


@settings(max_examples=200)
@given(st.data())
def test_mutated_valid_messages_raise_only_wire_format_error(data: st.DataObject) -> None:
    raw = bytearray(
        bhttp.encode_request(
            "POST", "https", "a.example", "/p", [("k", "v")], b"body", trailers=[("t", "1")]
        )
    )
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(WireFormatError):
        bhttp.decode_request(bytes(raw[:cut]))
