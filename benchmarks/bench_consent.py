"""Gravatar switch-off under a slow disk: the issue's literal figures, with real waiting.

``os.fsync`` delayed by 200 ms, 300 contacts, the Gravatar stand-in answering
after 20 ms, the toggle turned off (on another thread) during the 20th
request; 50 trials. Per trial it counts the requests that left the SDK after
the setter returned (an egress inspector) and those the stand-in received
after the setter returned. Both must be 0, and every result of the batch and
of a later pass must be ``NoAvatar(disabled)``. It also prints how long the
setter took: about one or two delayed fsyncs, since the file is still saved
before the setter returns, but the revocation was in force before that.

``make test`` runs the same scenario with the fsync held open by an Event
(tests/test_gravatar_revocation.py); this is the wall-clock version.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.gravatar import (
    GravatarConfig,
    GravatarFetcher,
    NoAvatar,
    NoAvatarReason,
    gravatar_hash,
)
from n2net_privacy.settings import Settings
from n2net_privacy.testing import GravatarStandIn
from n2net_privacy.testing.servers.gravatar import RecordedRequest
from n2net_privacy.testing.synthetic import synthetic_address_book

TRIALS = 50
CONTACTS = 300
FSYNC_DELAY = 0.200
LATENCY = 0.020
SWITCH_OFF_AT = 20
DISABLED = NoAvatar(NoAvatarReason.DISABLED)
POLICY = EgressPolicy(allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1"})}, test_mode=True)


class _Sent:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def inspect(self, _request: object) -> None:
        with self._lock:
            self.count += 1


def _trial(seed: int, folder: Path) -> tuple[int, int, float, bool]:
    slow = [False]

    def fsync(fd: int) -> None:
        if slow[0]:
            time.sleep(FSYNC_DELAY)
        os.fsync(fd)

    settings = Settings(folder / "settings.json", fsync=fsync)
    settings.gravatar_enabled = True
    slow[0] = True
    book = synthetic_address_book(CONTACTS, seed=seed)
    hashes = sorted({gravatar_hash(e) for c in book for e in c.emails if "@" in e})
    sent = _Sent()
    stand_in = GravatarStandIn(hashes[::2], latency=LATENCY).start()
    fetcher = GravatarFetcher(
        settings, Egress(POLICY, inspectors=[sent]),
        GravatarConfig(base_url=stand_in.base_url, concurrency=8),
    )
    marks: dict[str, float] = {}
    done = threading.Event()
    lock = threading.Lock()
    calls = [0]

    def user() -> None:
        started = time.perf_counter()
        settings.gravatar_enabled = False
        marks["took"] = time.perf_counter() - started
        marks["sent"], marks["received"] = sent.count, stand_in.request_count
        done.set()

    def on_request(_r: RecordedRequest) -> None:
        with lock:
            calls[0] += 1
            if calls[0] != SWITCH_OFF_AT:
                return
        threading.Thread(target=user).start()

    stand_in.on_request = on_request
    try:
        results = asyncio.run(fetcher.fetch_many(book))
        done.wait()
        later = asyncio.run(fetcher.fetch_many(book[:50]))
        time.sleep(LATENCY * 5)  # let any straggler reach the stand-in before counting
        sent_after = sent.count - int(marks["sent"])
        received_after = stand_in.request_count - int(marks["received"])
    finally:
        fetcher.close()
        stand_in.close()
    all_disabled = all(r == DISABLED for r in [*results, *later])
    return sent_after, received_after, marks["took"], all_disabled


def main() -> None:
    sent_after: list[int] = []
    received_after: list[int] = []
    took: list[float] = []
    disabled = 0
    for seed in range(TRIALS):
        with tempfile.TemporaryDirectory() as tmp:
            s, r, t, ok = _trial(seed, Path(tmp))
        sent_after.append(s)
        received_after.append(r)
        took.append(t)
        disabled += ok
    print(
        f"{TRIALS} trials, fsync +{FSYNC_DELAY * 1000:.0f} ms, {CONTACTS} contacts, "
        f"stand-in {LATENCY * 1000:.0f} ms"
    )
    print(f"requests sent after the setter returned:     total {sum(sent_after)}")
    print(f"requests received after the setter returned: total {sum(received_after)}")
    print(f"trials where every result was disabled:      {disabled}/{TRIALS}")
    print(
        f"setter duration: median {statistics.median(took) * 1000:.0f} ms, "
        f"max {max(took) * 1000:.0f} ms (the save; the revocation was in force before it)"
    )
    ok = sum(sent_after) == 0 and sum(received_after) == 0 and disabled == TRIALS
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
