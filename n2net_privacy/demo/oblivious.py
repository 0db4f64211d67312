"""Demo chapter 5: the same uploads and lookups through Oblivious HTTP, and who saw what.

Policy: the number "cannot be directly or indirectly attributed to any
person". With a relay configured, the relay sees the device's address but
only ciphertext, and the ingest and Gravatar see only the gateway's address.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import ExitStack
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.audit import EgressAuditor
from n2net_privacy.contacts import Contact
from n2net_privacy.demo.story import Story
from n2net_privacy.egress import Egress, PinSet
from n2net_privacy.gravatar import GravatarFetcher, gravatar_hash
from n2net_privacy.gravatar.result import Avatar
from n2net_privacy.ohttp.client import ObliviousConfig
from n2net_privacy.settings import Settings
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing.servers.gravatar import GravatarStandIn
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.testing.servers.ohttp import OhttpGatewayServer, OhttpRelay
from n2net_privacy.uploader import ServerKeyPair
from n2net_privacy.uploader.recorder import Endpoint, Uploader
from n2net_privacy.uploader.send.sender import SenderConfig

__all__ = ["oblivious_chapter"]

APP_KEY = "demo-app-key"
DEVICE, RELAY_SOURCE, GATEWAY_SOURCE = "127.0.0.1", "127.0.0.2", "127.0.0.3"


def _numbers(book: list[Contact]) -> list[str]:
    return [p.number for c in book for p in c.phones if p.number.startswith("+")][:30]


def oblivious_chapter(
    story: Story,
    book: list[Contact],
    egress: Egress,
    server_key: ServerKeyPair,
    data_dir: Path,
    *,
    auditor: EgressAuditor | None = None,
) -> None:
    story.chapter("Chapter 5 - Oblivious HTTP: N2Net gets the numbers, not who sent them")
    numbers = _numbers(book)
    # One email per Gravatar id: "Ann.Lee@x" and "ann.lee@x" are one hash, and
    # would both get (or both lack) the avatar that only one of them was given.
    every_email = sorted({e for c in book for e in c.emails})
    emails = sorted({gravatar_hash(e): e for e in every_email}.values())[:12]
    with ExitStack() as stack:
        ingest = stack.enter_context(IngestServer(server_key, app_key=APP_KEY))
        gravatar = stack.enter_context(GravatarStandIn([gravatar_hash(e) for e in emails[::2]]))
        keys = ohttp.Gateway([(1, x25519.X25519PrivateKey.generate())])
        # The app ships the pins of the gateway's key and of its next one (the backup).
        backup = ohttp.Gateway([(2, x25519.X25519PrivateKey.generate())])
        pins = PinSet(
            {ohttp.key_config_pin(c) for c in keys.key_configs() + backup.key_configs()},
            expires=dt.date(2099, 1, 1),
        )
        gateway = stack.enter_context(
            OhttpGatewayServer(
                keys,
                {"api.n2net.com": ingest.url, "gravatar.com": f"http://127.0.0.1:{gravatar.port}"},
                source_host=GATEWAY_SOURCE,
            )
        )
        relay = stack.enter_context(OhttpRelay(gateway.gateway_url, source_host=RELAY_SOURCE))
        story.event("N2Net", f"runs the gateway; a third party runs the relay ({RELAY_SOURCE})")
        # The app ships the gateway's configuration (so no send waits for a fetch) and
        # refreshes it through the relay; either counts only when pinned.
        config = ObliviousConfig(
            relay_url=relay.url, key_config=keys.encoded_key_configs(),
            key_config_url=relay.keys_url, key_pins=pins, key_refresh_jitter_s=0.0,
        )

        uploader = Uploader(
            Endpoint("https://api.n2net.com", APP_KEY, server_key.public, oblivious=config),
            data_dir / "uploader", key_store=SimulatedAndroidKeystore(), egress=egress,
            region="US", sending=SenderConfig(linger_s=0.05),
        )
        try:
            ids = {uploader.record_sms(n).event_id for n in numbers}
            story.check(uploader.flush(15), f"{len(ids)} SMS events sent through the relay")
        finally:
            uploader.close(5)
        stored = ingest.events()
        story.check(
            {e.id for e in stored} == ids and len(stored) == len(ids),
            "every event reached the ingest exactly once",
        )

        settings = Settings(data_dir / "settings.json")
        settings.gravatar_enabled = True
        if auditor is not None:
            # The auditor reads the inner lookups too: they go out under this switch.
            auditor.watch_gravatar_consent(lambda: settings.gravatar_enabled)
        fetcher = GravatarFetcher(settings, egress, oblivious=config)
        try:
            contacts = [
                Contact(id=f"o{n}", display_name="x", emails=(e,)) for n, e in enumerate(emails)
            ]
            results = asyncio.run(fetcher.fetch_many(contacts))
        finally:
            fetcher.close()
        story.check(
            sum(isinstance(r, Avatar) for r in results) == len(emails[::2]),
            f"{len(emails)} Gravatar lookups through the relay: the avatars came back",
        )

        sightings = relay.sightings()
        blob = b"".join(s.body for s in sightings)
        secrets = [n.encode() for n in numbers] + [i.encode() for i in ids if i]
        secrets += [gravatar_hash(e).encode() for e in emails]
        seen_by_ingest = {r.client_host for r in ingest.requests()}
        seen_by_gravatar = {r.client_host for r in gravatar.requests}
        story.say("who saw what:")
        story.say(
            f"  relay:    the device ({', '.join(sorted({s.client_host for s in sightings}))}), "
            f"{len(sightings)} encrypted requests, {sum(1 for s in secrets if s in blob)} numbers, "
            "event ids or email hashes"
        )
        relays = ", ".join(sorted({s.relay_host for s in gateway.sightings()}))
        story.say(f"  gateway:  the relay ({relays}), the requests")
        story.say(f"  ingest:   {', '.join(sorted(seen_by_ingest))}, {len(stored)} E.164 numbers")
        story.say(f"  Gravatar: {', '.join(sorted(seen_by_gravatar))}, {len(emails)} email hashes")
        story.check(
            {s.client_host for s in sightings} == {DEVICE} and not any(s in blob for s in secrets),
            "the relay saw the device's address and only ciphertext",
        )
        story.check(
            seen_by_ingest == {GATEWAY_SOURCE} and seen_by_gravatar == {GATEWAY_SOURCE},
            "the ingest and Gravatar saw only the gateway's address, never the device's",
        )
        story.check(
            set(gateway.key_fetches()) <= {RELAY_SOURCE}
            and {s.relay_host for s in gateway.sightings()} <= {RELAY_SOURCE},
            "the gateway never saw the device's address, key fetches included",
        )
