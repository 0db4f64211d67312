"""The pure allowlist of the egress door: (host, port) pairs and methods per purpose."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n2net_privacy.egress.policy import EgressPolicy, Purpose, parse_endpoint
from n2net_privacy.errors import EgressPolicyError

API, GRAVATAR = Purpose.N2NET_API, Purpose.GRAVATAR


@pytest.mark.parametrize(
    ("entries", "host", "port", "allowed"),
    [
        ({"api.n2net.com"}, "api.n2net.com", None, True),  # the scheme's default, 443
        ({"api.n2net.com"}, "api.n2net.com", 443, True),
        ({"api.n2net.com"}, "api.n2net.com", 8443, False),  # the red-team finding
        ({"api.n2net.com"}, "API.N2NET.COM", 8443, False),
        ({"api.n2net.com:8443"}, "api.n2net.com", 8443, True),
        ({"api.n2net.com:8443"}, "api.n2net.com", None, False),  # explicit means only that
        ({"api.n2net.com", "api.n2net.com:8443"}, "api.n2net.com", 443, True),
        ({"127.0.0.1"}, "127.0.0.1", 50123, True),  # bare loopback: test servers' ports
        ({"localhost"}, "localhost", 8080, True),
        ({"127.0.0.1:9000"}, "127.0.0.1", 9001, False),
        ({"[::1]:9000"}, "::1", 9000, True),
        ({"[::1]:9000"}, "[::1]", 9000, True),
        ({"evil.example"}, "api.n2net.com", 443, False),
    ],
)
def test_each_purpose_allows_host_port_pairs(
    entries: set[str], host: str, port: int | None, allowed: bool
) -> None:
    policy = EgressPolicy(allowed_hosts={API: frozenset(entries)})
    if allowed:
        policy.check(API, "https", host, port)
    else:
        with pytest.raises(EgressPolicyError) as info:
            policy.check(API, "https", host, port)
        assert info.value.purpose == "n2net_api"


def test_the_default_policy_refuses_other_ports() -> None:
    policy = EgressPolicy()
    policy.check(API, "https", "api.n2net.com", 443)
    policy.check(GRAVATAR, "https", "www.gravatar.com")
    for purpose, host in ((API, "api.n2net.com"), (GRAVATAR, "gravatar.com")):
        with pytest.raises(EgressPolicyError, match="port 8443"):
            policy.check(purpose, "https", host, 8443)


@pytest.mark.parametrize("entry", ["api.n2net.com:0", "api.n2net.com:65536", "h:https", ":443",
                                   "[::1]:x", ""])
def test_a_malformed_allowlist_entry_fails_at_construction(entry: str) -> None:
    with pytest.raises(EgressPolicyError, match="allowlist entry"):
        EgressPolicy(allowed_hosts={API: frozenset({entry})})


@given(
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True),
    port=st.integers(1, 65535),
)
def test_parse_endpoint_round_trips(host: str, port: int) -> None:
    assert parse_endpoint(f"{host}:{port}") == (host, port)
    assert parse_endpoint(host.upper()) == (host, None)


@pytest.mark.parametrize(
    ("purpose", "method", "allowed"),
    [
        (GRAVATAR, "GET", True),
        (GRAVATAR, "get", True),
        (GRAVATAR, "POST", False),
        (GRAVATAR, "HEAD", False),
        (API, "POST", True),
        (API, "GET", True),
        (API, "PUT", False),
        (API, "DELETE", False),
        (API, "CONNECT", False),
        (API, "TRACE", False),
        (API, "OPTIONS", False),
    ],
)
def test_default_methods_per_purpose(purpose: Purpose, method: str, allowed: bool) -> None:
    policy = EgressPolicy()
    if allowed:
        policy.check_method(purpose, method, "h")
    else:
        with pytest.raises(EgressPolicyError, match="method"):
            policy.check_method(purpose, method, "h")


def test_an_app_can_narrow_the_methods() -> None:
    policy = EgressPolicy(allowed_methods={API: frozenset({"POST"})})
    policy.check_method(API, "POST", "api.n2net.com")
    for purpose, method in ((API, "GET"), (GRAVATAR, "GET")):  # a missing purpose gets nothing
        with pytest.raises(EgressPolicyError):
            policy.check_method(purpose, method, "api.n2net.com")
