"""Demo chapter 3: Gravatar, only when enabled in Settings, only the hash leaves.

Policy: "only when Gravatar use is enabled, we hash each contact's email
address and send it to Gravatar ... a user can revoke Gravatar access at any
time in Settings, and his/her app experience is not hindered or interrupted."
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from n2net_privacy.audit import EgressAuditor
from n2net_privacy.contacts import Contact
from n2net_privacy.demo.story import Story
from n2net_privacy.egress import Egress
from n2net_privacy.gravatar import (
    Avatar,
    GravatarConfig,
    GravatarFetcher,
    NoAvatar,
    NoAvatarReason,
    gravatar_hash,
)
from n2net_privacy.settings import Settings
from n2net_privacy.testing.servers.gravatar import GravatarStandIn, RecordedRequest

__all__ = ["GravatarPlan", "gravatar_chapter"]

CONCURRENCY = 8
SWITCH_OFF_AFTER = 20  # requests into the interrupted batch, or half of a smaller batch


def _unique_hashes(contacts: list[Contact]) -> set[str]:
    return {gravatar_hash(e) for c in contacts for e in c.emails if "@" in e}


def _hashes_to_ask(contacts: list[Contact], with_avatar: set[str]) -> set[str]:
    """What the fetcher must ask for: each contact's emails in order, up to the first hit."""
    asked: set[str] = set()
    for contact in contacts:
        for email in contact.emails:
            asked.add(gravatar_hash(email))
            if gravatar_hash(email) in with_avatar:
                break
    return asked


@dataclass(frozen=True, slots=True)
class GravatarPlan:
    """Who is looked up in which batch, worked out from the book before anything runs.

    The switch-off must fall inside the second batch whatever the book's
    size: it comes after ``switch_after`` of the ``needed`` requests (those
    the first batch did not already answer from the cache), at most
    :data:`SWITCH_OFF_AFTER`, at least the first. With only a few contacts
    the second quarter may hold no new email; the batch then runs on to the
    end of the book. A book where even that finds none cannot show the
    switch-off, and :attr:`needed` is empty (the demo refuses it up front).
    """

    first: list[Contact]
    second: list[Contact]
    with_avatar: list[str]
    needed: frozenset[str]

    @classmethod
    def for_book(cls, book: list[Contact]) -> GravatarPlan:
        with_avatar = sorted(_unique_hashes(book))[::2]  # half the addresses have an avatar
        avatars = set(with_avatar)
        first = book[: len(book) // 4]
        asked_first = _hashes_to_ask(first, avatars)
        second = book[len(book) // 4 : len(book) // 2]
        needed = _hashes_to_ask(second, avatars) - asked_first
        if not needed:
            second = book[len(book) // 4 :]
            needed = _hashes_to_ask(second, avatars) - asked_first
        return cls(first, second, with_avatar, frozenset(needed))

    @property
    def switch_after(self) -> int:
        return max(1, min(SWITCH_OFF_AFTER, (len(self.needed) + 1) // 2))


class SentCounter:
    """An egress inspector that counts requests as they leave the device (ordering, not clocks)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def inspect(self, _request: object) -> None:
        with self._lock:
            self.count += 1


def gravatar_chapter(
    story: Story,
    book: list[Contact],
    egress: Egress,
    data_dir: Path,
    *,
    auditor: EgressAuditor | None = None,
    route: Callable[[str], str] = lambda url: url,
) -> None:
    story.chapter("Chapter 3 - Gravatar: off by default, hash only, revocable mid-batch")
    plan = GravatarPlan.for_book(book)
    with_avatar = plan.with_avatar
    settings = Settings(data_dir / "settings.json")
    if auditor is not None:
        # Any email hash that leaves while the toggle is off is then a finding.
        auditor.watch_gravatar_consent(lambda: settings.gravatar_enabled)
    stand_in = GravatarStandIn(with_avatar, latency=0.005).start()
    sent = SentCounter()
    egress.add_inspector(sent)
    fetcher = GravatarFetcher(
        settings,
        egress,
        GravatarConfig(
            base_url=route(stand_in.base_url),
            concurrency=CONCURRENCY,
            cache_dir=data_dir / "avatars",
        ),
    )
    try:
        _run(
            story, settings=settings, stand_in=stand_in, fetcher=fetcher, plan=plan, sent=sent,
        )
    finally:
        fetcher.close()
        stand_in.close()


def _run(
    story: Story,
    *,
    settings: Settings,
    stand_in: GravatarStandIn,
    fetcher: GravatarFetcher,
    plan: GravatarPlan,
    sent: SentCounter,
) -> None:
    first, second, switch_after = plan.first, plan.second, plan.switch_after
    results = asyncio.run(fetcher.fetch_many(first))
    story.check(
        not settings.gravatar_enabled
        and stand_in.request_count == 0
        and all(isinstance(r, NoAvatar) and r.reason is NoAvatarReason.DISABLED for r in results),
        f"Gravatar is off by default: {len(first)} contacts, 0 requests, initials shown",
    )

    settings.gravatar_enabled = True
    story.event("user", "enables Gravatar in Settings")
    results = asyncio.run(fetcher.fetch_many(first))
    avatars = [r for r in results if isinstance(r, Avatar)]
    expected = _hashes_to_ask(first, {h for h in _unique_hashes(first) if stand_in.avatar(h)})
    asked = {r.hash for r in stand_in.requests}
    story.say(
        f"{len(first)} contacts, {len(_unique_hashes(first))} distinct emails -> "
        f"{stand_in.request_count} requests, {len(avatars)} contacts with an avatar"
    )
    for avatar in avatars[:3]:
        story.say(f"  avatar {avatar.hash}  {avatar.size} bytes  {avatar.content_type}")
    story.check(
        asked == expected and stand_in.request_count == len(expected),
        "one request per needed hash: emails tried in order, stopping at the first avatar",
    )
    story.check(
        all(not r.query or "@" not in r.query for r in stand_in.requests)
        and all(len(r.path.rsplit("/", 1)[-1]) == 32 for r in stand_in.requests),
        "the URL carries only the MD5 hash, never the email",
    )
    before = stand_in.request_count
    asyncio.run(fetcher.fetch_many(first))
    story.check(stand_in.request_count == before, "a second pass is served from the cache")

    received: list[int] = []
    returned: list[int] = []
    lock, switched_off = threading.Lock(), threading.Event()

    def switch_off(_request: RecordedRequest) -> None:
        with lock:  # the stand-in serves requests on several threads
            if stand_in.request_count - before < switch_after or received:
                return
            received.append(stand_in.request_count)
        try:
            settings.gravatar_enabled = False
        finally:
            returned.append(sent.count)
            switched_off.set()

    stand_in.on_request = switch_off
    results = asyncio.run(fetcher.fetch_many(second))
    # The setter runs on the stand-in's thread: the batch can end before it returns.
    with lock:
        started = bool(received)
    if started:
        switched_off.wait()
    story.event("user", "disables Gravatar in Settings in the middle of a batch")
    story.check(
        bool(returned) and sent.count == returned[0] and stand_in.request_count <= returned[0],
        "no request left the device after the switch-off returned, and every request "
        f"Gravatar saw had left before ({returned[0] - received[0] if returned else -1} "
        "were already on their way)",
    )
    story.check(
        all(isinstance(r, NoAvatar) for r in results),
        "every result of the interrupted batch is 'no avatar': the app shows initials",
    )
    story.check(fetcher.cache.is_empty(), "the memory and disk avatar caches were purged")
    count = stand_in.request_count
    asyncio.run(fetcher.fetch_many(first))
    story.check(stand_in.request_count == count, "once off, no request is made at all")
