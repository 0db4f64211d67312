"""The simulated iOS Contacts authorization: transitions, limited access, MDM, Settings."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from _support import wait_until

from n2net_privacy.errors import (
    ConfigurationError,
    InvalidTransitionError,
    MissingUsageDescriptionError,
    UnknownPermissionError,
)
from n2net_privacy.permissions.ios import (
    DEFAULT_USAGE_DESCRIPTION,
    IOSPermissionProvider,
    PickerResult,
)
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionProvider,
    PermissionStatus,
)
from n2net_privacy.simulation.prompt import Answer, Prompt, PromptAnswer, SelectContacts
from n2net_privacy.simulation.user import HoldOpen, ScriptedUser

ND = PermissionStatus.NOT_DETERMINED
GRANTED = PermissionStatus.GRANTED
LIMITED = PermissionStatus.LIMITED
BLOCKED = PermissionStatus.BLOCKED
RESTRICTED = PermissionStatus.RESTRICTED
GRANT, DENY = Answer.GRANT, Answer.DENY
CONTACTS = Permission.CONTACTS
Invalid = InvalidTransitionError


def ids(*values: str) -> frozenset[str]:
    return frozenset(values)


# (action, argument, returns or raises, status after, selected ids after)
Step = tuple[
    str,
    frozenset[str] | None,
    PermissionStatus | frozenset[str] | type[Exception] | None,
    PermissionStatus,
    frozenset[str] | None,
]


@dataclass(frozen=True)
class Row:
    id: str
    ios_version: int
    answers: tuple[PromptAnswer, ...]
    steps: tuple[Step, ...]
    dialogs: int


ROWS = [
    Row("never asked", 17, (), (
        ("none", None, None, ND, None),
    ), dialogs=0),
    Row("allow, then never prompts again", 17, (GRANT,), (
        ("request", None, GRANTED, GRANTED, None),
        ("request", None, GRANTED, GRANTED, None),
    ), dialogs=1),
    Row("don't allow blocks at once", 17, (DENY,), (
        ("request", None, BLOCKED, BLOCKED, None),
        ("request", None, BLOCKED, BLOCKED, None),
    ), dialogs=1),
    Row("ios18 select contacts gives limited", 18, (SelectContacts(["a", "b"]),), (
        ("request", None, LIMITED, LIMITED, ids("a", "b")),
        ("request", None, LIMITED, LIMITED, ids("a", "b")),
    ), dialogs=1),
    Row("ios18 full access", 18, (GRANT,), (
        ("request", None, GRANTED, GRANTED, None),
    ), dialogs=1),
    Row("ios17 has no select option", 17, (SelectContacts(["a"]),), (
        ("request", None, Invalid, ND, None),
    ), dialogs=1),
    Row("the alert cannot be dismissed", 18, (Answer.DISMISS,), (
        ("request", None, Invalid, ND, None),
    ), dialogs=1),
    Row("there is no don't-ask-again on iOS", 17, (Answer.DENY_DONT_ASK_AGAIN,), (
        ("request", None, Invalid, ND, None),
    ), dialogs=1),
    Row("no Settings row before asking", 18, (), (
        ("settings_grant", None, Invalid, ND, None),
        ("settings_revoke", None, Invalid, ND, None),
        ("settings_set_limited", ids("a"), Invalid, ND, None),
    ), dialogs=0),
    Row("only Settings undoes a denial", 17, (DENY,), (
        ("request", None, BLOCKED, BLOCKED, None),
        ("settings_grant", None, None, GRANTED, None),
        ("request", None, GRANTED, GRANTED, None),
        ("settings_revoke", None, None, BLOCKED, None),
        ("settings_revoke", None, None, BLOCKED, None),
        ("request", None, BLOCKED, BLOCKED, None),
    ), dialogs=1),
    Row("ios18 Settings edits the limited set", 18, (GRANT,), (
        ("request", None, GRANTED, GRANTED, None),
        ("settings_set_limited", ids("x"), None, LIMITED, ids("x")),
        ("settings_set_limited", ids("x", "y"), None, LIMITED, ids("x", "y")),
        ("settings_revoke", None, None, BLOCKED, None),
        ("settings_set_limited", ids(), None, LIMITED, ids()),
        ("settings_grant", None, None, GRANTED, None),
    ), dialogs=1),
    Row("ios17 has no limited access in Settings", 17, (GRANT,), (
        ("request", None, GRANTED, GRANTED, None),
        ("settings_set_limited", ids("x"), Invalid, GRANTED, None),
    ), dialogs=1),
    # ContactAccessPicker: the answer is the new selection, removals included.
    # https://developer.apple.com/documentation/contactsui/contactaccesspicker
    Row("picker result is the new selection", 18, (
        SelectContacts(["a"]), SelectContacts(["a", "b", "c"]), Answer.DISMISS,
        SelectContacts(["c", "d"]),
    ), (
        ("request", None, LIMITED, LIMITED, ids("a")),
        ("picker", None, PickerResult(LIMITED, ids("a", "b", "c"), added=ids("b", "c")),
         LIMITED, ids("a", "b", "c")),
        ("picker", None, PickerResult(LIMITED, ids("a", "b", "c")), LIMITED, ids("a", "b", "c")),
        ("picker", None, PickerResult(LIMITED, ids("c", "d"), added=ids("d"),
                                      removed=ids("a", "b")), LIMITED, ids("c", "d")),
    ), dialogs=1),
    Row("picker offers no grant", 18, (SelectContacts(["a"]), GRANT), (
        ("request", None, LIMITED, LIMITED, ids("a")),
        ("picker", None, Invalid, LIMITED, ids("a")),
    ), dialogs=1),
    # Outside limited access: "invoked with an empty result", no picker, no error.
    Row("picker outside limited access: empty result with the status", 18, (GRANT,), (
        ("picker", None, PickerResult(ND, presented=False), ND, None),
        ("request", None, GRANTED, GRANTED, None),
        ("picker", None, PickerResult(GRANTED, presented=False), GRANTED, None),
        ("settings_revoke", None, None, BLOCKED, None),
        ("picker", None, PickerResult(BLOCKED, presented=False), BLOCKED, None),
    ), dialogs=1),
    Row("ios17 has no picker API", 17, (), (
        ("picker", None, Invalid, ND, None),
    ), dialogs=0),
    Row("MDM before asking: no prompt, Settings frozen", 18, (GRANT,), (
        ("mdm_restrict", None, None, RESTRICTED, None),
        ("request", None, RESTRICTED, RESTRICTED, None),
        ("settings_grant", None, Invalid, RESTRICTED, None),
        ("settings_revoke", None, Invalid, RESTRICTED, None),
        ("settings_set_limited", ids("a"), Invalid, RESTRICTED, None),
        ("mdm_lift", None, None, ND, None),
        ("request", None, GRANTED, GRANTED, None),
    ), dialogs=1),
    Row("MDM over a limited grant gives it back", 18, (SelectContacts(["a"]),), (
        ("request", None, LIMITED, LIMITED, ids("a")),
        ("mdm_restrict", None, None, RESTRICTED, None),
        ("mdm_restrict", None, None, RESTRICTED, None),
        ("mdm_lift", None, None, LIMITED, ids("a")),
        ("mdm_lift", None, Invalid, LIMITED, ids("a")),
    ), dialogs=1),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_ios_transitions(row: Row) -> None:
    user = ScriptedUser(row.answers)
    provider = IOSPermissionProvider(ios_version=row.ios_version, user=user)
    actions: dict[str, Callable[[frozenset[str] | None], object]] = {
        "none": lambda _: None,
        "request": lambda _: provider.request(CONTACTS),
        "picker": lambda _: provider.present_contact_picker(),
        "settings_grant": lambda _: provider.settings_grant(),
        "settings_revoke": lambda _: provider.settings_revoke(),
        "settings_set_limited": lambda arg: provider.settings_set_limited(arg or ()),
        "mdm_restrict": lambda _: provider.mdm_restrict(),
        "mdm_lift": lambda _: provider.mdm_lift(),
    }
    for number, (action, arg, expected, status, selected) in enumerate(row.steps, 1):
        where = f"step {number} ({action})"
        if isinstance(expected, type):
            with pytest.raises(expected):
                actions[action](arg)
        else:
            assert actions[action](arg) == expected, where
        assert provider.check(CONTACTS) == status, where
        assert provider.selected_ids(CONTACTS) == selected, where
        assert provider.should_show_rationale(CONTACTS) is False
    assert provider.dialogs_shown == row.dialogs
    assert user.remaining == 0


def test_is_a_permission_provider() -> None:
    provider: PermissionProvider = IOSPermissionProvider(ios_version=18)
    assert isinstance(provider, PermissionProvider)


def test_prompt_shows_usage_description_and_options() -> None:
    user = ScriptedUser([GRANT])
    IOSPermissionProvider(ios_version=18, user=user).request(CONTACTS)
    (prompt,) = user.prompts
    assert prompt.message == DEFAULT_USAGE_DESCRIPTION
    assert prompt.options == {Answer.GRANT, Answer.DENY, Answer.SELECT}


@pytest.mark.parametrize("description", [None, "", "   "])
def test_missing_usage_description_is_a_configuration_error(description: str | None) -> None:
    user = ScriptedUser([GRANT])
    provider = IOSPermissionProvider(ios_version=18, user=user, usage_description=description)
    with pytest.raises(MissingUsageDescriptionError) as caught:
        provider.request(CONTACTS)
    assert isinstance(caught.value, ConfigurationError)
    assert "NSContactsUsageDescription" in str(caught.value)
    assert provider.dialogs_shown == 0
    assert provider.check(CONTACTS) == ND  # not a fake denial


def test_restricted_is_immutable_and_silent() -> None:
    provider = IOSPermissionProvider(ios_version=18, user=ScriptedUser([GRANT]))
    provider.request(CONTACTS)
    provider.mdm_restrict()
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    for change in (
        provider.settings_grant,
        provider.settings_revoke,
        lambda: provider.settings_set_limited(["a"]),
    ):
        with pytest.raises(InvalidTransitionError, match="restricted"):
            change()
    assert provider.check(CONTACTS) == RESTRICTED
    assert changes == []


def test_settings_changes_kill_the_app_both_ways() -> None:
    provider = IOSPermissionProvider(ios_version=18, user=ScriptedUser([DENY]))
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    provider.request(CONTACTS)
    provider.settings_grant()
    provider.settings_set_limited(["a"])
    provider.settings_revoke()
    assert [(c.old, c.new, c.app_killed, c.selected_ids) for c in changes] == [
        (ND, BLOCKED, False, None),
        (BLOCKED, GRANTED, True, None),
        (GRANTED, LIMITED, True, ids("a")),
        (LIMITED, BLOCKED, True, None),
    ]


def test_picker_change_reports_full_set_without_killing() -> None:
    user = ScriptedUser([SelectContacts(["a"]), SelectContacts(["b"])])
    provider = IOSPermissionProvider(ios_version=18, user=user)
    provider.request(CONTACTS)
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    result = provider.present_contact_picker()
    assert result == PickerResult(LIMITED, ids("b"), added=ids("b"), removed=ids("a"))
    assert changes == [PermissionChange(CONTACTS, LIMITED, LIMITED, False, ids("b"))]
    assert provider.pickers_shown == 1
    assert user.prompts[-1].picker is True
    assert user.prompts[-1].selected == ids("a")  # the picker opens on the current selection


def test_a_responder_can_add_to_the_selection_it_is_shown() -> None:
    def add_z(prompt: Prompt) -> PromptAnswer:
        return SelectContacts(prompt.selected | {"z"}) if prompt.picker else SelectContacts(["a"])

    provider = IOSPermissionProvider(ios_version=18, user=ScriptedUser(respond=add_z))
    provider.request(CONTACTS)
    assert provider.present_contact_picker().added == ids("z")
    assert provider.selected_ids(CONTACTS) == ids("a", "z")


def test_picker_outside_limited_access_shows_nothing_and_changes_nothing() -> None:
    provider = IOSPermissionProvider(ios_version=18, user=ScriptedUser([GRANT]))
    provider.request(CONTACTS)
    changes: list[PermissionChange] = []
    provider.subscribe(changes.append)
    result = provider.present_contact_picker()
    assert (result.status, result.selected, result.changed, result.presented) == (
        GRANTED, ids(), False, False,
    )
    assert provider.pickers_shown == 0
    assert changes == []


def test_one_prompt_at_a_time() -> None:
    hold = HoldOpen(SelectContacts(["a"]))
    provider = IOSPermissionProvider(ios_version=18, user=ScriptedUser([hold]))
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(provider.request, CONTACTS)
        assert hold.wait_opened()
        others = [pool.submit(provider.request, CONTACTS) for _ in range(2)]
        assert wait_until(lambda: provider.prompt_gate.waiting >= 2)
        hold.release()
        results = {f.result(timeout=5) for f in [first, *others]}
    assert results == {LIMITED}
    assert provider.dialogs_shown == 1


def test_mdm_while_alert_open_wins() -> None:
    hold = HoldOpen(GRANT)
    provider = IOSPermissionProvider(ios_version=17, user=ScriptedUser([hold]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.submit(provider.request, CONTACTS)
        assert hold.wait_opened()
        pool.submit(provider.mdm_restrict).result(timeout=5)
        hold.release()
        assert pending.result(timeout=5) == RESTRICTED
    provider.mdm_lift()
    assert provider.check(CONTACTS) == ND


@pytest.mark.parametrize("bad", [Permission.READ_CONTACTS, "android.permission.WRITE_CONTACTS",
                                 "camera", None])
def test_unknown_permission(bad: object) -> None:
    provider = IOSPermissionProvider(ios_version=18)
    for call in (provider.check, provider.request, provider.selected_ids,
                 provider.should_show_rationale, provider.present_contact_picker):
        with pytest.raises(UnknownPermissionError):
            call(bad)  # type: ignore[arg-type]


def test_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        IOSPermissionProvider(ios_version=0)
