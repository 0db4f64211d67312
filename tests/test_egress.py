"""The egress chokepoint: allowlist, https-only, header scrubbing, audit.

Real-socket tests of the door (TLS, pins, bytes on the wire) are in test_egress_wire.py.
"""

from __future__ import annotations

import ast
import asyncio
import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from n2net_privacy.egress import (
    USER_AGENT,
    Egress,
    EgressPolicy,
    OutgoingRequest,
    Purpose,
)
from n2net_privacy.errors import (
    EgressPolicyError,
    InvalidArgumentError,
    NetworkError,
    NetworkTimeout,
)

PACKAGE = Path(__file__).resolve().parent.parent / "n2net_privacy"
LOOPBACK = EgressPolicy(
    allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1"}),
                   Purpose.N2NET_API: frozenset({"127.0.0.1"})},
    test_mode=True,
)


def _echo(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"set-cookie": "track=1; Path=/"}, content=b"ok")

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("purpose", "scheme", "host", "test_mode", "allowed"),
    [
        (Purpose.GRAVATAR, "https", "gravatar.com", False, True),
        (Purpose.GRAVATAR, "https", "GRAVATAR.COM", False, True),
        (Purpose.GRAVATAR, "https", "api.n2net.com", False, False),
        (Purpose.N2NET_API, "https", "api.n2net.com", False, True),
        (Purpose.N2NET_API, "https", "gravatar.com", False, False),
        (Purpose.N2NET_API, "https", "evil.example", False, False),
        (Purpose.N2NET_API, "http", "api.n2net.com", False, False),
        (Purpose.N2NET_API, "http", "api.n2net.com", True, False),
    ],
)
def test_default_policy_table(
    purpose: Purpose, scheme: str, host: str, test_mode: bool, allowed: bool
) -> None:
    policy = EgressPolicy(test_mode=test_mode)
    if allowed:
        policy.check(purpose, scheme, host)
    else:
        with pytest.raises(EgressPolicyError) as info:
            policy.check(purpose, scheme, host)
        assert info.value.purpose == purpose.value


@pytest.mark.parametrize(("test_mode", "allowed"), [(True, True), (False, False)])
def test_plain_http_to_loopback_only_in_test_mode(test_mode: bool, allowed: bool) -> None:
    policy = EgressPolicy(
        allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1", "localhost"})},
        test_mode=test_mode,
    )
    for host in ("127.0.0.1", "localhost"):
        if allowed:
            policy.check(Purpose.GRAVATAR, "http", host)
        else:
            with pytest.raises(EgressPolicyError):
                policy.check(Purpose.GRAVATAR, "http", host)


def test_every_request_is_audited_with_purpose_host_path_and_bytes() -> None:
    seen: list[httpx.Request] = []
    egress = Egress(transport=_echo(seen), clock=lambda: datetime.fromtimestamp(1234.5, UTC))
    client = egress.client(Purpose.N2NET_API)
    response = client.request("POST", "https://api.n2net.com/v1/events?x=1", content=b"12345")
    assert response.status == 200
    assert response.content == b"ok"
    (entry,) = egress.audit.entries()
    assert (entry.at, entry.purpose, entry.method, entry.host, entry.path) == (
        1234.5, Purpose.N2NET_API, "POST", "api.n2net.com", "/v1/events"
    )
    (sent,) = seen
    head = b"POST /v1/events?x=1 HTTP/1.1\r\n" + b"".join(
        k + b": " + v + b"\r\n" for k, v in sent.headers.raw
    ) + b"\r\n"
    assert entry.request_bytes == len(head) + 5  # request line, headers and the body
    assert entry.status == 200
    assert not entry.blocked


def test_blocked_request_never_reaches_the_network_but_is_audited() -> None:
    seen: list[httpx.Request] = []
    egress = Egress(transport=_echo(seen))
    with pytest.raises(EgressPolicyError):
        egress.client(Purpose.GRAVATAR).request("GET", "https://tracker.example/avatar/x")
    with pytest.raises(EgressPolicyError):
        egress.client(Purpose.GRAVATAR).request("GET", "http://gravatar.com/avatar/x")
    assert seen == []
    assert [e.blocked for e in egress.audit.entries()] == [True, True]


def test_cookies_referer_and_user_agent_are_scrubbed() -> None:
    seen: list[httpx.Request] = []
    client = Egress(transport=_echo(seen)).client(Purpose.GRAVATAR)
    for _ in range(2):  # the first reply sets a cookie; it must not come back
        client.request(
            "GET",
            "https://gravatar.com/avatar/abc",
            headers={"Referer": "https://app/contacts/ann", "Cookie": "id=1", "User-Agent": "X"},
        )
    for request in seen:
        assert "cookie" not in request.headers
        assert "referer" not in request.headers
        assert request.headers["user-agent"] == USER_AGENT


def test_an_inspector_added_later_sees_requests_of_existing_clients() -> None:
    seen: list[httpx.Request] = []
    egress = Egress(transport=_echo(seen))
    client = egress.client(Purpose.GRAVATAR)
    inspected: list[OutgoingRequest] = []

    class Blocker:
        def inspect(self, request: OutgoingRequest) -> None:
            inspected.append(request)
            if "secret" in request.query:
                raise EgressPolicyError("leak", purpose=request.purpose.value, host=request.host)

    egress.add_inspector(Blocker())
    client.request("GET", "https://gravatar.com/avatar/abc?s=80")
    with pytest.raises(EgressPolicyError):
        client.request("GET", "https://gravatar.com/avatar/abc?secret=1")
    assert [r.query for r in inspected] == ["s=80", "secret=1"]
    assert len(seen) == 1


def test_the_request_a_caller_sends_is_the_shape_inspectors_see_stamped() -> None:
    seen: list[httpx.Request] = []
    egress = Egress(transport=_echo(seen))
    inspected: list[OutgoingRequest] = []

    class Keeper:
        def inspect(self, request: OutgoingRequest) -> None:
            inspected.append(request)

    egress.add_inspector(Keeper())
    client = egress.client(Purpose.GRAVATAR)
    sent = OutgoingRequest(
        "GET", "https://gravatar.com/avatar/abc?s=80", headers={"x-a": "1"}, content=b"hi"
    )
    assert (sent.purpose, sent.request_id, sent.host, sent.path, sent.query) == (
        Purpose.APP, 0, "gravatar.com", "/avatar/abc", "s=80",
    )
    assert client.send(sent).status == 200
    client.request("GET", "https://gravatar.com/avatar/def")
    first, second = inspected
    assert (first.method, first.url, first.body, first.purpose, first.request_id) == (
        "GET", "https://gravatar.com/avatar/abc?s=80", b"hi", Purpose.GRAVATAR, 1,
    )
    assert ("x-a", "1") in first.headers and ("user-agent", USER_AGENT) in first.headers
    assert (second.method, second.path, second.body, second.request_id) == (
        "GET", "/avatar/def", b"", 2,
    )


def test_a_request_with_an_unusable_url_is_refused_by_the_door_not_the_constructor() -> None:
    request = OutgoingRequest("GET", "https://[::1/avatar")  # no bare ValueError here
    assert request.host == ""
    with pytest.raises(InvalidArgumentError, match=r"^url: ") as info:
        Egress().client(Purpose.GRAVATAR).send(request)
    assert "::1" not in str(info.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), NetworkError),
        (httpx.ReadTimeout("slow"), NetworkTimeout),
        (httpx.RemoteProtocolError("reset"), NetworkError),
    ],
)
def test_network_trouble_is_mapped_to_sdk_errors(
    exc: Exception, expected: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    egress = Egress(transport=httpx.MockTransport(handler))
    with pytest.raises(expected) as info:
        egress.client(Purpose.GRAVATAR).request("GET", "https://gravatar.com/avatar/abc")
    assert isinstance(info.value.__cause__, httpx.HTTPError)
    (entry,) = egress.audit.entries()
    assert entry.status is None


def test_reply_over_the_byte_cap_comes_back_unusable() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b"x" * 2000))
    client = Egress(transport=transport).client(Purpose.GRAVATAR)
    assert client.request("GET", "https://gravatar.com/a", max_response_bytes=1000).status == 0
    assert client.request("GET", "https://gravatar.com/a", max_response_bytes=4000).status == 200


def test_certificate_verification_cannot_be_disabled_outside_test_mode() -> None:
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    with pytest.raises(EgressPolicyError):
        Egress(verify=insecure)
    Egress(EgressPolicy(test_mode=True), verify=insecure)


def test_async_client_goes_through_the_same_gate() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404)

    egress = Egress(async_transport=httpx.MockTransport(handler))

    async def run() -> None:
        client = egress.async_client(Purpose.GRAVATAR)
        try:
            response = await client.request(
                "GET", "https://gravatar.com/avatar/abc", headers={"Referer": "x"}
            )
            assert response.status == 404
            with pytest.raises(EgressPolicyError):
                await client.request("GET", "https://evil.example/")
        finally:
            await client.aclose()

    asyncio.run(run())
    assert len(seen) == 1
    assert "referer" not in seen[0].headers
    assert [e.blocked for e in egress.audit.entries()] == [False, True]


def test_respx_captures_requests_below_the_chokepoint() -> None:
    egress = Egress()
    with respx.mock(assert_all_called=True) as router:
        route = router.get("https://gravatar.com/avatar/abc").respond(404)
        assert egress.client(Purpose.GRAVATAR).request(
            "GET", "https://gravatar.com/avatar/abc"
        ).status == 404
    assert route.calls.last.request.headers["user-agent"] == USER_AGENT
    assert len(egress.audit) == 1


def test_no_module_but_the_egress_door_imports_httpx() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"httpx", "httpcore"} for n in names):
                offenders.append(path.relative_to(PACKAGE).as_posix())
    assert set(offenders) == {"egress/client.py", "egress/transport.py"}


class _Cancelled(BaseException):
    """Stands for what is not an ``Exception``: asyncio's CancelledError, GreenletExit."""


def test_a_request_cut_short_by_a_base_exception_is_still_audited() -> None:
    """A request interrupted mid-flight (a cancelled task, a killed greenlet) may have left
    the device: the audit log records it with the interruption's type, never drops it."""
    def handler(request: httpx.Request) -> httpx.Response:
        raise _Cancelled

    egress = Egress(transport=httpx.MockTransport(handler))
    with pytest.raises(_Cancelled):
        egress.client(Purpose.N2NET_API).request("POST", "https://api.n2net.com/v1/events")
    (entry,) = egress.audit.entries()
    assert (entry.host, entry.error) == ("api.n2net.com", "_Cancelled")


def test_a_cancelled_async_request_is_still_audited() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise asyncio.CancelledError

    egress = Egress(async_transport=httpx.MockTransport(handler))

    async def go() -> None:
        client = egress.async_client(Purpose.GRAVATAR)
        try:
            await client.request("GET", "https://gravatar.com/avatar/x")
        finally:
            await client.aclose()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(go())
    (entry,) = egress.audit.entries()
    assert (entry.host, entry.error) == ("gravatar.com", "CancelledError")
