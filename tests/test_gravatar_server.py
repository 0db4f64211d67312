"""The loopback Gravatar stand-in: real PNGs, 404s, latency, faults, records, shutdown."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import zlib

import httpx
import pytest

from n2net_privacy.testing import Fault, GravatarStandIn, RecordedRequest, make_png, png_for_hash

KNOWN = "a" * 32
UNKNOWN = "b" * 32


def _url(server: GravatarStandIn, email_hash: str, query: str = "s=80&d=404&r=g") -> str:
    return f"{server.base_url}{email_hash}?{query}"


def _png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Parse a PNG far enough to prove it is real: checked CRCs, inflated pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_make_png_is_a_real_png() -> None:
    width, height, pixels = _png_pixels(make_png(3, 2, (1, 2, 3)))
    assert (width, height) == (3, 2)
    assert pixels == (b"\x00" + b"\x01\x02\x03" * 3) * 2
    assert png_for_hash("ff0000" + "0" * 26) != png_for_hash("00ff00" + "0" * 26)


def test_serves_a_png_for_known_hashes_and_404_otherwise() -> None:
    with GravatarStandIn(avatars=[KNOWN]) as server, httpx.Client() as client:
        hit = client.get(_url(server, KNOWN))
        miss = client.get(_url(server, UNKNOWN))
        mystery = client.get(_url(server, UNKNOWN, "s=80"))  # no d=404: a generated picture
        other = client.get(f"http://127.0.0.1:{server.port}/robots.txt")
        post = client.post(_url(server, KNOWN), content=b"body")
    assert hit.status_code == 200 and hit.headers["content-type"] == "image/png"
    assert hit.content == server.avatar(KNOWN) == png_for_hash(KNOWN)
    assert _png_pixels(hit.content)[0] == 8
    assert hit.headers["cache-control"] == "max-age=300"
    assert miss.status_code == 404
    assert mystery.status_code == 200 and mystery.content != hit.content
    assert other.status_code == 404
    assert post.status_code == 405
    assert server.paths == (
        f"/avatar/{KNOWN}", f"/avatar/{UNKNOWN}", f"/avatar/{UNKNOWN}", "/robots.txt",
        f"/avatar/{KNOWN}",
    )
    assert server.requests[-1].body == b"body" and server.requests[-1].method == "POST"
    assert server.requests[0].hash == KNOWN and server.requests[3].hash is None


def test_records_headers_and_resets() -> None:
    with GravatarStandIn() as server, httpx.Client() as client:
        client.get(_url(server, KNOWN), headers={"x-probe": "1"})
        assert server.request_count == 1
        assert ("x-probe", "1") in server.requests[0].headers
        assert server.requests[0].query == "s=80&d=404&r=g"
        server.reset()
        assert server.request_count == 0


def test_avatars_can_be_given_as_bytes_added_and_removed() -> None:
    jpeg = b"\xff\xd8\xff\xe0jpeg"
    with GravatarStandIn(avatars={KNOWN: b"custom"}) as server, httpx.Client() as client:
        assert client.get(_url(server, KNOWN)).content == b"custom"
        server.add_avatar(UNKNOWN, jpeg, content_type="image/jpeg")
        reply = client.get(_url(server, UNKNOWN))
        assert (reply.content, reply.headers["content-type"]) == (jpeg, "image/jpeg")
        server.remove_avatar(KNOWN)
        assert client.get(_url(server, KNOWN)).status_code == 404


def test_serves_concurrently() -> None:
    # Every handler waits at a barrier until all of them have arrived: served one
    # at a time, the first would wait alone and the barrier would break.
    hashes = [f"{i:032x}" for i in range(8)]
    barrier = threading.Barrier(len(hashes), timeout=30)  # a guard against a hang, not a speed bar
    met: list[bool] = []

    def meet(_: RecordedRequest) -> None:
        try:
            barrier.wait()
            met.append(True)
        except threading.BrokenBarrierError:
            met.append(False)

    async def burst(base: str) -> list[int]:
        async with httpx.AsyncClient(timeout=60) as client:
            replies = await asyncio.gather(*(client.get(f"{base}{h}?d=404") for h in hashes))
            return [r.status_code for r in replies]

    with GravatarStandIn(avatars=hashes, on_request=meet) as server:
        assert asyncio.run(burst(server.base_url)) == [200] * len(hashes)
        assert server.request_count == len(hashes)
    assert met == [True] * len(hashes)


def test_latency_is_waited_on_the_stop_event_so_close_cuts_it_short() -> None:
    # An hour of latency: only close() waking the handler lets this test end.
    server = GravatarStandIn(avatars=[KNOWN], latency=3600.0).start()
    arrived = threading.Event()
    server.on_request = lambda _: arrived.set()
    client = httpx.Client(timeout=60)
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            client.get(_url(server, KNOWN))
        except httpx.HTTPError as exc:  # the connection is dropped by close()
            errors.append(exc)

    caller = threading.Thread(target=fetch)
    caller.start()
    assert arrived.wait(30)
    server.close()
    caller.join(30)
    client.close()
    assert not caller.is_alive()
    assert not any(t.name == "gravatar-stand-in" for t in threading.enumerate())
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("fault", "status", "content_type", "retry_after", "length"),
    [
        (Fault.rate_limited("7"), 429, "text/plain", "7", None),
        (Fault.rate_limited(None), 429, "text/plain", None, None),
        (Fault.unavailable("Wed, 21 Oct 2015 07:28:00 GMT"), 503, "text/plain",
         "Wed, 21 Oct 2015 07:28:00 GMT", None),
        (Fault.wrong_content_type(), 200, "text/html", None, None),
        (Fault.oversized(3 * 1024 * 1024), 200, "image/png", None, 3 * 1024 * 1024),
    ],
)
def test_fault_injection(
    fault: Fault, status: int, content_type: str, retry_after: str | None, length: int | None
) -> None:
    with GravatarStandIn(avatars=[KNOWN]) as server, httpx.Client() as client:
        server.inject(fault)
        reply = client.get(_url(server, KNOWN))
        normal = client.get(_url(server, KNOWN))  # times=1: the next one is normal
    assert reply.status_code == status
    assert reply.headers["content-type"] == content_type
    assert reply.headers.get("retry-after") == retry_after
    if length is not None:
        assert len(reply.content) == length and reply.content.startswith(b"\x89PNG")
    assert normal.status_code == 200 and normal.content == png_for_hash(KNOWN)


def test_fault_rules_match_by_hash_and_count() -> None:
    with GravatarStandIn(avatars=[KNOWN, UNKNOWN]) as server, httpx.Client() as client:
        server.inject(Fault.unavailable(), email_hash=UNKNOWN, times=2)
        server.inject(Fault.rate_limited(), times=None)
        statuses = [client.get(_url(server, h)).status_code for h in (KNOWN, UNKNOWN, UNKNOWN)]
        assert statuses == [429, 503, 503]
        assert client.get(_url(server, UNKNOWN)).status_code == 429  # the forever rule
        server.clear_faults()
        assert client.get(_url(server, UNKNOWN)).status_code == 200


def test_slow_reply_beyond_the_client_timeout() -> None:
    with GravatarStandIn(avatars=[KNOWN]) as server, httpx.Client(timeout=0.2) as client:
        server.inject(Fault.slow(3600.0))  # an hour: only close() can end the handler's wait
        with pytest.raises(httpx.ReadTimeout):
            client.get(_url(server, KNOWN))
    # close() joins each handler for at most 5 s; a handler still asleep would be alive.
    assert not any(t.name == "gravatar-stand-in" for t in threading.enumerate())


def test_on_request_hook_runs_before_the_reply() -> None:
    seen: list[RecordedRequest] = []
    with GravatarStandIn(on_request=seen.append) as server, httpx.Client() as client:
        client.get(_url(server, KNOWN))
        assert [r.path for r in seen] == [f"/avatar/{KNOWN}"]


def test_clean_shutdown_with_open_keepalive_connections() -> None:
    server = GravatarStandIn(avatars=[KNOWN]).start()
    port = server.port
    before = {t.name for t in threading.enumerate()}
    assert "gravatar-stand-in-accept" in before
    client = httpx.Client()  # keeps its connection open
    assert client.get(_url(server, KNOWN)).status_code == 200
    server.close()
    server.close()  # idempotent
    client.close()
    assert not any(t.name.startswith("gravatar-stand-in") for t in threading.enumerate())
    with pytest.raises(RuntimeError):
        _ = server.port
    with socket.socket() as probe, pytest.raises(OSError):
        probe.connect(("127.0.0.1", port))
