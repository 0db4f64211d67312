"""PermissionService: live checks plus learned state, persisted across restarts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import FakeClock

from n2net_privacy.errors import ClosedError, UnknownPermissionError
from n2net_privacy.permissions.android import AndroidPermissionProvider
from n2net_privacy.permissions.ios import IOSPermissionProvider
from n2net_privacy.permissions.service import (
    JsonLearnedStatusStore,
    MemoryLearnedStatusStore,
    PermissionService,
    resolve_status,
)
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionStatus,
    Platform,
)
from n2net_privacy.runtime import Clock, utc_now
from n2net_privacy.simulation.prompt import Answer, SelectContacts
from n2net_privacy.simulation.user import ScriptedUser

ND = PermissionStatus.NOT_DETERMINED
GRANTED = PermissionStatus.GRANTED
LIMITED = PermissionStatus.LIMITED
DENIED = PermissionStatus.DENIED
BLOCKED = PermissionStatus.BLOCKED
RESTRICTED = PermissionStatus.RESTRICTED
CONTACTS, READ = Permission.CONTACTS, Permission.READ_CONTACTS
DAY = 86_400.0


@pytest.mark.parametrize(
    ("live", "learned", "rationale", "expected"),
    [
        (DENIED, None, False, ND),
        (DENIED, ND, False, ND),
        (DENIED, DENIED, True, DENIED),
        (DENIED, None, True, DENIED),
        (DENIED, BLOCKED, False, BLOCKED),
        (DENIED, BLOCKED, True, DENIED),  # unblocked and revoked behind our back
        (DENIED, DENIED, False, ND),  # auto-reset while we were not listening
        (GRANTED, BLOCKED, False, GRANTED),  # a live grant always wins
        (LIMITED, None, False, LIMITED),
        (BLOCKED, None, False, BLOCKED),  # iOS says it itself
        (RESTRICTED, None, False, RESTRICTED),
        (ND, BLOCKED, False, ND),
    ],
)
def test_resolve_status(
    live: PermissionStatus, learned: PermissionStatus | None, rationale: bool,
    expected: PermissionStatus,
) -> None:
    assert resolve_status(live, learned, rationale) == expected


def android(*answers: Answer, clock: Clock = utc_now) -> AndroidPermissionProvider:
    return AndroidPermissionProvider(api_level=30, user=ScriptedUser(answers), clock=clock)


def test_android_statuses_told_apart() -> None:
    provider = android(Answer.DENY, Answer.DENY)
    service = PermissionService(provider)
    assert service.platform is Platform.ANDROID
    assert service.status(CONTACTS) == ND
    assert service.request(READ) == DENIED
    assert service.status("contacts") == DENIED
    assert service.should_show_rationale(CONTACTS) is True
    assert service.request(CONTACTS) == BLOCKED
    assert service.status(Permission.WRITE_CONTACTS) == BLOCKED
    assert service.should_show_rationale(CONTACTS) is False
    assert service.request(CONTACTS) == BLOCKED
    assert provider.dialogs_shown == 2


def test_learned_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "permissions.json"
    provider = android(Answer.DENY, Answer.DENY)
    with PermissionService(provider, JsonLearnedStatusStore(path)) as first:
        first.request(CONTACTS)
        first.request(CONTACTS)
    assert json.loads(path.read_text()) == {"learned": {"contacts": "blocked"}, "version": 1}
    assert [p.name for p in path.parent.iterdir()] == ["permissions.json"]  # no temp left

    restarted = PermissionService(provider, JsonLearnedStatusStore(path))
    assert restarted.status(CONTACTS) == BLOCKED
    # Without the file the SDK could not know: Android alone says only "denied".
    assert PermissionService(provider).status(CONTACTS) == ND


def test_follows_settings_changes() -> None:
    provider = android(Answer.DENY, Answer.DENY)
    store = MemoryLearnedStatusStore()
    service = PermissionService(provider, store)
    service.request(CONTACTS)
    service.request(CONTACTS)
    provider.settings_grant()
    assert service.learned(CONTACTS) is None
    assert store.load() == {}
    assert service.status(CONTACTS) == GRANTED
    provider.settings_revoke()
    assert service.learned(CONTACTS) == DENIED
    assert service.status(CONTACTS) == DENIED


def test_follows_auto_reset(fake_clock: FakeClock) -> None:
    provider = android(Answer.GRANT, clock=fake_clock.clock)
    service = PermissionService(provider)
    assert service.request(CONTACTS) == GRANTED
    fake_clock.advance(91 * DAY)
    assert service.status(CONTACTS) == ND
    assert service.learned(CONTACTS) == DENIED  # the reset reads as a Deny (issue #15)


class _Deaf(AndroidPermissionProvider):
    """A provider whose change events never reach the service."""

    def subscribe(self, listener: Callable[[PermissionChange], None]) -> Callable[[], None]:
        return lambda: None


def test_never_caches_a_grant() -> None:
    # No event can tell the service about the revoke: only a live check can see it.
    # (This test used to read after close(); a closed service now refuses reads.)
    provider = _Deaf(api_level=33, user=ScriptedUser([Answer.GRANT]))
    store = MemoryLearnedStatusStore()
    service = PermissionService(provider, store)
    assert service.request(CONTACTS) == GRANTED
    assert store.load() == {}
    provider.settings_revoke()
    assert service.status(CONTACTS) == DENIED
    service.close()
    with pytest.raises(ClosedError, match="PermissionService"):
        service.status(CONTACTS)


def test_stale_block_cleared_by_a_live_grant(tmp_path: Path) -> None:
    store = JsonLearnedStatusStore(tmp_path / "p.json")
    store.save({CONTACTS: BLOCKED})
    provider = android()
    provider.settings_grant()  # while the app was not running
    service = PermissionService(provider, store)
    before = (tmp_path / "p.json").read_bytes()
    assert service.status(CONTACTS) == GRANTED
    assert service.learned(CONTACTS) is None  # forgotten in memory at once
    assert (tmp_path / "p.json").read_bytes() == before  # but a read never writes
    service.close()  # the next write saves what the read learned
    assert store.load() == {}


def test_close_unsubscribes() -> None:
    provider = android(Answer.GRANT)
    service = PermissionService(provider)
    service.request(CONTACTS)
    service.close()
    provider.settings_revoke()
    assert service.learned(CONTACTS) is None


def test_ios_passthrough() -> None:
    provider = IOSPermissionProvider(ios_version=18, user=ScriptedUser([SelectContacts(["a"])]))
    service = PermissionService(provider)
    assert service.status(CONTACTS) == ND
    assert service.request(CONTACTS) == LIMITED
    assert service.selected_ids(CONTACTS) == frozenset({"a"})
    assert service.should_show_rationale(CONTACTS) is False
    provider.settings_revoke()
    assert service.status(CONTACTS) == BLOCKED
    provider.mdm_restrict()
    assert service.status(CONTACTS) == RESTRICTED


def test_unknown_permission() -> None:
    service = PermissionService(android())
    for call in (service.status, service.request, service.should_show_rationale):
        with pytest.raises(UnknownPermissionError):
            call("camera")


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"version": 2, "learned": {"contacts": "blocked"}}',
        '{"version": 1, "learned": ["contacts"]}',
        b"\xff\xfe".decode("latin-1"),
    ],
)
def test_unreadable_file_means_nothing_learned(tmp_path: Path, content: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content, encoding="latin-1")
    assert JsonLearnedStatusStore(path).load() == {}


def test_unknown_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"version": 1, "learned": {
        "contacts": "blocked", "camera": "denied", "android.permission.READ_CONTACTS": "maybe",
    }}))
    assert JsonLearnedStatusStore(path).load() == {CONTACTS: BLOCKED}


def test_leftover_temp_file_from_a_kill_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    store = JsonLearnedStatusStore(path)
    store.save({CONTACTS: DENIED})
    (tmp_path / ".p.json.half").write_text('{"version": 1, "lea')
    assert JsonLearnedStatusStore(path).load() == {CONTACTS: DENIED}
    store.save({CONTACTS: BLOCKED})
    assert JsonLearnedStatusStore(path).load() == {CONTACTS: BLOCKED}


def test_service_listeners_see_the_state_the_service_learned() -> None:
    from n2net_privacy.permissions import AndroidPermissionProvider
    from n2net_privacy.simulation import Answer, ScriptedUser

    provider = AndroidPermissionProvider(api_level=34, user=ScriptedUser([Answer.GRANT]))
    service = PermissionService(provider)
    seen: list[tuple[PermissionStatus, PermissionStatus, bool]] = []
    unsubscribe = service.subscribe(
        lambda change: seen.append((change.new, service.status("contacts"), change.app_killed))
    )
    service.request("contacts")
    provider.settings_revoke()
    unsubscribe()
    provider.settings_grant()
    assert seen[-1] == (PermissionStatus.DENIED, PermissionStatus.DENIED, True)
    assert len(seen) == 2
