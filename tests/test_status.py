"""The permission vocabulary and the ordered listener fan-out."""

from __future__ import annotations

import logging

import pytest

import n2net_privacy.permissions as package
from n2net_privacy.errors import UnknownPermissionError
from n2net_privacy.permissions import status as status_module
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionStatus,
    StateChanges,
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


def test_changes_announced_under_the_lock_are_heard_after_it_in_order() -> None:
    changes = StateChanges("test")
    seen: list[PermissionChange] = []
    unsubscribe = changes.subscribe(seen.append)
    with changes.changing():
        assert changes.lock.locked()
        changes.announce(change(ND, GRANTED))
        changes.announce(change(GRANTED, DENIED))
        assert seen == []  # nothing is delivered under the lock
    assert seen == [change(ND, GRANTED), change(GRANTED, DENIED)]
    unsubscribe()
    unsubscribe()
    with changes.changing():
        changes.announce(change(DENIED, GRANTED))
    assert len(seen) == 2


def test_a_failing_listener_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    changes = StateChanges("test")
    seen: list[PermissionChange] = []

    def broken(_: PermissionChange) -> None:
        raise RuntimeError("bug in app code")

    changes.subscribe(broken)
    changes.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="n2net_privacy"), changes.changing():
        changes.announce(change(ND, GRANTED))
    assert seen == [change(ND, GRANTED)]
    assert "listener raised RuntimeError" in caplog.text


def test_a_change_made_by_a_listener_is_heard_after_the_one_it_reacts_to() -> None:
    changes = StateChanges("test")
    seen: list[tuple[str, PermissionStatus]] = []

    def react(c: PermissionChange) -> None:
        seen.append(("first", c.new))
        if c.new == GRANTED:
            with changes.changing():
                changes.announce(change(GRANTED, DENIED))

    changes.subscribe(react)
    changes.subscribe(lambda c: seen.append(("second", c.new)))
    with changes.changing():
        changes.announce(change(ND, GRANTED))
    assert seen == [
        ("first", GRANTED), ("second", GRANTED), ("first", DENIED), ("second", DENIED),
    ]


def test_changes_announced_before_an_error_are_still_heard() -> None:
    changes = StateChanges("test")
    seen: list[PermissionChange] = []
    changes.subscribe(seen.append)
    with pytest.raises(RuntimeError), changes.changing():
        changes.announce(change(ND, GRANTED))
        raise RuntimeError("a rule refused the next step")
    assert seen == [change(ND, GRANTED)]
