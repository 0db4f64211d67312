"""Switching Gravatar off mid-batch under a slow or full disk: in force before the setter returns.

The acceptance scenario of the consent core, with the disk made slow or full
by an injected ``fsync`` instead of real waiting: the revocation's fsync is
held open (a ``threading.Event``) until the whole batch is over, so the batch
can only stop because the revocation was published *before* the disk write.
The literal figures (fsync delayed 200 ms, 50 trials) are in
``benchmarks/bench_consent.py``.

"Reaching the stand-in after the setter returned" is measured without a race:
an egress inspector counts requests as they leave the SDK, and every request
the stand-in ever receives must have left before the setter returned.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _support import HANG_GUARD_S

from n2net_privacy.egress import Egress, EgressPolicy, Purpose
from n2net_privacy.errors import StorageError
from n2net_privacy.gravatar import (
    AvatarResult,
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

WAIT = HANG_GUARD_S  # real seconds: turns a hang into a failure, never a pass condition
CONTACTS = 300
CONCURRENCY = 8
SWITCH_OFF_AT = 20  # the request during which the user switches Gravatar off
DISABLED = NoAvatar(NoAvatarReason.DISABLED)
LOOPBACK = EgressPolicy(allowed_hosts={Purpose.GRAVATAR: frozenset({"127.0.0.1"})}, test_mode=True)


@dataclass
class Trial:
    """What one switch-off mid-batch observed."""

    results: list[AvatarResult] = field(default_factory=list)
    later: list[AvatarResult] = field(default_factory=list)
    count_when_called: int = -1
    sent_when_returned: int = -1
    final_sent: int = -1
    final_count: int = -1
    seen_while_saving: tuple[bool, bool] | None = None  # (enabled, caches empty)
    errors: list[BaseException] = field(default_factory=list)
    reported: list[StorageError] = field(default_factory=list)


class Disk:
    """An fsync that is real until armed; then held open until released, or failing."""

    def __init__(self, failure: int | None) -> None:
        self.failure = failure
        self.armed = False
        self.release = threading.Event()
        self.on_hold: list[object] = []

    def fsync(self, fd: int) -> None:
        if self.armed:
            if self.failure is not None:
                raise OSError(self.failure, os.strerror(self.failure))
            for hook in self.on_hold:
                hook()  # type: ignore[operator]
            self.on_hold.clear()
            assert self.release.wait(WAIT), "the batch did not stop while the disk was held"
        os.fsync(fd)


class SentCounter:
    """An egress inspector: counts requests at the moment they leave the SDK."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def inspect(self, _request: object) -> None:
        with self._lock:
            self.count += 1


def switch_off_mid_batch(tmp_path: Path, seed: int, failure: int | None) -> Trial:
    trial = Trial()
    disk = Disk(failure)
    settings = Settings(
        tmp_path / "settings.json", fsync=disk.fsync, on_storage_error=trial.reported.append
    )
    settings.gravatar_enabled = True
    book = synthetic_address_book(CONTACTS, seed=seed)
    hashes = sorted({gravatar_hash(e) for c in book for e in c.emails if "@" in e})
    stand_in = GravatarStandIn(hashes[::2], latency=0.02).start()
    sent = SentCounter()
    fetcher = GravatarFetcher(
        settings, Egress(LOOPBACK, inspectors=[sent]),
        GravatarConfig(base_url=stand_in.base_url, concurrency=CONCURRENCY,
                       cache_dir=tmp_path / "avatars"),
    )
    user_done = threading.Event()
    calls = [0]
    lock = threading.Lock()

    def user_switches_off() -> None:
        trial.count_when_called = stand_in.request_count
        try:
            settings.gravatar_enabled = False
        except BaseException as exc:  # the claim is that nothing reaches the app
            trial.errors.append(exc)
        trial.sent_when_returned = sent.count
        user_done.set()

    def on_request(_request: RecordedRequest) -> None:
        with lock:
            calls[0] += 1
            if calls[0] != SWITCH_OFF_AT:
                return
        disk.armed = True
        disk.on_hold.append(
            lambda: setattr(
                trial, "seen_while_saving", (settings.gravatar_enabled, fetcher.cache.is_empty())
            )
        )
        threading.Thread(target=user_switches_off, name="user").start()

    stand_in.on_request = on_request
    try:
        trial.results = asyncio.run(fetcher.fetch_many(book))
        disk.release.set()  # only now may the revocation reach the disk
        assert user_done.wait(WAIT)
        trial.later = asyncio.run(fetcher.fetch_many(book[:60]))
        trial.later.append(fetcher.fetch(book[0]))
        trial.final_sent = sent.count
        trial.final_count = stand_in.request_count
    finally:
        disk.release.set()
        fetcher.close()
        stand_in.close()
    return trial


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_switch_off_under_a_slow_disk_stops_the_batch_before_the_disk_write(
    tmp_path: Path, seed: int
) -> None:
    trial = switch_off_mid_batch(tmp_path, seed, failure=None)
    assert trial.errors == []
    # While the revocation's fsync was still held open, it was already in force.
    assert trial.seen_while_saving == (False, True)
    # Only requests already in flight when the user switched it off arrived afterwards...
    assert 0 <= trial.final_count - trial.count_when_called <= CONCURRENCY
    # ...and none left the SDK after the setter returned: everything the stand-in got was
    # sent before.
    assert trial.final_sent == trial.sent_when_returned
    assert trial.final_count <= trial.sent_when_returned
    assert trial.results == [DISABLED] * CONTACTS
    assert trial.later == [DISABLED] * 61
    assert json.loads((tmp_path / "settings.json").read_text())["gravatar_enabled"] is False
    assert list((tmp_path / "avatars").glob("*")) == []


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EACCES])
def test_switch_off_with_a_full_disk_holds_and_nothing_raises(
    tmp_path: Path, failure: int
) -> None:
    trial = switch_off_mid_batch(tmp_path, 4, failure=failure)
    assert trial.errors == []
    assert 0 <= trial.final_count - trial.count_when_called <= CONCURRENCY
    assert trial.final_sent == trial.sent_when_returned
    assert trial.final_count <= trial.sent_when_returned
    assert trial.results == [DISABLED] * CONTACTS
    assert trial.later == [DISABLED] * 61
    assert [r.errno for r in trial.reported] == [failure]
    # Failing closed: the file is gone (no space needed), so a restart finds Gravatar off.
    assert not (tmp_path / "settings.json").exists()
    assert Settings(tmp_path / "settings.json").gravatar_enabled is False


def test_switch_off_from_inside_the_batch_event_loop_does_not_wait_on_itself(
    tmp_path: Path,
) -> None:
    settings = Settings(tmp_path / "settings.json")
    settings.gravatar_enabled = True
    book = synthetic_address_book(60, seed=5)
    sent = SentCounter()
    with GravatarStandIn(latency=0.02) as stand_in:
        fetcher = GravatarFetcher(
            settings, Egress(LOOPBACK, inspectors=[sent]),
            GravatarConfig(base_url=stand_in.base_url, concurrency=4),
        )

        async def app() -> tuple[list[AvatarResult], int, int]:
            batch = asyncio.create_task(fetcher.fetch_many(book))
            while sent.count < 3:
                await asyncio.sleep(0)  # let the batch start its first requests
            settings.gravatar_enabled = False  # on the batch's own loop thread
            at_return = sent.count
            return await batch, at_return, sent.count

        results, at_return, final = asyncio.run(app())
        fetcher.close()
    assert results == [DISABLED] * 60
    assert final == at_return
