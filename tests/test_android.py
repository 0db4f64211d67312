"""The simulated Android permission system: transitions, one prompt, Settings, auto-reset."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from _support import FakeClock, wait_until

from n2net_privacy.errors import (
    ConfigurationError,
    InvalidTransitionError,
    UnknownPermissionError,
)
from n2net_privacy.permissions.android import (
    AndroidPermissionProvider,
    android_dialog_options,
)
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionProvider,
    PermissionStatus,
)
from n2net_privacy.simulation.prompt import Answer, PromptAnswer, SelectContacts
from n2net_privacy.simulation.user import HoldOpen, ScriptedUser

ND = PermissionStatus.NOT_DETERMINED
GRANTED = PermissionStatus.GRANTED
DENIED = PermissionStatus.DENIED
BLOCKED = PermissionStatus.BLOCKED
GRANT, DENY, DONT_ASK, DISMISS = (
    Answer.GRANT,
    Answer.DENY,
    Answer.DENY_DONT_ASK_AGAIN,
    Answer.DISMISS,
)
READ, WRITE = Permission.READ_CONTACTS, Permission.WRITE_CONTACTS
DAY = 86_400.0


# (action, what the action returns or raises, check() after, rationale after)
Step = tuple[str, PermissionStatus | type[Exception] | None, PermissionStatus, bool]


@dataclass(frozen=True)
class Row:
    id: str
    api_level: int
    answers: tuple[PromptAnswer, ...]
    steps: tuple[Step, ...]
    dialogs: int


ROWS = [
    Row("api22 granted at install", 22, (), (
        ("none", None, GRANTED, False),
        ("request", GRANTED, GRANTED, False),
        ("settings_grant", None, GRANTED, False),
    ), dialogs=0),
    Row("api22 cannot revoke", 22, (), (
        ("settings_revoke", InvalidTransitionError, GRANTED, False),
    ), dialogs=0),
    Row("api23 never asked: denied, no rationale", 23, (), (
        ("none", None, DENIED, False),
    ), dialogs=0),
    Row("api23 grant, then no second dialog", 23, (GRANT,), (
        ("request", GRANTED, GRANTED, False),
        ("request", GRANTED, GRANTED, False),
    ), dialogs=1),
    Row("api23 denials without checkbox keep asking", 23, (DENY, DENY, DENY), (
        ("request", DENIED, DENIED, True),
        ("request", DENIED, DENIED, True),
        ("request", DENIED, DENIED, True),
    ), dialogs=3),
    Row("api23 don't ask again blocks", 23, (DENY, DONT_ASK), (
        ("request", DENIED, DENIED, True),
        ("request", BLOCKED, DENIED, False),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=2),
    Row("api29 don't ask again blocks", 29, (DENY, DONT_ASK), (
        ("request", DENIED, DENIED, True),
        ("request", BLOCKED, DENIED, False),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=2),
    Row("api23 no checkbox on first dialog", 23, (DONT_ASK,), (
        ("request", InvalidTransitionError, DENIED, False),
    ), dialogs=1),
    Row("api30 second denial blocks", 30, (DENY, DENY), (
        ("request", DENIED, DENIED, True),
        ("request", BLOCKED, DENIED, False),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=2),
    Row("api30 never offers the checkbox", 30, (DENY, DONT_ASK), (
        ("request", DENIED, DENIED, True),
        ("request", InvalidTransitionError, DENIED, True),
    ), dialogs=2),
    Row("api33 deny then grant", 33, (DENY, GRANT), (
        ("request", DENIED, DENIED, True),
        ("request", GRANTED, GRANTED, False),
    ), dialogs=2),
    Row("api30 dismissing is not a denial", 30, (DISMISS, DENY, DISMISS, DENY), (
        ("request", ND, DENIED, False),
        ("request", DENIED, DENIED, True),
        ("request", DENIED, DENIED, True),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=4),
    Row("api29 dismiss does not earn the checkbox", 29, (DISMISS, DONT_ASK), (
        ("request", ND, DENIED, False),
        ("request", InvalidTransitionError, DENIED, False),
    ), dialogs=2),
    Row("api30 Settings unblocks; revoke counts as a denial", 30, (DENY, DENY, DENY), (
        ("request", DENIED, DENIED, True),
        ("request", BLOCKED, DENIED, False),
        ("settings_grant", None, GRANTED, False),
        ("request", GRANTED, GRANTED, False),
        ("settings_revoke", None, DENIED, True),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=3),
    Row("api23 revoke then the checkbox is offered", 23, (GRANT, DONT_ASK), (
        ("request", GRANTED, GRANTED, False),
        ("settings_revoke", None, DENIED, True),
        ("settings_revoke", None, DENIED, True),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=2),
    Row("api30 Settings grant before ever asking", 30, (), (
        ("settings_grant", None, GRANTED, False),
        ("request_write", GRANTED, GRANTED, False),
    ), dialogs=0),
    Row("group: granting READ grants WRITE, no dialog", 30, (GRANT,), (
        ("request", GRANTED, GRANTED, False),
        ("request_write", GRANTED, GRANTED, False),
    ), dialogs=1),
    Row("api25 group: a denial of READ counts for WRITE", 25, (DENY, DONT_ASK), (
        ("request", DENIED, DENIED, True),
        ("request_write", BLOCKED, DENIED, False),
        ("request", BLOCKED, DENIED, False),
    ), dialogs=2),
    Row("android has no select-contacts answer", 34, (SelectContacts(["c1"]),), (
        ("request", InvalidTransitionError, DENIED, False),
    ), dialogs=1),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_android_transitions(row: Row) -> None:
    user = ScriptedUser(row.answers)
    provider = AndroidPermissionProvider(api_level=row.api_level, user=user)
    actions: dict[str, Callable[[], object]] = {
        "none": lambda: None,
        "request": lambda: provider.request(READ),
        "request_write": lambda: provider.request(WRITE),
        "settings_grant": provider.settings_grant,
        "settings_revoke": provider.settings_revoke,
    }
    for number, (action, expected, check, rationale) in enumerate(row.steps, 1):
        where = f"step {number} ({action})"
        if isinstance(expected, type):
            with pytest.raises(expected):
                actions[action]()
        else:
            assert actions[action]() == expected, where
        # From API 26 WRITE has a state of its own (tests/test_platform_rules.py).
        separate = row.api_level >= 26
        members = (READ, Permission.CONTACTS) if separate else (READ, WRITE, Permission.CONTACTS)
        for member in members:
            assert provider.check(member) == check, where
            assert provider.should_show_rationale(member) is rationale, where
    assert provider.dialogs_shown == row.dialogs
    assert user.remaining == 0


@pytest.mark.parametrize(
    ("api_level", "status", "options"),
    [
        (22, GRANTED, set()),
        (23, ND, {GRANT, DENY, DISMISS}),
        (23, DENIED, {GRANT, DENY, DONT_ASK, DISMISS}),
        (29, DENIED, {GRANT, DENY, DONT_ASK, DISMISS}),
        (30, ND, {GRANT, DENY, DISMISS}),
        (30, DENIED, {GRANT, DENY, DISMISS}),
        (34, BLOCKED, set()),
        (34, GRANTED, set()),
    ],
)
def test_dialog_options(api_level: int, status: PermissionStatus, options: set[Answer]) -> None:
    assert android_dialog_options(status, api_level) == options


def test_is_a_permission_provider() -> None:
    provider: PermissionProvider = AndroidPermissionProvider(api_level=30)
    assert isinstance(provider, PermissionProvider)
    assert provider.selected_ids(Permission.CONTACTS) is None


def test_one_prompt_at_a_time() -> None:
    hold = HoldOpen(GRANT)
    provider = AndroidPermissionProvider(api_level=30, user=ScriptedUser([hold]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(provider.request, READ)
        assert hold.wait_opened()
        second = pool.submit(provider.request, Permission.CONTACTS)  # READ on Android
        assert wait_until(lambda: provider.prompt_gate.waiting == 1)
        assert not second.done()
        hold.release()
        results = (first.result(timeout=5), second.result(timeout=5))
    assert results == (GRANTED, GRANTED)
    assert provider.dialogs_shown == 1


def test_write_requested_during_the_read_dialog_waits_then_needs_no_dialog() -> None:
    # Only one dialog on screen; once READ is granted, WRITE is granted without one (API 26+).
    hold = HoldOpen(GRANT)
    provider = AndroidPermissionProvider(api_level=30, user=ScriptedUser([hold]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(provider.request, READ)
        assert hold.wait_opened()
        second = pool.submit(provider.request, WRITE)
        hold.release()
        results = (first.result(timeout=5), second.result(timeout=5))
    assert results == (GRANTED, GRANTED)
    assert provider.dialogs_shown == 1


def test_settings_change_while_dialog_open_wins() -> None:
    hold = HoldOpen(DENY)
    provider = AndroidPermissionProvider(api_level=30, user=ScriptedUser([hold]))
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(provider.request, READ)
        assert hold.wait_opened()
        settings = threading.Thread(target=provider.settings_grant)
        settings.start()
        settings.join(timeout=5)
        assert provider.check(READ) == GRANTED  # Settings did not wait for the dialog
        hold.release()
        assert pending.result(timeout=5) == GRANTED
    # The Settings toggle is the group's: from API 26 both permissions get their own change.
    assert changes == [
        PermissionChange(READ, ND, GRANTED, app_killed=False),
        PermissionChange(WRITE, ND, GRANTED, app_killed=False),
    ]


def test_revoke_kills_app_grant_does_not() -> None:
    provider = AndroidPermissionProvider(api_level=30, user=ScriptedUser([GRANT]))
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    provider.request(READ)
    provider.settings_revoke()
    provider.settings_grant()
    assert [(c.permission, c.old, c.new, c.app_killed) for c in changes] == [
        (READ, ND, GRANTED, False),
        (READ, GRANTED, DENIED, True),  # WRITE was never granted: nothing to revoke
        (READ, DENIED, GRANTED, False),
        (WRITE, ND, GRANTED, False),  # Allow in Settings grants the whole group
    ]


def test_settings_from_many_threads_deliver_changes_in_order() -> None:
    provider = AndroidPermissionProvider(api_level=30)
    provider.settings_grant()
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)

    def toggle() -> None:
        for _ in range(200):
            provider.settings_revoke()
            provider.settings_grant()
            provider.check(READ)

    threads = [threading.Thread(target=toggle) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert changes, "no change was delivered"
    for member in (READ, WRITE):
        mine = [c for c in changes if c.permission == member]
        for before, after in itertools.pairwise(mine):
            assert before.new == after.old
        assert mine[-1].new == provider.check(member)


@pytest.mark.parametrize(
    ("api_level", "days", "exempt", "reset"),
    [
        (30, 89.9, False, False),
        (30, 90, False, True),
        (34, 365, False, True),
        (30, 365, True, False),
        (29, 365, False, False),
        (23, 365, False, False),
    ],
)
def test_auto_reset(
    api_level: int, days: float, exempt: bool, reset: bool, fake_clock: FakeClock
) -> None:
    provider = AndroidPermissionProvider(
        api_level=api_level, user=ScriptedUser([GRANT]), clock=fake_clock.clock,
        auto_reset_exempt=exempt,
    )
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    provider.request(READ)
    fake_clock.advance(days * DAY)
    if reset:
        # The same effect as a Deny in Settings, but with USER_SET cleared: no rationale.
        assert provider.check(READ) == DENIED
        assert provider.should_show_rationale(READ) is False
        assert provider.is_auto_revoked(READ) is True
        assert changes[-1] == PermissionChange(READ, GRANTED, DENIED, app_killed=True)
        provider.user = ScriptedUser([GRANT])
        assert provider.request(WRITE) == GRANTED
        assert provider.dialogs_shown == 2
    else:
        assert provider.check(READ) == GRANTED
        assert len(changes) == 1


def test_auto_reset_days_adjustable_and_app_use_restarts_clock(fake_clock: FakeClock) -> None:
    provider = AndroidPermissionProvider(
        api_level=31, user=ScriptedUser([GRANT]), clock=fake_clock.clock, auto_reset_days=30
    )
    assert provider.auto_reset_days == 30
    provider.request(READ)
    fake_clock.advance(20 * DAY)
    provider.app_opened()
    fake_clock.advance(20 * DAY)
    assert provider.run_auto_reset() is False
    assert provider.check(READ) == GRANTED
    fake_clock.advance(10 * DAY)
    provider.app_opened()  # the reset fell due before this launch
    assert provider.check(READ) == DENIED
    assert provider.run_auto_reset() is False


def test_exemption_switch_in_settings(fake_clock: FakeClock) -> None:
    provider = AndroidPermissionProvider(
        api_level=30, user=ScriptedUser([GRANT]), clock=fake_clock.clock
    )
    provider.request(READ)
    provider.settings_set_auto_reset_exempt(True)
    assert provider.auto_reset_exempt is True
    fake_clock.advance(200 * DAY)
    assert provider.run_auto_reset() is False
    provider.settings_set_auto_reset_exempt(False)
    assert provider.run_auto_reset() is True
    assert provider.check(READ) == DENIED


def test_auto_reset_leaves_blocked_alone(fake_clock: FakeClock) -> None:
    provider = AndroidPermissionProvider(
        api_level=30, user=ScriptedUser([DENY, DENY]), clock=fake_clock.clock
    )
    provider.request(READ)
    provider.request(READ)
    fake_clock.advance(365 * DAY)
    assert provider.run_auto_reset() is False
    assert provider.request(READ) == BLOCKED
    assert provider.dialogs_shown == 2


@pytest.mark.parametrize("bad", ["camera", "CONTACTS", "", 7])
def test_unknown_permission(bad: object) -> None:
    provider = AndroidPermissionProvider(api_level=30)
    for call in (provider.check, provider.request, provider.should_show_rationale):
        with pytest.raises(UnknownPermissionError):
            call(bad)  # type: ignore[arg-type]
    with pytest.raises(UnknownPermissionError):
        provider.settings_revoke(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"api_level": 0}, {"api_level": 30, "auto_reset_days": 0}])
def test_bad_configuration(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        AndroidPermissionProvider(**kwargs)  # type: ignore[arg-type]
