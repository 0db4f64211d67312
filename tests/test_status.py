"""The permission vocabulary and the ordered listener fan-out."""

from __future__ import annotations

import logging

import pytest

import n2net_privacy.permissions as package
from n2net_privacy.errors import UnknownPermissionError
from n2net_privacy.permissions import status as status_module
from n2net_privacy.permissions.status import (
    ChangeListeners,
    Permission,
    PermissionChange,
    PermissionStatus,
)

ND, GRANTED, DENIED = (
    PermissionStatus.NOT_DETERMINED,
    PermissionStatus.GRANTED,
    PermissionStatus.DENIED,
)


def test_all_is_sorted() -> None:
    assert status_module.__all__ == sorted(status_module.__all__)


def test_package_exports() -> None:
    assert package.__all__ == sorted(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
    assert set(status_module.__all__) <= set(package.__all__)


@pytest.mark.parametrize("value", ["camera", "Contacts", "", 3, None])
def test_unknown_permission(value: object) -> None:
    with pytest.raises(UnknownPermissionError):
        Permission(value)  # type: ignore[arg-type]


def test_contacts_group() -> None:
    assert {p.group for p in Permission} == {Permission.CONTACTS}
    assert Permission("android.permission.READ_CONTACTS") is Permission.READ_CONTACTS


def test_allows_access() -> None:
    assert {s for s in PermissionStatus if s.allows_access} == {
        PermissionStatus.GRANTED, PermissionStatus.LIMITED,
    }


def change(old: PermissionStatus, new: PermissionStatus) -> PermissionChange:
    return PermissionChange(Permission.CONTACTS, old, new)


def test_listeners_get_changes_in_order_until_unsubscribed() -> None:
    listeners = ChangeListeners()
    seen: list[PermissionChange] = []
    unsubscribe = listeners.subscribe(seen.append)
    listeners.post(change(ND, GRANTED))
    listeners.post(change(GRANTED, DENIED))
    assert seen == []  # nothing is delivered until flush
    listeners.flush()
    assert seen == [change(ND, GRANTED), change(GRANTED, DENIED)]
    unsubscribe()
    unsubscribe()
    listeners.post(change(DENIED, GRANTED))
    listeners.flush()
    assert len(seen) == 2


def test_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    listeners = ChangeListeners()
    seen: list[PermissionChange] = []

    def broken(_: PermissionChange) -> None:
        raise RuntimeError("bug in app code")

    listeners.subscribe(broken)
    listeners.subscribe(seen.append)
    listeners.post(change(ND, GRANTED))
    with caplog.at_level(logging.ERROR, logger="n2net_privacy"):
        listeners.flush()
    assert seen == [change(ND, GRANTED)]
    assert "listener failed" in caplog.text


def test_a_listener_may_cause_another_change() -> None:
    listeners = ChangeListeners()
    seen: list[PermissionStatus] = []

    def react(c: PermissionChange) -> None:
        seen.append(c.new)
        if c.new == GRANTED:
            listeners.post(change(GRANTED, DENIED))
            listeners.flush()

    listeners.subscribe(react)
    listeners.post(change(ND, GRANTED))
    listeners.flush()
    assert seen == [GRANTED, DENIED]
