"""A faithful simulation of iOS Contacts authorization (``CNAuthorizationStatus``).

The rules, as data (the functions below decide; the provider locks, prompts
and notifies):

* The system prompts once, ever: only from NOT_DETERMINED. Allow gives
  GRANTED; Don't Allow gives BLOCKED (``.denied``), which only Settings undoes.
* iOS 18+: the prompt also offers to share selected contacts: LIMITED, with a
  set of contact ids. Settings can edit the set.
  (https://developer.apple.com/documentation/contacts/cnauthorizationstatus/limited)
* iOS 18+: the ``ContactAccessPicker`` shows the current selection and lets
  the user change it, adding *and removing* contacts. Its result is the new
  selection, with what was added and removed (:class:`PickerResult`); a
  removal is real, so the gateway and its listeners see those contacts go.
  Outside limited access the picker is not shown: Apple's completion handler
  "will be invoked with an empty result if your app doesn't have the correct
  authorization status", so the result is empty and carries the status,
  nothing is raised. Choosing in the picker is not a Settings change: the app
  is not killed.
  (https://developer.apple.com/documentation/contactsui/contactaccesspicker,
  https://developer.apple.com/documentation/swiftui/view/contactaccesspicker(ispresented:completionhandler:))
* iOS 17 and earlier have no limited access and no picker: calling it is a
  programming error (the API is ``@available(iOS 18.0, *)``).
* RESTRICTED (MDM, parental controls) cannot be changed by the user: any
  Settings change raises :class:`~n2net_privacy.errors.InvalidTransitionError`.
* The app has no row in Settings until it has asked, so Settings changes from
  NOT_DETERMINED are invalid too.
* Every privacy-setting change kills the app, in both directions.
* Requesting without ``NSContactsUsageDescription`` is a configuration error
  (:class:`~n2net_privacy.errors.MissingUsageDescriptionError`): real iOS
  terminates the app; it is never reported as a denial.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from n2net_privacy.checks import require_int, require_type
from n2net_privacy.errors import (
    InvalidTransitionError,
    MissingUsageDescriptionError,
    UnknownPermissionError,
)
from n2net_privacy.permissions.simulated import SimulatedProvider
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionStatus,
    Platform,
)
from n2net_privacy.redact import get_logger
from n2net_privacy.simulation.prompt import (
    Answer,
    Prompt,
    PromptAnswer,
    Responder,
    SelectContacts,
    ensure_offered,
)

__all__ = [
    "DEFAULT_USAGE_DESCRIPTION",
    "LIMITED_ACCESS_VERSION",
    "MAX_IOS_VERSION",
    "IOSContactsState",
    "IOSPermissionProvider",
    "PickerResult",
    "ios_after_answer",
    "ios_after_picker",
    "ios_dialog_options",
    "ios_mdm_lift",
    "ios_mdm_restrict",
    "ios_settings_grant",
    "ios_settings_revoke",
    "ios_settings_set_limited",
]

_log = get_logger(__name__)

LIMITED_ACCESS_VERSION = 18
#: The highest major version a provider accepts. iOS 26 followed iOS 18 in
#: 2025 (Apple numbers releases by the coming year); the headroom admits the
#: next releases while refusing a typo such as 180.
MAX_IOS_VERSION = 30
DEFAULT_USAGE_DESCRIPTION = "N2Net shows your contacts so you can call and text them."

_ND = PermissionStatus.NOT_DETERMINED
_GRANTED = PermissionStatus.GRANTED
_LIMITED = PermissionStatus.LIMITED
_BLOCKED = PermissionStatus.BLOCKED
_RESTRICTED = PermissionStatus.RESTRICTED

# The one-time alert: answer -> status. SELECT only from iOS 18.
_DIALOG: dict[Answer, PermissionStatus] = {
    Answer.GRANT: _GRANTED,
    Answer.DENY: _BLOCKED,
    Answer.SELECT: _LIMITED,
}
# The states the user can reach the app's Contacts row in Settings from.
_EDITABLE_IN_SETTINGS = frozenset({_GRANTED, _LIMITED, _BLOCKED})


@dataclass(frozen=True, slots=True)
class IOSContactsState:
    """Contacts authorization: the status, the limited set, what MDM covers up."""

    status: PermissionStatus = _ND
    selected: frozenset[str] = frozenset()
    #: While RESTRICTED: the state the restriction will give back when lifted.
    under_restriction: IOSContactsState | None = None

    @property
    def selected_ids(self) -> frozenset[str] | None:
        return self.selected if self.status == _LIMITED else None


_Rule = Callable[[IOSContactsState], IOSContactsState]


@dataclass(frozen=True, slots=True)
class PickerResult:
    """What the iOS 18 contact-access picker returned.

    ``selected`` is the selection now (empty when access is not LIMITED);
    ``added`` and ``removed`` are what the user changed against the
    selection before. ``presented`` is False when iOS did not show the
    picker because the app's status is not LIMITED (``status`` says which).
    """

    status: PermissionStatus
    selected: frozenset[str] = frozenset()
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()
    presented: bool = True

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def ios_dialog_options(state: IOSContactsState, ios_version: int) -> frozenset[Answer]:
    """The alert's choices; empty when iOS would not prompt (it prompts once, ever)."""
    if state.status != _ND:
        return frozenset()
    if ios_version < LIMITED_ACCESS_VERSION:
        return frozenset({Answer.GRANT, Answer.DENY})
    return frozenset(_DIALOG)


def ios_after_answer(state: IOSContactsState, answer: PromptAnswer) -> IOSContactsState:
    """The state once the user answered the alert (options checked by the caller)."""
    if state.status != _ND:
        raise InvalidTransitionError(f"iOS does not prompt again from {state.status}")
    if isinstance(answer, SelectContacts):
        return IOSContactsState(_LIMITED, answer.ids)
    after = _DIALOG.get(Answer(answer))
    if after is None:
        raise InvalidTransitionError(f"the iOS contacts alert does not offer {answer}")
    return IOSContactsState(after)


def ios_after_picker(
    state: IOSContactsState, answer: PromptAnswer | None
) -> tuple[IOSContactsState, PickerResult]:
    """Apply the picker's answer: the new selection replaces the old one.

    ``answer`` is a :class:`SelectContacts` with the whole new selection, or
    ``Answer.DISMISS`` (cancelled: nothing changes). Outside LIMITED the
    picker is not shown (``answer`` is ignored) and the result is empty.
    """
    if state.status != _LIMITED:
        return state, PickerResult(state.status, presented=False)
    if not isinstance(answer, SelectContacts):
        return state, PickerResult(_LIMITED, state.selected)  # cancelled
    new = answer.ids
    result = PickerResult(
        _LIMITED, new, added=new - state.selected, removed=state.selected - new
    )
    return replace(state, selected=new), result


def _editable(state: IOSContactsState, action: str) -> None:
    if state.status == _RESTRICTED:
        raise InvalidTransitionError(f"cannot {action}: contacts access is restricted by MDM")
    if state.status not in _EDITABLE_IN_SETTINGS:
        raise InvalidTransitionError(
            f"cannot {action}: the app has no Contacts row in Settings before it asks"
        )


def ios_settings_grant(state: IOSContactsState) -> IOSContactsState:
    _editable(state, "grant in Settings")
    return IOSContactsState(_GRANTED)


def ios_settings_revoke(state: IOSContactsState) -> IOSContactsState:
    _editable(state, "revoke in Settings")
    return IOSContactsState(_BLOCKED)


def ios_settings_set_limited(
    state: IOSContactsState, ids: Iterable[str], ios_version: int
) -> IOSContactsState:
    if ios_version < LIMITED_ACCESS_VERSION:
        raise InvalidTransitionError(f"iOS {ios_version} has no limited contacts access")
    _editable(state, "choose contacts in Settings")
    return IOSContactsState(_LIMITED, SelectContacts(ids).ids)


def ios_mdm_restrict(state: IOSContactsState) -> IOSContactsState:
    """A device-management profile or parental control takes contacts away."""
    if state.status == _RESTRICTED:
        return state
    return IOSContactsState(_RESTRICTED, under_restriction=state)


def ios_mdm_lift(state: IOSContactsState) -> IOSContactsState:
    """The restriction is removed: the user's earlier choice shows again."""
    if state.status != _RESTRICTED:
        raise InvalidTransitionError(f"nothing to lift: contacts access is {state.status}")
    return state.under_restriction or IOSContactsState()


def _known(permission: Permission | str) -> Permission:
    member = Permission(permission)
    if member != Permission.CONTACTS:
        raise UnknownPermissionError(f"iOS has no permission {member.value!r}; use contacts")
    return member


class IOSPermissionProvider(SimulatedProvider):
    """The iOS permission system for one installed app, simulated.

    ``usage_description`` stands for ``NSContactsUsageDescription`` in the
    app's Info.plist; None (or blank) makes :meth:`request` raise
    :class:`MissingUsageDescriptionError`. Every method is thread-safe.
    """

    def __init__(
        self,
        *,
        ios_version: int,
        user: Responder | None = None,
        usage_description: str | None = DEFAULT_USAGE_DESCRIPTION,
    ) -> None:
        require_int("ios_version", ios_version, 1, MAX_IOS_VERSION)
        if usage_description is not None:
            require_type("usage_description", usage_description, str)
        super().__init__("ios permissions", user)
        self.ios_version = ios_version
        self.usage_description = usage_description
        self._state = IOSContactsState()
        self._pickers = 0

    @property
    def platform(self) -> Platform:
        return Platform.IOS

    @property
    def pickers_shown(self) -> int:
        with self._lock:
            return self._pickers

    # -- what the app can ask --------------------------------------------------

    def check(self, permission: Permission | str) -> PermissionStatus:
        _known(permission)
        with self._lock:
            return self._state.status

    def should_show_rationale(self, permission: Permission | str) -> bool:
        _known(permission)
        return False

    def selected_ids(self, permission: Permission | str) -> frozenset[str] | None:
        _known(permission)
        with self._lock:
            return self._state.selected_ids

    def request(self, permission: Permission | str) -> PermissionStatus:
        group = _known(permission)
        if not (self.usage_description or "").strip():
            raise MissingUsageDescriptionError(
                "NSContactsUsageDescription is missing from Info.plist; "
                "iOS would terminate the app on this request"
            )
        return self.prompt_gate.run(group, lambda: self._show_alert(group))

    def present_contact_picker(
        self, permission: Permission | str = Permission.CONTACTS
    ) -> PickerResult:
        """Show the iOS 18 contact-access picker; return the new selection and its deltas.

        Outside limited access no picker is shown and the result is empty,
        carrying the status. On iOS 17 and earlier this raises
        :class:`InvalidTransitionError`: the API does not exist there.
        """
        group = _known(permission)
        if self.ios_version < LIMITED_ACCESS_VERSION:
            raise InvalidTransitionError(
                f"iOS {self.ios_version} has no contact access picker (iOS 18+ API)"
            )
        return self.prompt_gate.run(("picker", group), lambda: self._show_picker(group))

    # -- what the user (or MDM) can do in Settings -------------------------------

    def settings_grant(self) -> None:
        self._settings_change(ios_settings_grant)

    def settings_revoke(self) -> None:
        self._settings_change(ios_settings_revoke)

    def settings_set_limited(self, ids: Iterable[str]) -> None:
        chosen = SelectContacts(ids).ids
        self._settings_change(lambda s: ios_settings_set_limited(s, chosen, self.ios_version))

    def mdm_restrict(self) -> None:
        self._settings_change(ios_mdm_restrict)

    def mdm_lift(self) -> None:
        self._settings_change(ios_mdm_lift)

    # -- internals -------------------------------------------------------------

    def _apply(self, new: IOSContactsState, *, app_killed: bool) -> None:
        """Call with self._lock held."""
        old = self._state
        if new.status == old.status and new.selected_ids == old.selected_ids:
            self._state = new
            return
        self._state = new
        self._version += 1
        _log.info("ios contacts: %s -> %s (app killed: %s)", old.status, new.status, app_killed)
        self._changes.announce(
            PermissionChange(
                Permission.CONTACTS,
                old.status,
                new.status,
                app_killed=app_killed,
                selected_ids=new.selected_ids,
            )
        )

    def _settings_change(self, rule: _Rule) -> None:
        with self._changes.changing():
            self._apply(rule(self._state), app_killed=True)

    def _show_alert(self, group: Permission) -> PermissionStatus:
        """Runs inside the prompt gate, without self._lock while the alert is up."""
        with self._lock:
            before = self._state
            options = ios_dialog_options(before, self.ios_version)
            if not options:
                return before.status
            self._dialogs += 1
            prompt = Prompt(
                Platform.IOS, group, options, number=self._dialogs, message=self.usage_description
            )
            version = self._version
        answer = self.user(prompt)
        ensure_offered(prompt, answer)
        with self._changes.changing():
            if self._version == version:
                self._apply(ios_after_answer(before, answer), app_killed=False)
            # else: MDM changed things while the alert was up; its state stands.
            result = self._state.status
        return result

    def _show_picker(self, group: Permission) -> PickerResult:
        with self._lock:
            before = self._state
            if before.status != _LIMITED:
                return ios_after_picker(before, None)[1]
            self._pickers += 1
            options = frozenset({Answer.SELECT, Answer.DISMISS})
            prompt = Prompt(
                Platform.IOS, group, options, number=self._pickers, picker=True,
                selected=before.selected,
            )
            version = self._version
        answer = self.user(prompt)
        ensure_offered(prompt, answer)
        with self._changes.changing():
            if self._version != version:
                # Settings (or MDM) changed access while the picker was up: it stands.
                now = self._state
                return PickerResult(now.status, now.selected_ids or frozenset())
            new, result = ios_after_picker(self._state, answer)
            # Choosing contacts from inside the app is not a Settings change.
            self._apply(new, app_killed=False)
        return result
