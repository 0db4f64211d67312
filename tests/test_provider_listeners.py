"""Simulated providers' listeners: outside the state lock, in state order, re-entry included.

The defect this guards: a listener that changes the provider when it hears
a change (here, revoking on hearing the grant) used to be delivered the
revocation *before* the other listeners heard the grant, so they heard
granted -> denied, then not_determined -> granted, and ended believing
GRANTED while the provider said DENIED.
"""

from __future__ import annotations

import threading

import pytest
from _support import HANG_GUARD_S

from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    IOSPermissionProvider,
    Permission,
    PermissionChange,
    PermissionStatus,
)
from n2net_privacy.simulation import Answer, ScriptedUser

GRANTED, DENIED, BLOCKED = (
    PermissionStatus.GRANTED, PermissionStatus.DENIED, PermissionStatus.BLOCKED
)
WAIT = HANG_GUARD_S  # real seconds: turns a hang into a failure, never a pass condition
Provider = AndroidPermissionProvider | IOSPermissionProvider


def android() -> AndroidPermissionProvider:
    return AndroidPermissionProvider(api_level=25, user=ScriptedUser([Answer.GRANT]))


def ios() -> IOSPermissionProvider:
    return IOSPermissionProvider(ios_version=17, user=ScriptedUser([Answer.GRANT]))


@pytest.mark.parametrize("make", [android, ios], ids=["android-25", "ios-17"])
def test_a_listener_that_revokes_on_the_grant_leaves_everyone_with_the_true_state(
    make: type[Provider],
) -> None:
    provider = make()
    first: list[PermissionChange] = []
    second: list[PermissionChange] = []

    def revoke_on_grant(change: PermissionChange) -> None:
        first.append(change)
        if change.new is GRANTED:
            provider.settings_revoke()

    provider.subscribe(revoke_on_grant)
    provider.subscribe(second.append)
    assert provider.request(Permission.CONTACTS) is GRANTED
    truth = provider.check(Permission.CONTACTS)
    assert truth is not GRANTED  # DENIED on Android, BLOCKED (.denied) on iOS
    for heard in (first, second):
        assert [c.new for c in heard] == [GRANTED, truth]
        assert heard[1].old is GRANTED  # each change follows the one before it
        assert heard[0].old is heard[0].old.NOT_DETERMINED


@pytest.mark.parametrize("make", [android, ios], ids=["android-25", "ios-17"])
def test_listeners_run_outside_the_state_lock(make: type[Provider]) -> None:
    """A listener may read the provider from another thread while it is being told."""
    provider = make()
    read_from_elsewhere: list[PermissionStatus] = []

    def read_on_another_thread(change: PermissionChange) -> None:
        reader = threading.Thread(
            target=lambda: read_from_elsewhere.append(provider.check(Permission.CONTACTS))
        )
        reader.start()
        reader.join(WAIT)
        assert not reader.is_alive(), "the listener ran under the provider's lock"

    provider.subscribe(read_on_another_thread)
    provider.request(Permission.CONTACTS)
    assert read_from_elsewhere == [GRANTED]


def test_after_a_settings_change_returns_every_listener_has_heard() -> None:
    """A change made while another thread delivers is heard when the call returns.

    (The dispatcher's own tests force the interleaving where the hand-over waits.)
    """
    provider = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT]))
    in_listener, release = threading.Event(), threading.Event()
    heard: list[PermissionStatus] = []

    def slow(change: PermissionChange) -> None:
        if change.new is GRANTED and threading.current_thread().name == "granting":
            in_listener.set()
            assert release.wait(WAIT)
        heard.append(change.new)

    provider.subscribe(slow)
    granting = threading.Thread(
        target=provider.request, args=(Permission.CONTACTS,), name="granting"
    )
    granting.start()
    assert in_listener.wait(WAIT)  # the granting thread is delivering, inside a listener
    when_revoke_returned: list[list[PermissionStatus]] = []

    def revoke() -> None:
        provider.settings_revoke()
        when_revoke_returned.append(list(heard))

    revoking = threading.Thread(target=revoke, name="revoking")
    revoking.start()
    release.set()
    revoking.join(WAIT)
    granting.join(WAIT)
    assert not revoking.is_alive() and not granting.is_alive()
    assert when_revoke_returned == [[GRANTED, DENIED]]
    assert heard == [GRANTED, DENIED]
