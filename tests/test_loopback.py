"""The one lifecycle every loopback server shares, and the TCP tap built on it."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from n2net_privacy.errors import ServerNotRunningError
from n2net_privacy.testing.servers.loopback import LoopbackServer, Seen, reply
from n2net_privacy.testing.servers.tap import TcpTap

SAFETY_S = 30.0  # only turns a hang into a failure


class Echo(LoopbackServer):
    """Answers with the path; ``/hold`` waits until the server stops."""

    thread_name = "echo-under-test"

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()

    def _route(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/hold":
            self.holding.set()
            self.stopping.wait()
            return
        reply(handler, 200, handler.path.encode(), "text/plain")


def _threads(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_start_returns_listening_so_a_client_connects_at_once() -> None:
    with Echo() as server, httpx.Client() as client:
        assert server.running
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert client.get(server.url + "/ping").text == "/ping"


def test_stop_keeps_the_port_and_start_listens_there_again() -> None:
    with Echo() as server:
        port = server.port
        server.stop()
        assert not server.running
        with socket.socket() as probe, pytest.raises(OSError):
            probe.connect(("127.0.0.1", port))
        server.start()
        assert server.port == port
        with httpx.Client() as client:
            assert client.get(server.url + "/again").status_code == 200


def test_close_drops_open_connections_joins_threads_and_forgets_the_port() -> None:
    server = Echo().start()
    client = httpx.Client()  # keeps its connection open
    assert client.get(server.url + "/x").status_code == 200
    assert _threads("echo-under-test")
    server.close()
    server.close()  # idempotent
    client.close()
    assert _threads("echo-under-test") == []
    with pytest.raises(ServerNotRunningError, match="Echo is not running"):
        _ = server.url


def test_stopping_wakes_a_handler_that_waits_on_it() -> None:
    server = Echo().start()
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with httpx.Client(timeout=SAFETY_S) as client:
                client.get(server.url + "/hold")
        except httpx.HTTPError as exc:  # the server hangs up without an answer
            failures.append(exc)

    caller = threading.Thread(target=hold)
    caller.start()
    assert server.holding.wait(SAFETY_S)
    closer = threading.Thread(target=server.close)
    closer.start()
    closer.join(SAFETY_S)
    assert not closer.is_alive()
    assert _threads("echo-under-test") == []  # the held handler woke and was joined
    caller.join(SAFETY_S)
    assert len(failures) == 1


def test_the_tap_records_both_directions_and_who_connected() -> None:
    with Echo() as server, TcpTap(("127.0.0.1", server.port)) as tap:
        with httpx.Client() as client:
            assert client.get(tap.url + "/through").text == "/through"
        (seen,) = tap.connections()
        assert seen.client_host == "127.0.0.1"
        assert seen.to_server.startswith(b"GET /through HTTP/1.1\r\n")
        assert seen.to_client.startswith(b"HTTP/1.1 200 ")
        assert seen.to_client.endswith(b"/through")
        assert tap.client_hosts() == {"127.0.0.1"}


def test_closing_the_tap_closes_connections_it_holds_open() -> None:
    with Echo() as server:
        tap = TcpTap(("127.0.0.1", server.port)).start()
        client = httpx.Client()  # keep-alive: the tap holds both sides open
        assert client.get(tap.url + "/a").status_code == 200
        assert _threads("tcp-tap")
        tap.close()
        client.close()
        assert _threads("tcp-tap") == []


def test_a_tap_whose_upstream_refuses_hangs_up() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: connections are refused
        with TcpTap(("127.0.0.1", port)) as tap, httpx.Client() as client:
            with pytest.raises(httpx.HTTPError):
                client.get(tap.url + "/nowhere")
            assert tap.connections() == ()


def test_seen_numbers_each_item_and_hands_out_snapshots() -> None:
    seen: Seen[str] = Seen()
    assert [seen.add("a"), seen.add("b")] == [0, 1]
    snapshot = seen.all()
    seen.add("c")
    assert snapshot == ("a", "b")
    assert len(seen) == 3
    seen.clear()
    assert seen.all() == ()
    assert seen.add("d") == 0


def test_closing_the_relay_cuts_a_forward_that_waits_on_the_gateway() -> None:
    from n2net_privacy import ohttp
    from n2net_privacy.testing.servers.ohttp import OhttpRelay

    with Echo() as stalled_gateway:
        relay = OhttpRelay(stalled_gateway.url + "/hold").start()

        def post() -> None:
            with httpx.Client(timeout=SAFETY_S) as client, contextlib.suppress(httpx.HTTPError):
                client.post(
                    relay.url, content=b"x", headers={"content-type": ohttp.REQUEST_MEDIA_TYPE}
                )

        caller = threading.Thread(target=post)
        caller.start()
        assert stalled_gateway.holding.wait(SAFETY_S)  # the relay's forward is in flight
        relay.close()  # shuts the upstream connection it opened, so its handler ends
        assert _threads("ohttp-relay") == []
        caller.join(SAFETY_S)
        assert not caller.is_alive()
