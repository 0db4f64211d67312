"""Listener completeness: concurrent changes and revocations, nothing lost, every revoke announced.

Four threads add contacts while a fifth revokes and grants the permission
through the real Android provider and permission service. Over many trials:

* applying every delta in order reproduces exactly what the app may see at
  the end, so no change made while access was granted was lost (a lost
  wakeup would leave the last change undelivered);
* every revocation is announced by exactly one ``purged`` delta whose status
  allows no access;
* deltas arrive one at a time (never two listeners' calls overlapping).

``N2NET_LISTENER_TRIALS`` raises the count (the issue's figure is 1,000; the
suite runs fewer to stay fast).
"""

from __future__ import annotations

import os
import threading

from _support import HANG_GUARD_S

from n2net_privacy.contacts import Contact, ContactsDelta, ContactsGateway, InMemoryAddressBook
from n2net_privacy.permissions import AndroidPermissionProvider, PermissionService

TRIALS = int(os.environ.get("N2NET_LISTENER_TRIALS", "300"))
ADDERS = 4
ADDS = 6
CYCLES = 3
WAIT = HANG_GUARD_S  # real seconds: turns a hang into a failure, never a pass condition


def run_trial(trial: int) -> tuple[set[str], set[str], int, int, bool]:
    provider = AndroidPermissionProvider(api_level=34)
    provider.settings_grant()
    service = PermissionService(provider)
    book = InMemoryAddressBook()
    gateway = ContactsGateway(book, service)
    deltas: list[ContactsDelta] = []
    busy = threading.Lock()
    overlapped = [False]

    def listener(delta: ContactsDelta) -> None:
        if not busy.acquire(blocking=False):
            overlapped[0] = True
            return
        try:
            deltas.append(delta)
        finally:
            busy.release()

    gateway.subscribe(listener)
    start = threading.Barrier(ADDERS + 1)

    def add(thread: int) -> None:
        start.wait(WAIT)
        for i in range(ADDS):
            book.add(Contact(id=f"t{trial}-{thread}-{i}", display_name=f"Person {thread} {i}"))

    def toggle() -> None:
        start.wait(WAIT)
        for _ in range(CYCLES):
            provider.settings_revoke()
            provider.settings_grant()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(ADDERS)]
    threads.append(threading.Thread(target=toggle))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)

    seen: set[str] = set()
    for delta in deltas:
        if delta.purged and not delta.status.allows_access:
            seen.clear()
        seen |= delta.added
        seen -= delta.removed
    announced = sum(1 for d in deltas if d.purged and not d.status.allows_access)
    expected = {c.id for c in book.snapshot().contacts}
    gateway.close()
    service.close()
    return seen, expected, announced, CYCLES, overlapped[0]


def test_every_change_is_delivered_and_every_revocation_announced() -> None:
    for trial in range(TRIALS):
        seen, expected, announced, revokes, overlapped = run_trial(trial)
        assert len(expected) == ADDERS * ADDS
        assert seen == expected, f"trial {trial}: lost {sorted(expected - seen)[:3]}"
        assert announced == revokes, f"trial {trial}"
        assert not overlapped, f"trial {trial}: two deltas delivered at once"
