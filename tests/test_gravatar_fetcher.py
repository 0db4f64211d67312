"""GravatarFetcher: only the hash leaves, only while allowed; caching, dedup, back-off."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import respx
from _support import WALL, FakeClock

from n2net_privacy.egress import USER_AGENT, Egress, EgressPolicy, OutgoingRequest, Purpose
from n2net_privacy.errors import EgressPolicyError
from n2net_privacy.gravatar import (
    MAX_IMAGE_BYTES,
    Avatar,
    AvatarCache,
    BackoffPolicy,
    CacheEntry,
    DiskCache,
    GravatarConfig,
    GravatarFetcher,
    MemoryCache,
    NoAvatar,
    NoAvatarReason,
)
from n2net_privacy.settings import Settings
from n2net_privacy.testing import Fault, GravatarStandIn, make_png, png_for_hash

R = NoAvatarReason
NOW = WALL.timestamp()  # FakeClock(NOW): its clock() and time() agree
PNG = make_png()
LOOPBACK = EgressPolicy(
    allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1"})}, test_mode=True
)
Handler = Callable[[httpx.Request], httpx.Response]


def md5(email: str) -> str:
    """An oracle independent of the code under test."""
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Person:
    """A stand-in for contacts.Contact: anything with ``emails`` will do."""

    name: str
    emails: Sequence[str]


class FakeGravatar:
    """A MockTransport handler: PNG for known hashes, 404 otherwise, scriptable."""

    def __init__(self, avatars: Sequence[str] = (), headers: dict[str, str] | None = None) -> None:
        self.avatars = set(avatars)
        self.headers = headers or {}
        self.calls: list[httpx.Request] = []
        self.script: list[Callable[[httpx.Request], httpx.Response]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if self.script:
            return self.script.pop(0)(request)
        email_hash = request.url.path.rsplit("/", 1)[-1]
        if email_hash in self.avatars:
            return httpx.Response(200, content=PNG, headers={"content-type": "image/png",
                                                             **self.headers})
        return httpx.Response(404, headers=self.headers)

    @property
    def hashes(self) -> list[str]:
        return [r.url.path.rsplit("/", 1)[-1] for r in self.calls]


def enabled_settings(path: Path | None = None) -> Settings:
    settings = Settings(path)
    settings.gravatar_enabled = True
    return settings


def make_fetcher(
    settings: Settings,
    handler: Handler,
    *,
    fake_time: FakeClock | None = None,
    async_handler: object = None,
    cache: AvatarCache | None = None,
    **config: object,
) -> GravatarFetcher:
    transport = httpx.MockTransport(handler)
    async_transport = httpx.MockTransport(async_handler or handler)  # type: ignore[arg-type]
    egress = Egress(transport=transport, async_transport=async_transport)
    fake_time = fake_time or FakeClock(NOW)
    return GravatarFetcher(
        settings, egress, GravatarConfig(**config),  # type: ignore[arg-type]
        cache=cache, clock=fake_time.clock, sleep=fake_time.sleep,
        async_sleep=fake_time.async_sleep, rng=random.Random(0),
    )


# -- acceptance: only the hashes leave ------------------------------------------------

BOOK = [
    # First email has an avatar: the second is never asked.
    Person("Zelda Quuxington", ["  Zelda.Quuxington@Example.ORG ", "zq.alternate@example.net"]),
    # Junk in email fields costs no request; the real address has no avatar.
    Person("Yorick Blamford", ["not-an-email", "", "   ", "Yorick.Blamford@Mail.Example.com"]),
    # First 404, second has an avatar, third never asked.
    Person("Xander Pimsleur", ["XANDER.PIMSLEUR@example.COM", "x.pimsleur@work.example",
                               "xander+3@example.io"]),
    # Nothing usable: no request at all.
    Person("Wilma Ngatarawa", ["wilma ngatarawa at example dot com", "@nobody", "wilmaw@"]),
    # The same address twice, differently typed: one request.
    Person("Vera Ostrovskaya", ["vera.ostrovskaya@example.com", " VERA.OSTROVSKAYA@EXAMPLE.COM "]),
    Person("Ümit Çelikkaya", ["Ümit.Çelikkaya@Bücher.example"]),
    # Shares Zelda's address: answered from the in-flight lookup or the cache.
    Person("Zelda Q. (work)", ["zelda.quuxington@example.org"]),
]
WITH_AVATAR = {md5("zelda.quuxington@example.org"), md5("x.pimsleur@work.example"),
               md5("Ümit.Çelikkaya@Bücher.example")}
EXPECTED_HASHES = WITH_AVATAR | {
    md5("yorick.blamford@mail.example.com"),
    md5("xander.pimsleur@example.com"),
    md5("vera.ostrovskaya@example.com"),
}


def _forbidden(book: Sequence[Person]) -> set[str]:
    tokens: set[str] = set()
    for person in book:
        tokens.add(person.name)
        tokens.update(part for part in person.name.split() if len(part) > 3)
        for email in person.emails:
            stripped = email.strip()
            local = stripped.rpartition("@")[0] if "@" in stripped else stripped
            tokens.update(t for t in (email, stripped, stripped.lower(), local) if len(t) > 3)
    variants = set()
    for token in tokens:
        variants |= {token.lower(), quote(token).lower(), quote(token.lower()).lower()}
    return variants


@pytest.mark.parametrize("mode", ["fetch", "fetch_many"])
def test_only_the_expected_hashes_leave_and_no_email_or_name_does(mode: str) -> None:
    settings = enabled_settings()
    avatars = {f"/avatar/{h}" for h in WITH_AVATAR}

    def gravatar(request: httpx.Request) -> httpx.Response:
        if request.url.path in avatars:
            return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})
        return httpx.Response(404)

    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__regex=r"^https://gravatar\.com/avatar/[0-9a-f]{32}\?").mock(
            side_effect=gravatar
        )
        fetcher = GravatarFetcher(settings, Egress())  # the real default egress and URL
        if mode == "fetch":
            results = [fetcher.fetch(person) for person in BOOK]
        else:
            results = asyncio.run(fetcher.fetch_many(BOOK))
        fetcher.close()
        requests = [call.request for call in mock.calls]

    assert {r.url.path for r in requests} == {f"/avatar/{h}" for h in EXPECTED_HASHES}
    assert len(requests) == len(EXPECTED_HASHES)  # each hash asked once
    assert [r.found for r in results] == [True, False, True, False, False, True, True]
    assert [r.reason for r in results if isinstance(r, NoAvatar)] == [
        R.NOT_FOUND, R.INVALID_EMAIL, R.NOT_FOUND,
    ]
    assert isinstance(results[2], Avatar) and results[2].hash == md5("x.pimsleur@work.example")

    forbidden = _forbidden(BOOK)
    for request in requests:
        assert request.url.host == "gravatar.com" and request.url.scheme == "https"
        assert dict(request.url.params) == {"s": "80", "d": "404", "r": "g"}
        assert {k.lower() for k in request.headers} <= {
            "host", "accept", "accept-encoding", "connection", "user-agent",
        }
        assert request.headers["user-agent"] == USER_AGENT
        assert request.content == b""
        wire = "\n".join(
            [str(request.url), *(f"{k.decode()}: {v.decode()}" for k, v in request.headers.raw)]
        ).lower()
        leaked = [token for token in forbidden if token in wire]
        assert not leaked


# -- the consent switch ---------------------------------------------------------------


def test_toggle_off_by_default_means_zero_requests() -> None:
    gravatar = FakeGravatar(avatars=[md5("ann@example.com")])
    fetcher = make_fetcher(Settings(), gravatar)
    assert fetcher.fetch(Person("Ann", ["ann@example.com"])) == NoAvatar(R.DISABLED)
    results = asyncio.run(fetcher.fetch_many([Person("Ann", ["ann@example.com"])] * 3))
    assert results == [NoAvatar(R.DISABLED)] * 3
    assert gravatar.calls == []


def test_switching_off_mid_fetch_many_stops_requests_and_purges(tmp_path: Path) -> None:
    settings = enabled_settings()
    emails = [f"person{i}@example.com" for i in range(40)]
    seen_enabled: list[bool] = []

    def gravatar(request: httpx.Request) -> httpx.Response:
        seen_enabled.append(settings.gravatar_enabled)
        if len(seen_enabled) == 5:
            settings.gravatar_enabled = False  # the user flips the switch now
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    fetcher = make_fetcher(settings, gravatar, cache_dir=tmp_path / "avatars")
    # Warm the disk cache first so the purge has something to remove.
    assert fetcher.fetch(Person("Warm", ["warm@example.com"])).found
    assert list((tmp_path / "avatars").iterdir())
    seen_enabled.clear()

    results = asyncio.run(fetcher.fetch_many(Person(e, [e]) for e in emails))

    assert results == [NoAvatar(R.DISABLED)] * 40
    assert all(seen_enabled), "a request left after the switch"
    assert len(seen_enabled) == 5
    assert fetcher.cache.is_empty()
    assert list((tmp_path / "avatars").iterdir()) == []
    asyncio.run(fetcher.fetch_many(Person(e, [e]) for e in emails))
    assert fetcher.fetch(Person("Warm", ["warm@example.com"])) == NoAvatar(R.DISABLED)
    assert len(seen_enabled) == 5


class GateRecorder:
    """An egress inspector: was the toggle on when each request passed the chokepoint?"""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled: list[bool] = []

    def inspect(self, request: OutgoingRequest) -> None:
        self.enabled.append(self.settings.gravatar_enabled)


def test_switching_off_from_the_stand_in_thread_mid_batch(tmp_path: Path) -> None:
    settings = enabled_settings(tmp_path / "settings.json")
    emails = [f"member{i}@example.com" for i in range(60)]
    gate = GateRecorder(settings)

    def flip_on_tenth(_request: object) -> None:
        if server.request_count == 10:
            settings.gravatar_enabled = False

    with GravatarStandIn(avatars=[md5(e) for e in emails], latency=0.01,
                         on_request=flip_on_tenth) as server:
        fetcher = GravatarFetcher(
            settings, Egress(LOOPBACK, inspectors=[gate]),
            GravatarConfig(base_url=server.base_url, cache_dir=tmp_path / "cache"),
        )
        results = asyncio.run(fetcher.fetch_many([Person(e, [e]) for e in emails]))
        # Every request the batch waited for has landed; one cancelled on the way
        # may land later, and can only raise the count checked against the gate.
        received = server.request_count

    assert results == [NoAvatar(R.DISABLED)] * 60
    assert all(gate.enabled), "a request passed the chokepoint after the switch"
    # A request cancelled just after the gate may never reach the server.
    assert received <= len(gate.enabled) < 10 + 8  # at most one window of concurrency
    assert fetcher.cache.is_empty()
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
    assert Settings(tmp_path / "settings.json").gravatar_enabled is False


def test_switching_off_during_a_blocking_fetch_discards_its_result() -> None:
    settings = enabled_settings()

    def gravatar(request: httpx.Request) -> httpx.Response:
        settings.gravatar_enabled = False
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    fetcher = make_fetcher(settings, gravatar)
    assert fetcher.fetch(["a@example.com", "b@example.com"]) == NoAvatar(R.DISABLED)
    assert fetcher.cache.is_empty()
    settings.gravatar_enabled = True
    fetcher2_calls = FakeGravatar([md5("a@example.com")])
    assert make_fetcher(settings, fetcher2_calls).fetch("a@example.com").found


class StubbornDisk(DiskCache):
    """A disk layer whose files cannot be deleted (read-only mount)."""

    def clear(self) -> None:
        raise PermissionError("read-only")


def test_a_purge_that_fails_on_disk_still_stops_everything(tmp_path: Path) -> None:
    settings = enabled_settings()
    gravatar = FakeGravatar([md5("ann@example.com")])
    fetcher = GravatarFetcher(
        settings, Egress(transport=httpx.MockTransport(gravatar)),
        cache=AvatarCache(MemoryCache(), StubbornDisk(tmp_path)),
    )
    assert fetcher.fetch("ann@example.com").found
    settings.gravatar_enabled = False  # the failed disk purge is logged, never raised
    assert settings.gravatar_enabled is False
    assert len(fetcher.cache.memory) == 0
    assert fetcher.fetch("ann@example.com") == NoAvatar(R.DISABLED)
    assert len(gravatar.calls) == 1


def test_a_fetcher_started_while_off_clears_leftover_disk_files(tmp_path: Path) -> None:
    gravatar = FakeGravatar([md5("ann@example.com")])
    make_fetcher(enabled_settings(), gravatar, cache_dir=tmp_path).fetch("ann@example.com")
    assert list(tmp_path.iterdir())
    make_fetcher(Settings(), gravatar, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_close_stops_observing_settings() -> None:
    settings = enabled_settings()
    gravatar = FakeGravatar([md5("ann@example.com")])
    with make_fetcher(settings, gravatar) as fetcher:
        assert fetcher.fetch("ann@example.com").found
    settings.gravatar_enabled = False
    assert not fetcher.cache.is_empty()  # closed: the revocation no longer reaches it


# -- emails, in order -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("contact", "expected", "asked"),
    [
        (["first@example.com", "second@example.com"], "first", ["first"]),
        (["nobody@example.com", "second@example.com"], "second", ["nobody", "second"]),
        (["", "plain text", "second@example.com"], "second", ["second"]),
        ("second@example.com", "second", ["second"]),
        (Person("P", ["nobody@example.com"]), R.NOT_FOUND, ["nobody"]),
        (Person("P", []), R.INVALID_EMAIL, []),
        ([], R.INVALID_EMAIL, []),
        (["", "  ", "no at sign", "@", "x@"], R.INVALID_EMAIL, []),
    ],
)
def test_emails_are_tried_in_order_and_junk_is_skipped(
    contact: object, expected: str | NoAvatarReason, asked: list[str]
) -> None:
    gravatar = FakeGravatar([md5("first@example.com"), md5("second@example.com")])
    result = make_fetcher(enabled_settings(), gravatar).fetch(contact)  # type: ignore[arg-type]
    if isinstance(expected, NoAvatarReason):
        assert result == NoAvatar(expected)
    else:
        assert isinstance(result, Avatar) and result.hash == md5(f"{expected}@example.com")
        assert result.content == PNG and result.content_type == "image/png"
    assert gravatar.hashes == [md5(f"{name}@example.com") for name in asked]


def test_a_transient_failure_is_reported_over_not_found() -> None:
    gravatar = FakeGravatar()
    gravatar.script = [lambda r: httpx.Response(404),
                       lambda r: (_ for _ in ()).throw(httpx.ConnectError("down", request=r))]
    result = make_fetcher(enabled_settings(), gravatar).fetch(["a@x.example", "b@x.example"])
    assert result == NoAvatar(R.NETWORK)


def test_sha256_setting_changes_what_is_sent() -> None:
    settings = enabled_settings()
    settings.gravatar_hash_algorithm = "sha256"
    gravatar = FakeGravatar()
    make_fetcher(settings, gravatar).fetch(" Ann@Example.com")
    assert gravatar.hashes == [hashlib.sha256(b"ann@example.com").hexdigest()]


# -- cache rules -----------------------------------------------------------------------


def test_cache_hit_then_max_age_expiry() -> None:
    clock = FakeClock(NOW)
    gravatar = FakeGravatar([md5("ann@example.com")], headers={"cache-control": "max-age=300"})
    fetcher = make_fetcher(enabled_settings(), gravatar, fake_time=clock)
    first = fetcher.fetch("ann@example.com")
    clock.now += 299
    assert fetcher.fetch("ANN@example.com") == first
    assert len(gravatar.calls) == 1
    clock.now += 2
    assert fetcher.fetch("ann@example.com") == first
    assert len(gravatar.calls) == 2


def test_without_headers_the_ttl_is_one_hour_and_404_is_cached_too() -> None:
    clock = FakeClock(NOW)
    gravatar = FakeGravatar([md5("ann@example.com")])
    fetcher = make_fetcher(enabled_settings(), gravatar, fake_time=clock)
    assert fetcher.fetch("ann@example.com").found
    assert fetcher.fetch("nobody@example.com") == NoAvatar(R.NOT_FOUND)
    clock.now += 3599
    assert fetcher.fetch("ann@example.com").found
    assert fetcher.fetch("nobody@example.com") == NoAvatar(R.NOT_FOUND)
    assert len(gravatar.calls) == 2
    clock.now += 2
    fetcher.fetch("ann@example.com")
    fetcher.fetch("nobody@example.com")
    assert len(gravatar.calls) == 4


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("down", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: httpx.Response(500),
    ],
)
def test_failures_are_not_cached(failure: Handler) -> None:
    gravatar = FakeGravatar([md5("ann@example.com")])
    gravatar.script = [failure]
    fetcher = make_fetcher(enabled_settings(), gravatar)
    assert not fetcher.fetch("ann@example.com").found
    assert fetcher.fetch("ann@example.com").found
    assert len(gravatar.calls) == 2


def test_disk_cache_survives_a_restart(tmp_path: Path) -> None:
    settings = enabled_settings()
    first = FakeGravatar([md5("ann@example.com")])
    make_fetcher(settings, first, cache_dir=tmp_path).fetch("ann@example.com")
    make_fetcher(settings, first, cache_dir=tmp_path).fetch("nobody@example.com")
    second = FakeGravatar()
    fetcher = make_fetcher(settings, second, cache_dir=tmp_path)
    assert fetcher.fetch("ann@example.com").found
    assert fetcher.fetch("nobody@example.com") == NoAvatar(R.NOT_FOUND)
    assert second.calls == []


# -- dedup and bounded concurrency -------------------------------------------------------


class CountingCache(AvatarCache):
    """Counts lookups: the fetcher asks memory once per claim, before it joins a flight."""

    def __init__(self) -> None:
        super().__init__(MemoryCache())
        self.asked = 0
        self.changed = threading.Condition()

    def recall(self, key: str, now: float) -> CacheEntry | None:
        with self.changed:
            self.asked += 1
            self.changed.notify_all()
        return super().recall(key, now)


def test_concurrent_identical_hashes_are_fetched_once() -> None:
    gate = asyncio.Event()
    calls: list[str] = []

    async def slow_gravatar(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        await gate.wait()
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    cache = CountingCache()
    fetcher = make_fetcher(
        enabled_settings(), FakeGravatar(), async_handler=slow_gravatar, cache=cache
    )
    people = [Person(str(i), [f"  SAME@example.com{' ' * (i % 3)}"]) for i in range(30)]

    async def run() -> list[object]:
        batch = asyncio.ensure_future(fetcher.fetch_many(people))
        while cache.asked < 30:  # every task asks the cache, then joins the one lookup
            await asyncio.sleep(0)
        assert len(calls) == 1
        gate.set()
        return list(await batch)

    results = asyncio.run(run())
    assert calls == [f"/avatar/{md5('same@example.com')}"]
    assert all(isinstance(r, Avatar) for r in results)


def test_blocking_fetches_from_several_threads_share_one_request() -> None:
    cache = CountingCache()
    gravatar = FakeGravatar([md5("same@example.com")])

    def slow(request: httpx.Request) -> httpx.Response:
        # Answer only once all five have asked the (empty) cache: the other
        # four are then waiting on this request's result, not on a cached one.
        with cache.changed:
            assert cache.changed.wait_for(lambda: cache.asked >= 5, timeout=20)
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    gravatar.script = [slow]
    fetcher = make_fetcher(enabled_settings(), gravatar, cache=cache)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(fetcher.fetch("SAME@example.com")))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cache.asked == 5
    assert len(gravatar.calls) == 1
    assert len(results) == 5 and all(isinstance(r, Avatar) for r in results)


@pytest.mark.parametrize("concurrency", [None, 3])
def test_requests_in_flight_never_exceed_the_bound(concurrency: int | None) -> None:
    active = peak = 0

    async def gravatar(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        active -= 1
        return httpx.Response(404)

    if concurrency is None:
        fetcher = make_fetcher(enabled_settings(), FakeGravatar(), async_handler=gravatar)
    else:
        fetcher = make_fetcher(enabled_settings(), FakeGravatar(), async_handler=gravatar,
                               concurrency=concurrency)
    results = asyncio.run(fetcher.fetch_many(f"u{i}@example.com" for i in range(30)))
    assert results == [NoAvatar(R.NOT_FOUND)] * 30
    assert peak == (concurrency or 8)


# -- timeouts, images, back-off ------------------------------------------------------------


def test_every_request_carries_the_configured_timeout() -> None:
    gravatar = FakeGravatar()
    make_fetcher(enabled_settings(), gravatar, timeout=1.25).fetch("ann@example.com")
    assert gravatar.calls[0].extensions["timeout"] == {
        "connect": 1.25, "read": 1.25, "write": 1.25, "pool": 1.25,
    }


def test_a_reply_slower_than_the_timeout_is_no_avatar() -> None:
    settings = enabled_settings()
    email_hash = md5("ann@example.com")
    with GravatarStandIn(avatars=[email_hash]) as server:
        server.inject(Fault.slow(3.0))
        fetcher = GravatarFetcher(settings, Egress(LOOPBACK),
                                  GravatarConfig(base_url=server.base_url, timeout=0.2))
        # TIMEOUT, not the avatar the server sends after 3 s: the 0.2 s timeout fired.
        assert fetcher.fetch("ann@example.com") == NoAvatar(R.TIMEOUT)
        assert fetcher.fetch("ann@example.com") == Avatar(email_hash, png_for_hash(email_hash),
                                                          "image/png")
        fetcher.close()


@pytest.mark.parametrize(
    ("fault", "max_bytes"),
    [(Fault.wrong_content_type(), MAX_IMAGE_BYTES),
     (Fault.oversized(MAX_IMAGE_BYTES + 1), MAX_IMAGE_BYTES),
     (Fault.oversized(5000), 4096)],
)
def test_wrong_type_or_oversized_is_no_avatar_and_cached(fault: Fault, max_bytes: int) -> None:
    settings = enabled_settings()
    with GravatarStandIn(avatars=[md5("ann@example.com")]) as server:
        server.inject(fault)
        fetcher = GravatarFetcher(
            settings, Egress(LOOPBACK),
            GravatarConfig(base_url=server.base_url, max_image_bytes=max_bytes),
        )
        assert fetcher.fetch("ann@example.com") == NoAvatar(R.BAD_IMAGE)
        assert fetcher.fetch("ann@example.com") == NoAvatar(R.BAD_IMAGE)
        assert server.request_count == 1
        fetcher.close()


def test_an_image_of_exactly_one_mebibyte_is_accepted() -> None:
    body = PNG + b"\x00" * (MAX_IMAGE_BYTES - len(PNG))
    gravatar = FakeGravatar()
    gravatar.script = [lambda r: httpx.Response(200, content=body,
                                                headers={"content-type": "image/png"})]
    result = make_fetcher(enabled_settings(), gravatar).fetch("ann@example.com")
    assert isinstance(result, Avatar) and result.size == MAX_IMAGE_BYTES


def _refuse(status: int, retry_after: str | None) -> Handler:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return lambda r: httpx.Response(status, headers=headers)


def test_429_with_short_retry_after_waits_then_succeeds() -> None:
    clock = FakeClock(NOW)
    gravatar = FakeGravatar([md5("ann@example.com")])
    gravatar.script = [_refuse(429, "2")]
    result = make_fetcher(enabled_settings(), gravatar, fake_time=clock).fetch("ann@example.com")
    assert result.found
    assert clock.sleeps == [2.0]
    assert len(gravatar.calls) == 2


def test_429_with_long_retry_after_closes_the_host_without_hammering() -> None:
    clock = FakeClock(NOW)
    gravatar = FakeGravatar([md5("ann@example.com"), md5("bob@example.com")])
    gravatar.script = [_refuse(429, "120")]
    fetcher = make_fetcher(enabled_settings(), gravatar, fake_time=clock)
    assert fetcher.fetch("ann@example.com") == NoAvatar(R.RATE_LIMITED)
    assert fetcher.fetch("bob@example.com") == NoAvatar(R.RATE_LIMITED)  # no request
    assert asyncio.run(fetcher.fetch_many(["bob@example.com"])) == [NoAvatar(R.RATE_LIMITED)]
    assert len(gravatar.calls) == 1 and clock.sleeps == []
    clock.now += 120
    assert fetcher.fetch("bob@example.com").found
    assert fetcher.fetch("ann@example.com").found  # the refusal was not cached
    assert len(gravatar.calls) == 3


def test_503_without_retry_after_backs_off_with_jitter() -> None:
    clock = FakeClock(NOW)
    gravatar = FakeGravatar([md5("ann@example.com")])
    gravatar.script = [_refuse(503, None), _refuse(503, None)]
    fetcher = make_fetcher(enabled_settings(), gravatar, fake_time=clock,
                           backoff=BackoffPolicy(base=1.0, max_wait=5.0))
    assert fetcher.fetch("ann@example.com").found
    assert len(clock.sleeps) == 2
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0


def test_a_host_that_keeps_refusing_gets_a_bounded_number_of_requests() -> None:
    clock = FakeClock(NOW)
    gravatar = FakeGravatar([md5("ann@example.com")])
    gravatar.script = [_refuse(429, "1")] * 10
    fetcher = make_fetcher(enabled_settings(), gravatar, fake_time=clock,
                           backoff=BackoffPolicy(max_attempts=3))
    assert fetcher.fetch("ann@example.com") == NoAvatar(R.RATE_LIMITED)
    assert len(gravatar.calls) == 3


def test_fetch_many_backs_off_too() -> None:
    clock = FakeClock(NOW)
    emails = [f"p{i}@example.com" for i in range(10)]
    gravatar = FakeGravatar([md5(e) for e in emails])
    gravatar.script = [_refuse(429, "1")]
    fetcher = make_fetcher(enabled_settings(), gravatar, fake_time=clock, concurrency=1)
    results = asyncio.run(fetcher.fetch_many(emails))
    assert all(r.found for r in results)
    assert clock.sleeps == [1.0]
    assert len(gravatar.calls) == 11


# -- configuration errors are exceptions ----------------------------------------------------


def test_a_host_outside_the_allowlist_is_a_configuration_error() -> None:
    fetcher = GravatarFetcher(enabled_settings(), Egress(),
                              GravatarConfig(base_url="https://evil.example/avatar/"))
    with pytest.raises(EgressPolicyError):
        fetcher.fetch("ann@example.com")


# -- disk I/O outside the fetcher's lock ------------------------------------------------


class BlockingDisk(DiskCache):
    """A disk layer whose read of one key blocks until the test lets it go on."""

    def __init__(self, directory: Path, slow_key_prefix: str) -> None:
        super().__init__(directory)
        self.slow_key_prefix = slow_key_prefix
        self.reading, self.go_on = threading.Event(), threading.Event()

    def get(self, key: str, now: float) -> CacheEntry | None:
        if key.startswith(self.slow_key_prefix):
            self.reading.set()
            assert self.go_on.wait(20)
        return super().get(key, now)


def test_a_lookup_proceeds_while_another_waits_on_the_disk(tmp_path: Path) -> None:
    gravatar = FakeGravatar([md5("ann@example.com"), md5("bob@example.com")])
    disk = BlockingDisk(tmp_path, slow_key_prefix=md5("ann@example.com"))
    fetcher = make_fetcher(enabled_settings(), gravatar, cache=AvatarCache(MemoryCache(), disk))
    ann: list[object] = []
    slow = threading.Thread(target=lambda: ann.append(fetcher.fetch("ann@example.com")))
    slow.start()
    assert disk.reading.wait(20)  # Ann's lookup is inside its disk read
    bob: list[object] = []
    quick = threading.Thread(target=lambda: bob.append(fetcher.fetch("bob@example.com")))
    quick.start()
    quick.join(20)
    assert not quick.is_alive(), "a lookup waited for another lookup's disk read"
    assert bob and isinstance(bob[0], Avatar)
    assert ann == []
    disk.go_on.set()
    slow.join(20)
    assert not slow.is_alive()
    assert ann and isinstance(ann[0], Avatar)


def test_a_disk_entry_read_across_a_revocation_is_not_promoted(tmp_path: Path) -> None:
    settings = enabled_settings()
    gravatar = FakeGravatar([md5("ann@example.com")])
    make_fetcher(settings, gravatar, cache_dir=tmp_path).fetch("ann@example.com")  # on disk
    disk = BlockingDisk(tmp_path, slow_key_prefix=md5("ann@example.com"))
    fetcher = make_fetcher(settings, gravatar, cache=AvatarCache(MemoryCache(), disk))
    ann: list[object] = []
    reader = threading.Thread(target=lambda: ann.append(fetcher.fetch("ann@example.com")))
    reader.start()
    assert disk.reading.wait(20)
    settings.gravatar_enabled = False  # the purge does not wait for the read
    assert len(fetcher.cache.memory) == 0
    disk.go_on.set()
    reader.join(20)
    assert not reader.is_alive()
    assert ann == [NoAvatar(R.DISABLED)]
    assert fetcher.cache.is_empty()
    assert len(gravatar.calls) == 1  # only the first fetcher's request


def test_a_file_written_after_a_revocation_purged_the_disk_is_removed(tmp_path: Path) -> None:
    settings = enabled_settings()
    gravatar = FakeGravatar([md5("ann@example.com")])

    class RevokeBeforeWrite(DiskCache):
        def put(self, key: str, entry: CacheEntry) -> None:
            settings.gravatar_enabled = False  # the purge runs first, then the file lands
            super().put(key, entry)

    fetcher = make_fetcher(
        settings, gravatar, cache=AvatarCache(MemoryCache(), RevokeBeforeWrite(tmp_path))
    )
    fetcher.fetch("ann@example.com")
    assert list(tmp_path.iterdir()) == []
    assert fetcher.cache.is_empty()
