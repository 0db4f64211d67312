"""Demo chapter 4: SMS and call metadata, sealed, queued through an outage, delivered once.

Policy: "the phone number is sent securely through N2Net's API. N2Net does
not store this number with any other PII ... N2Net stores only the phone
number and pertinent metadata".
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from n2net_privacy.contacts import Contact
from n2net_privacy.demo.story import Story
from n2net_privacy.device import DeviceContext
from n2net_privacy.egress import Egress
from n2net_privacy.phone import PhoneNumberErrorReason
from n2net_privacy.simulation import SimulatedAndroidKeystore
from n2net_privacy.testing.servers.ingest import IngestServer
from n2net_privacy.uploader import ServerKeyPair
from n2net_privacy.uploader.recorder import Endpoint, Uploader
from n2net_privacy.uploader.send.sender import SenderConfig

__all__ = ["MIN_NUMBERS", "international_numbers", "uploader_chapter"]

APP_KEY = "demo-app-key"
QUEUE_FILE_GLOB = "*.sqlite3*"
MAX_NUMBERS = 120
MIN_NUMBERS = 2  # one SMS while the server is up, one call while it is down


def international_numbers(book: list[Contact]) -> list[str]:
    """The book's numbers written with ``+``: what the chapter records, at most 120."""
    return [p.number for c in book for p in c.phones if p.number.startswith("+")][:MAX_NUMBERS]


def uploader_chapter(
    story: Story, book: list[Contact], egress: Egress, server_key: ServerKeyPair, data_dir: Path,
    *, route: Callable[[str], str] = lambda url: url,
) -> None:
    story.chapter("Chapter 4 - SMS and calls: only the number and metadata, sealed, never lost")
    numbers = international_numbers(book)
    # A third go up while the server is up, the rest wait out the outage:
    # with 120 numbers that is 40 and 80, and with 2 it is still 1 and 1.
    up = max(1, len(numbers) // 3)
    rng = random.Random(7)
    server = IngestServer(server_key, app_key=APP_KEY)
    uploader = Uploader(
        Endpoint(route(server.url), APP_KEY, server_key.public), data_dir,
        key_store=SimulatedAndroidKeystore(), egress=egress, region=DeviceContext(sim_region="US"),
        sending=SenderConfig(linger_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.2),
    )
    try:
        queued = 0
        for number in numbers[:up]:
            queued += uploader.record_sms(number).queued
        story.check(uploader.flush(10), f"{queued} SMS events delivered while the server is up")

        server.stop()
        story.event("N2Net API", "goes down")
        for number in numbers[up:]:
            queued += uploader.record_call(number, duration_s=rng.randint(0, 900)).queued
        skipped = [uploader.record_sms(n) for n in ("911", "33669", "0000")]
        story.check(
            not uploader.flush(0.5) and uploader.pending().events > 0,
            f"while it is down, {uploader.pending().events} call events wait in the encrypted "
            "queue; recording never waits for the network",
        )
        story.check(
            [r.skip_reason for r in skipped]
            == [
                PhoneNumberErrorReason.EMERGENCY,
                PhoneNumberErrorReason.SHORT_CODE,
                PhoneNumberErrorReason.INVALID,
            ],
            "an emergency number, a short code and junk are never uploaded, only counted: "
            + ", ".join(f"{k.value}={v}" for k, v in sorted(uploader.skipped_counts().items())),
        )
        queue_bytes = b"".join(p.read_bytes() for p in data_dir.glob(QUEUE_FILE_GLOB))
        leaked = [n for n in numbers if n.replace(" ", "").encode() in queue_bytes]
        story.check(not leaked, "the queue file on the device holds no phone number in clear")

        server.start()
        story.event("N2Net API", "comes back")
        story.check(uploader.flush(15), "the queue drains once the server is back")
        stored = server.events()
        story.say(
            f"server holds {len(stored)} events: "
            f"{sum(e.type == 'sms' for e in stored)} sms, {sum(e.type == 'call' for e in stored)} "
            f"calls; dead letters {uploader.dead_letter_counts() or 0}"
        )
        story.check(len(stored) == queued, f"every one of the {queued} recorded events arrived")
        story.check(
            len({e.id for e in stored}) == len(stored), "no event was stored twice"
        )
        story.check(
            all(e.number.startswith("+") and " " not in e.number for e in stored),
            "the server received E.164 numbers and nothing about the person",
        )
    finally:
        uploader.close(5)
        server.close()
