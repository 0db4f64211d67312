"""Gravatar through a real OHTTP relay and gateway: Gravatar never sees the device."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

from n2net_privacy.contacts import Contact
from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.gravatar import GravatarFetcher, gravatar_hash
from n2net_privacy.gravatar.result import Avatar, NoAvatar, NoAvatarReason
from n2net_privacy.settings import Settings
from n2net_privacy.testing.ohttp_plugin import OhttpStack

EMAILS = [f"person{n}@example.org" for n in range(6)]
CONTACTS = [
    Contact(id=f"c{n}", display_name=f"Person {n}", emails=(e,)) for n, e in enumerate(EMAILS)
]


def _fetcher(stack: OhttpStack, settings: Settings) -> GravatarFetcher:
    hosts = {
        Purpose.GRAVATAR: frozenset({"gravatar.com"}),
        Purpose.OHTTP_RELAY: frozenset({"127.0.0.1"}),
    }
    egress = Egress(EgressPolicy(allowed_hosts=hosts, test_mode=True))
    return GravatarFetcher(settings, egress, oblivious=stack.oblivious())


def test_lookups_go_through_the_relay_and_gravatar_sees_only_the_gateway(
    ohttp_stack: OhttpStack, tmp_path: Path
) -> None:
    with_avatar = [gravatar_hash(e) for e in EMAILS[::2]]
    for digest in with_avatar:
        ohttp_stack.gravatar.add_avatar(digest)
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    fetcher = _fetcher(ohttp_stack, settings)
    try:
        assert fetcher.oblivious_keys is not None
        assert fetcher.oblivious_keys.refresh().usable  # joins the fetch started with it
        first = fetcher.fetch(CONTACTS[0])
        many = asyncio.run(fetcher.fetch_many(CONTACTS))
    finally:
        fetcher.close()
    assert isinstance(first, Avatar)
    assert [isinstance(r, Avatar) for r in many] == [True, False] * 3
    assert all(r.reason is NoAvatarReason.NOT_FOUND for r in many[1::2] if isinstance(r, NoAvatar))
    seen = ohttp_stack.gravatar.requests
    assert {r.client_host for r in seen} == {"127.0.0.3"}
    assert sorted({r.hash for r in seen if r.hash}) == sorted(gravatar_hash(e) for e in EMAILS)
    # The relay saw the device and ciphertext only: no hash, no email, in any encoding.
    sightings = ohttp_stack.relay.sightings()
    assert {s.client_host for s in sightings} == {"127.0.0.1"}
    blob = b"".join(s.body for s in sightings)
    needles = [gravatar_hash(e).encode() for e in EMAILS] + [e.encode() for e in EMAILS]
    needles += [base64.b64encode(bytes.fromhex(gravatar_hash(e))) for e in EMAILS]
    assert [n for n in needles if n in blob] == []


def test_the_switch_still_comes_first_over_ohttp(ohttp_stack: OhttpStack, tmp_path: Path) -> None:
    settings = Settings(tmp_path / "settings.json")
    fetcher = _fetcher(ohttp_stack, settings)
    try:
        result = fetcher.fetch(CONTACTS[0])
    finally:
        fetcher.close()
    assert result == NoAvatar(NoAvatarReason.DISABLED)
    assert ohttp_stack.relay.sightings() == ()
    assert ohttp_stack.gateway.sightings() == ()
