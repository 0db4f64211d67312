"""The platform rules of issue #15, one table per rule, per API level and iOS version.

Each table cites the platform page it follows; docs/permissions.md cites the
same pages. Where the platform and our docs disagree, the platform wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from _support import FakeClock

from n2net_privacy.contacts.gateway import ContactsGateway
from n2net_privacy.contacts.model import Contact
from n2net_privacy.contacts.results import ContactsDelta
from n2net_privacy.contacts.sources import InMemoryAddressBook
from n2net_privacy.errors import InvalidTransitionError
from n2net_privacy.permissions import (
    AndroidPermissionProvider,
    IOSPermissionProvider,
    Permission,
    PermissionChange,
    PermissionService,
    PermissionStatus,
)
from n2net_privacy.permissions.ios import PickerResult
from n2net_privacy.simulation import Answer, ScriptedUser, SelectContacts

S = PermissionStatus
READ, WRITE, CONTACTS = Permission.READ_CONTACTS, Permission.WRITE_CONTACTS, Permission.CONTACTS
GRANT, DENY, DISMISS = Answer.GRANT, Answer.DENY, Answer.DISMISS
DAY = 86_400.0
API_LEVELS = [23, 26, 29, 30, 33, 34]


# -- Rule 1: Android auto-reset has the effect of a Deny ---------------------------------
# https://developer.android.com/about/versions/11/privacy/permissions#auto-reset
# https://developer.android.com/topic/performance/app-hibernation
# "same effect as if the user ... changed your app's access level to Deny". The rationale
# flag reads false: AOSP's auto-revoke sets FLAG_PERMISSION_AUTO_REVOKED and clears
# FLAG_PERMISSION_USER_SET, which is all shouldShowRequestPermissionRationale reads; it
# is not user-fixed, so the app may ask again and the dialog shows.


@dataclass(frozen=True)
class ResetRow:
    api_level: int
    play_services: bool
    resets: bool


RESET_ROWS = [
    ResetRow(23, False, False),  # before Android 11: no auto-reset...
    ResetRow(23, True, True),  # ...unless Google Play services backports it (API 23-29)
    ResetRow(26, False, False),
    ResetRow(29, True, True),
    ResetRow(30, False, True),
    ResetRow(33, False, True),
    ResetRow(34, False, True),
]


@pytest.mark.parametrize("row", RESET_ROWS, ids=lambda r: f"api{r.api_level}-gms{r.play_services}")
def test_auto_reset_reads_as_a_deny_without_rationale(row: ResetRow, fake_clock: FakeClock) -> None:
    user = ScriptedUser([GRANT])
    provider = AndroidPermissionProvider(
        api_level=row.api_level, user=user, clock=fake_clock.clock,
        play_services_auto_reset=row.play_services,
    )
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    assert provider.request(CONTACTS) is S.GRANTED
    fake_clock.advance(91 * DAY)
    assert provider.run_auto_reset() is row.resets
    if not row.resets:
        assert provider.check(CONTACTS) is S.GRANTED
        return
    key = CONTACTS if row.api_level < 26 else READ  # the group's one state below API 26
    assert changes[-1] == PermissionChange(key, S.GRANTED, S.DENIED, app_killed=True)
    assert provider.check(CONTACTS) is S.DENIED  # as after a Deny
    assert provider.should_show_rationale(CONTACTS) is False  # USER_SET cleared
    assert provider.is_auto_revoked(CONTACTS) is True
    # Not user-fixed: a request shows the dialog, and its denial is a first denial.
    user.push(DENY)
    assert provider.request(CONTACTS) is S.DENIED
    assert provider.dialogs_shown == 2
    assert provider.should_show_rationale(CONTACTS) is True
    assert provider.is_auto_revoked(CONTACTS) is False


@pytest.mark.parametrize("api_level", [30, 33, 34])
def test_a_settings_deny_differs_from_a_reset_only_in_the_rationale(api_level: int) -> None:
    user = ScriptedUser([GRANT, DENY])
    provider = AndroidPermissionProvider(api_level=api_level, user=user)
    provider.request(CONTACTS)
    provider.settings_revoke()
    assert provider.check(CONTACTS) is S.DENIED
    assert provider.should_show_rationale(CONTACTS) is True  # the user set it
    assert provider.request(CONTACTS) is S.BLOCKED  # API 30+: the second denial blocks


@pytest.mark.parametrize("api_level", [30, 34])
def test_after_a_reset_the_sdk_says_ask_again(api_level: int, fake_clock: FakeClock) -> None:
    provider = AndroidPermissionProvider(
        api_level=api_level, user=ScriptedUser([GRANT, DISMISS, GRANT]),
        clock=fake_clock.clock,
    )
    service = PermissionService(provider)
    assert service.request(CONTACTS) is S.GRANTED
    fake_clock.advance(100 * DAY)
    # Denied, no rationale, never blocked: the SDK reports "ask", as on a first run.
    assert service.status(CONTACTS) is S.NOT_DETERMINED
    assert service.request(CONTACTS) is S.NOT_DETERMINED  # dismissed: nothing learned
    assert provider.is_auto_revoked(CONTACTS) is True
    assert service.request(CONTACTS) is S.GRANTED
    service.close()


# -- Rule 2: READ and WRITE contacts are granted separately from API 26 ------------------
# https://developer.android.com/about/versions/oreo/android-8.0-changes#rmp
# "the app is granted only the permissions it has explicitly requested. However, once
# the user grants a permission to the app, all subsequent requests for permissions in
# that permission group are automatically granted." Below API 26, the whole group.


@dataclass(frozen=True)
class GroupRow:
    api_level: int
    write_after_read_grant: PermissionStatus
    write_rationale_after_read_denial: bool


GROUP_ROWS = [
    GroupRow(23, S.GRANTED, True),
    GroupRow(26, S.DENIED, False),
    GroupRow(29, S.DENIED, False),
    GroupRow(30, S.DENIED, False),
    GroupRow(33, S.DENIED, False),
    GroupRow(34, S.DENIED, False),
]


@pytest.mark.parametrize("row", GROUP_ROWS, ids=lambda r: f"api{r.api_level}")
def test_only_the_requested_permission_is_granted(row: GroupRow) -> None:
    provider = AndroidPermissionProvider(api_level=row.api_level, user=ScriptedUser([GRANT]))
    assert provider.request(READ) is S.GRANTED
    assert provider.check(WRITE) is row.write_after_read_grant
    # Requested next, WRITE is granted without a dialog on every level.
    assert provider.request(WRITE) is S.GRANTED
    assert provider.dialogs_shown == 1
    assert provider.check(WRITE) is S.GRANTED


@pytest.mark.parametrize("row", GROUP_ROWS, ids=lambda r: f"api{r.api_level}")
def test_a_denial_of_read_is_not_a_denial_of_write(row: GroupRow) -> None:
    provider = AndroidPermissionProvider(api_level=row.api_level, user=ScriptedUser([DENY]))
    assert provider.request(READ) is S.DENIED
    assert provider.should_show_rationale(WRITE) is row.write_rationale_after_read_denial
    if row.api_level >= 26:
        # WRITE was never asked: its own dialog shows.
        provider.user = ScriptedUser([GRANT])
        assert provider.request(WRITE) is S.GRANTED
        assert provider.dialogs_shown == 2
        assert provider.check(READ) is S.DENIED


@pytest.mark.parametrize("api_level", [26, 29, 30, 33, 34])
def test_a_blocked_read_auto_denies_write_without_a_dialog(api_level: int) -> None:
    answers = [DENY, Answer.DENY_DONT_ASK_AGAIN] if api_level < 30 else [DENY, DENY]
    provider = AndroidPermissionProvider(api_level=api_level, user=ScriptedUser(answers))
    provider.request(READ)
    assert provider.request(READ) is S.BLOCKED
    assert provider.request(WRITE) is S.BLOCKED  # the group is user-fixed
    assert provider.dialogs_shown == 2


@pytest.mark.parametrize("api_level", API_LEVELS)
def test_settings_toggles_the_whole_group(api_level: int) -> None:
    provider = AndroidPermissionProvider(api_level=api_level)
    provider.settings_grant()
    assert (provider.check(READ), provider.check(WRITE)) == (S.GRANTED, S.GRANTED)
    provider.settings_revoke()
    assert (provider.check(READ), provider.check(WRITE)) == (S.DENIED, S.DENIED)
    assert provider.should_show_rationale(WRITE) is True


# -- Rule 3: the iOS 18 picker's result is the new selection -----------------------------
# https://developer.apple.com/documentation/contactsui/contactaccesspicker
# The user edits the selection in the picker, adding and removing contacts. Below iOS 18
# there is neither limited access nor the picker API (@available(iOS 18.0, *)).

BOOK = [Contact(id=i, display_name=i.title()) for i in ("ann", "bob", "cat", "dan")]


@pytest.mark.parametrize(
    ("ios_version", "answer", "expected"),
    [
        (18, SelectContacts(["ann", "bob", "cat"]),
         PickerResult(S.LIMITED, frozenset({"ann", "bob", "cat"}), added=frozenset({"cat"}))),
        (18, SelectContacts(["bob"]),
         PickerResult(S.LIMITED, frozenset({"bob"}), removed=frozenset({"ann"}))),
        (18, SelectContacts(["dan"]),
         PickerResult(S.LIMITED, frozenset({"dan"}), added=frozenset({"dan"}),
                      removed=frozenset({"ann", "bob"}))),
        (18, DISMISS, PickerResult(S.LIMITED, frozenset({"ann", "bob"}))),
    ],
    ids=["add", "remove", "replace", "cancel"],
)
def test_picker_result_and_what_the_gateway_sees(
    ios_version: int, answer: SelectContacts | Answer, expected: PickerResult
) -> None:
    user = ScriptedUser([SelectContacts(["ann", "bob"]), answer])
    provider = IOSPermissionProvider(ios_version=ios_version, user=user)
    service = PermissionService(provider)
    gateway = ContactsGateway(InMemoryAddressBook(BOOK), service)
    deltas: list[ContactsDelta] = []
    service.request(CONTACTS)
    gateway.subscribe(deltas.append)
    assert provider.present_contact_picker() == expected
    visible = sorted(c.id for c in gateway.list_contacts().items)
    assert visible == sorted(expected.selected)
    if expected.changed:
        # Listeners see removals as removals: no purge, no app kill, the rest untouched.
        assert deltas[-1] == ContactsDelta(
            S.LIMITED, added=expected.added, removed=expected.removed
        )
    else:
        assert all(not d.added and not d.removed for d in deltas[1:])
    gateway.close()
    service.close()


def test_ios_17_has_no_picker() -> None:
    provider = IOSPermissionProvider(ios_version=17, user=ScriptedUser([GRANT]))
    provider.request(CONTACTS)
    with pytest.raises(InvalidTransitionError, match="iOS 18"):
        provider.present_contact_picker()


# -- Rule 4: outside limited access the picker returns an empty result -------------------
# https://developer.apple.com/documentation/swiftui/view/contactaccesspicker(ispresented:completionhandler:)
# "will be invoked with an empty result if your app doesn't have the correct
# authorization status".


@pytest.mark.parametrize(
    ("setup", "status"),
    [
        ([], S.NOT_DETERMINED),
        (["grant"], S.GRANTED),
        (["deny"], S.BLOCKED),
        (["grant", "mdm"], S.RESTRICTED),
    ],
)
def test_picker_outside_limited_access_is_an_empty_result(setup: list[str], status: S) -> None:
    answers = {"grant": GRANT, "deny": DENY}
    user = ScriptedUser([answers[s] for s in setup if s in answers])
    provider = IOSPermissionProvider(ios_version=18, user=user)
    if setup and setup[0] in answers:
        provider.request(CONTACTS)
    if "mdm" in setup:
        provider.mdm_restrict()
    assert provider.present_contact_picker() == PickerResult(status, presented=False)
    assert provider.pickers_shown == 0
    assert provider.check(CONTACTS) is status


@pytest.mark.parametrize("api_level", [26, 30, 34])
def test_a_grant_settled_by_the_group_is_announced_at_once(api_level: int) -> None:
    provider = AndroidPermissionProvider(api_level=api_level, user=ScriptedUser([GRANT]))
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    provider.request(READ)
    provider.request(WRITE)  # no dialog; returns only after listeners were told
    assert changes == [
        PermissionChange(READ, S.NOT_DETERMINED, S.GRANTED),
        PermissionChange(WRITE, S.NOT_DETERMINED, S.GRANTED),
    ]
