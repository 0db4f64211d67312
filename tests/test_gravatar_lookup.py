"""One lookup as a generator of actions: stepped by hand, no socket, no mock."""

from __future__ import annotations

import random

import pytest
from _support import FakeClock

from n2net_privacy.egress import EgressResponse
from n2net_privacy.errors import NetworkError, NetworkTimeout
from n2net_privacy.gravatar import (
    Avatar,
    BackoffPolicy,
    GravatarConfig,
    HashAlgorithm,
    NoAvatar,
    NoAvatarReason,
    gravatar_hash,
)
from n2net_privacy.gravatar.backoff import HostBackoff
from n2net_privacy.gravatar.lookup import (
    Outcome,
    Reply,
    Send,
    Sleep,
    Steps,
    hashes_for,
    lookup_steps,
    summarize,
)
from n2net_privacy.testing import make_png

H = "0bc83cb571cd1c50ba6f3e8a78ef1346"
URL = f"https://gravatar.com/avatar/{H}?s=80&d=404&r=g"
PNG = make_png()
R = NoAvatarReason
NOW = 1_700_000_000.0


def ok(headers: dict[str, str] | None = None) -> EgressResponse:
    return EgressResponse(200, {"content-type": "image/png", **(headers or {})}, PNG)


def status(code: int, headers: dict[str, str] | None = None) -> EgressResponse:
    return EgressResponse(code, headers or {}, b"")


def steps(
    clock: FakeClock, *, allowed: list[bool] | None = None, policy: BackoffPolicy | None = None
) -> tuple[Steps, HostBackoff]:
    config = GravatarConfig(backoff=policy or BackoffPolicy())
    backoff = HostBackoff(config.backoff, random.Random(0))
    gate = iter(allowed) if allowed is not None else None
    generator = lookup_steps(
        H, urls=config.url_builder(), config=config, backoff=backoff, now_s=clock,
        may_send=lambda: next(gate) if gate is not None else True,
    )
    return generator, backoff


def run(generator: Steps, replies: list[Reply], clock: FakeClock) -> tuple[list[object], Outcome]:
    """Answer each Send with the next reply; advance the clock on each Sleep."""
    actions: list[object] = []
    reply: Reply = None
    pending = list(replies)
    try:
        while True:
            action = generator.send(reply)
            actions.append(action)
            if isinstance(action, Sleep):
                clock.now += action.seconds
                reply = None
            else:
                reply = pending.pop(0)
    except StopIteration as stop:
        return actions, stop.value


@pytest.mark.parametrize(
    ("replies", "expected_actions", "result", "ttl"),
    [
        ([ok()], [Send(URL)], Avatar(H, PNG, "image/png"), 3600.0),
        ([ok({"cache-control": "max-age=60"})], [Send(URL)], Avatar(H, PNG, "image/png"), 60.0),
        ([status(404)], [Send(URL)], NoAvatar(R.NOT_FOUND), 3600.0),
        ([status(404, {"cache-control": "no-store"})], [Send(URL)], NoAvatar(R.NOT_FOUND), 0.0),
        ([EgressResponse(200, {"content-type": "text/html"}, b"<html>")], [Send(URL)],
         NoAvatar(R.BAD_IMAGE), 3600.0),
        ([status(0)], [Send(URL)], NoAvatar(R.BAD_IMAGE), 3600.0),
        ([status(500)], [Send(URL)], NoAvatar(R.NETWORK), 0.0),
        ([NetworkTimeout("t")], [Send(URL)], NoAvatar(R.TIMEOUT), 0.0),
        ([NetworkError("n")], [Send(URL)], NoAvatar(R.NETWORK), 0.0),
        ([status(429, {"retry-after": "3"}), ok()], [Send(URL), Sleep(3.0), Send(URL)],
         Avatar(H, PNG, "image/png"), 3600.0),
        ([status(503, {"retry-after": "3"}), status(404)], [Send(URL), Sleep(3.0), Send(URL)],
         NoAvatar(R.NOT_FOUND), 3600.0),
        ([status(429, {"retry-after": "60"})], [Send(URL)], NoAvatar(R.RATE_LIMITED), 0.0),
        ([status(429, {"retry-after": "1"})] * 3,
         [Send(URL), Sleep(1.0), Send(URL), Sleep(1.0), Send(URL)],
         NoAvatar(R.RATE_LIMITED), 0.0),
    ],
)
def test_lookup_table(
    replies: list[Reply], expected_actions: list[object], result: object, ttl: float
) -> None:
    clock = FakeClock(NOW)
    generator, _ = steps(clock)
    actions, outcome = run(generator, replies, clock)
    assert actions == expected_actions
    assert outcome == (result, ttl)


def test_consent_is_asked_before_every_send() -> None:
    clock = FakeClock(NOW)
    generator, _ = steps(clock, allowed=[True, False])
    actions, outcome = run(generator, [status(429, {"retry-after": "1"})], clock)
    assert actions == [Send(URL), Sleep(1.0)]  # the retry was never sent
    assert outcome == (NoAvatar(R.DISABLED), 0.0)


def test_a_closed_host_costs_no_request() -> None:
    clock = FakeClock(NOW)
    generator, backoff = steps(clock)
    backoff.refused("gravatar.com", 600.0, NOW)
    actions, outcome = run(generator, [], clock)
    assert actions == []
    assert outcome == (NoAvatar(R.RATE_LIMITED), 0.0)


def test_a_host_closed_for_a_short_while_is_waited_for() -> None:
    clock = FakeClock(NOW)
    generator, backoff = steps(clock)
    backoff.refused("gravatar.com", 2.0, NOW)
    actions, outcome = run(generator, [ok()], clock)
    assert actions == [Sleep(2.0), Send(URL)]
    assert outcome[0] == Avatar(H, PNG, "image/png")


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        ("MyEmailAddress@example.com ", [H]),
        (["", "nope", " MYEMAILADDRESS@EXAMPLE.COM", "MyEmailAddress@example.com"], [H]),
        (["b@example.com", "a@example.com"],
         [gravatar_hash("b@example.com"), gravatar_hash("a@example.com")]),
        ([], []),
    ],
)
def test_hashes_for(contact: list[str] | str, expected: list[str]) -> None:
    assert hashes_for(contact, HashAlgorithm.MD5) == expected


@pytest.mark.parametrize(
    ("reasons", "expected"),
    [
        ([R.NOT_FOUND], R.NOT_FOUND),
        ([R.NOT_FOUND, R.TIMEOUT], R.TIMEOUT),
        ([R.BAD_IMAGE, R.NETWORK], R.BAD_IMAGE),
        ([], R.INVALID_EMAIL),
    ],
)
def test_summarize(reasons: list[NoAvatarReason], expected: NoAvatarReason) -> None:
    assert summarize(reasons) == NoAvatar(expected)
