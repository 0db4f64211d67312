"""The request line and framing headers belong to the door (pure rules, no sockets)."""

from __future__ import annotations

import pytest

from n2net_privacy.egress.headers import (
    check_framing,
    check_userinfo,
    host_header,
    is_reserved,
    refuse_reserved,
)
from n2net_privacy.egress.policy import Purpose
from n2net_privacy.errors import EgressPolicyError

API = Purpose.N2NET_API


@pytest.mark.parametrize(
    ("name", "reserved"),
    [
        ("Host", True), ("host", True), (" HOST ", True),
        ("Content-Length", True), ("Transfer-Encoding", True), ("Connection", True),
        ("Upgrade", True), ("TE", True), ("Trailer", True), ("Keep-Alive", True),
        ("Proxy-Authorization", True), ("Proxy-Connection", True), ("proxy-anything", True),
        ("Authorization", False), ("Content-Type", False), ("Idempotency-Key", False),
        ("X-Host", False), ("X-Forwarded-Host", False), ("N2Net-Key-Id", False),
    ],
)
def test_reserved_headers(name: str, reserved: bool) -> None:
    assert is_reserved(name) is reserved


def test_refusal_names_the_header_but_never_its_value() -> None:
    with pytest.raises(EgressPolicyError) as info:
        refuse_reserved(["Content-Type", "Host"], purpose=API, host="api.n2net.com")
    assert "'host'" in str(info.value)
    assert info.value.purpose == "n2net_api"
    refuse_reserved(["Content-Type", "Authorization"], purpose=API, host="api.n2net.com")


@pytest.mark.parametrize(
    ("raw_host", "port", "expected"),
    [
        ("api.n2net.com", None, "api.n2net.com"),
        ("127.0.0.1", 8443, "127.0.0.1:8443"),
        ("::1", 9000, "[::1]:9000"),
        ("xn--bcher-kva.example", None, "xn--bcher-kva.example"),
    ],
)
def test_host_header_is_the_url_authority(raw_host: str, port: int | None, expected: str) -> None:
    assert host_header(raw_host, port) == expected


GOOD = [("Host", "api.n2net.com"), ("Content-Length", "5"), ("Connection", "keep-alive"),
        ("Content-Type", "application/n2net-sealed")]


@pytest.mark.parametrize(
    ("headers", "body_length", "allowed"),
    [
        (GOOD, 5, True),
        ([("host", "api.n2net.com")], 0, True),  # a GET without a body
        ([("host", "api.n2net.com"), ("content-length", "0")], 0, True),
        ([("host", "evil.example"), ("content-length", "5")], 5, False),  # fronting
        ([("content-length", "5")], 5, False),  # no Host
        ([("host", "api.n2net.com"), ("host", "evil.example")], 0, False),
        ([("host", "api.n2net.com"), ("content-length", "0")], 5, False),  # smuggling
        ([("host", "api.n2net.com"), ("content-length", "5"), ("content-length", "5")], 5, False),
        ([("host", "api.n2net.com")], 5, False),  # a body with no length
        ([("host", "api.n2net.com"), ("transfer-encoding", "chunked")], 0, False),
        ([("host", "api.n2net.com"), ("connection", "close")], 0, False),
        ([("host", "api.n2net.com"), ("connection", "Upgrade"), ("upgrade", "h2c")], 0, False),
        ([("host", "api.n2net.com"), ("proxy-authorization", "Basic x")], 0, False),
        ([("host", "api.n2net.com"), ("keep-alive", "timeout=5")], 0, False),
    ],
)
def test_framing_must_be_what_the_door_derives(
    headers: list[tuple[str, str]], body_length: int, allowed: bool
) -> None:
    def check() -> None:
        check_framing(headers, expected_host="api.n2net.com", body_length=body_length,
                      purpose=API, host="api.n2net.com")

    if allowed:
        check()
    else:
        with pytest.raises(EgressPolicyError):
            check()


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ([("host", "api.n2net.com"), ("transfer-encoding", "chunked")], True),
        ([("host", "api.n2net.com")], False),  # a stream must say how it is framed
        ([("host", "api.n2net.com"), ("transfer-encoding", "chunked"), ("content-length", "5")],
         False),  # both framings: the classic smuggling pair
        ([("host", "api.n2net.com"), ("transfer-encoding", "gzip, chunked")], False),
        ([("host", "api.n2net.com"), ("transfer-encoding", "chunked"),
          ("transfer-encoding", "chunked")], False),
        ([("host", "api.n2net.com"), ("transfer-encoding", "chunked"), ("connection", "close")],
         False),
    ],
)
def test_a_streamed_body_is_framed_chunked_and_only_so(
    headers: list[tuple[str, str]], allowed: bool
) -> None:
    def check() -> None:
        check_framing(headers, expected_host="api.n2net.com", body_length=5,
                      purpose=API, host="api.n2net.com", chunked=True)

    if allowed:
        check()
    else:
        with pytest.raises(EgressPolicyError):
            check()


def test_credentials_in_the_url_are_refused() -> None:
    check_userinfo("", purpose=API, host="api.n2net.com")
    with pytest.raises(EgressPolicyError, match="user info"):
        check_userinfo("ann:secret", purpose=API, host="api.n2net.com")
