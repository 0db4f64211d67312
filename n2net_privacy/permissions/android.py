"""A faithful simulation of Android runtime permissions for the contacts group.

The rules, as data (sans-I/O: the tables and functions below decide, the
provider only locks, prompts and notifies). Each rule names its source.

* API < 23: permissions are granted at install. No dialog, no revoke.
  (https://developer.android.com/guide/topics/permissions/overview#runtime)
* API 23+: a request shows the system dialog. A denial leaves the permission
  DENIED, and ``shouldShowRequestPermissionRationale`` becomes true.
  (https://developer.android.com/training/permissions/requesting#explain)
* API 23-29: from the second dialog on, a "Don't ask again" checkbox is
  offered; denying with it ticked BLOCKS. API 30+: a second denial BLOCKS.
  (https://developer.android.com/about/versions/11/privacy/permissions#dialog-visibility)
* Dismissing the dialog (back, tap outside) is not a denial: nothing changes.
* BLOCKED: a request returns at once, no dialog. Only Settings unblocks.
* Settings: granting clears everything; revoking leaves DENIED (rationale
  true) and kills the app.
* API 23-25: READ_CONTACTS and WRITE_CONTACTS are one group with one state:
  granting one grants the other. API 26+: only the requested permission is
  granted; another of the group is then granted *without a dialog* once the
  app requests it, and auto-denied while one of the group is blocked.
  (https://developer.android.com/about/versions/oreo/android-8.0-changes#rmp)
  On Android ``contacts`` stands for READ_CONTACTS, the permission reads need.
* API 30+: a grant is auto-reset after ``auto_reset_days`` unused (default
  90) unless the app is exempt. The reset "has the same effect as if the
  user ... changed your app's access level to Deny": the permission is
  DENIED, Settings shows it denied and the app's process is killed.
  (https://developer.android.com/about/versions/11/privacy/permissions#auto-reset,
  https://developer.android.com/topic/performance/app-hibernation)
  ``shouldShowRequestPermissionRationale`` then reads **false**, unlike after
  a Deny in Settings: AOSP's auto-revoke job revokes with ``userFixed =
  false`` and sets ``FLAG_PERMISSION_AUTO_REVOKED`` while *clearing*
  ``FLAG_PERMISSION_USER_SET`` (PermissionController,
  ``AutoRevokePermissions.kt`` / ``HibernationPolicy.kt``), and
  ``PermissionManagerService.shouldShowRequestPermissionRationale`` returns
  exactly that USER_SET bit. Not user-fixed, so a request shows the dialog
  again, and its denial counts as a first denial. ``play_services_auto_reset``
  models the Google Play services backport to API 23-29 devices.

The provider's :meth:`~AndroidPermissionProvider.check` returns only GRANTED
or DENIED, exactly like ``checkSelfPermission``: Android cannot tell "never
asked" from "blocked". :meth:`~AndroidPermissionProvider.request` returns what
the SDK learns from the result (GRANTED, DENIED, BLOCKED, or NOT_DETERMINED
after a dismissed first dialog), as react-native-permissions does;
:class:`~n2net_privacy.permissions.service.PermissionService` remembers it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from n2net_privacy.checks import require_int, require_type
from n2net_privacy.errors import InvalidArgumentError, InvalidTransitionError
from n2net_privacy.permissions.simulated import SimulatedProvider
from n2net_privacy.permissions.status import (
    Permission,
    PermissionChange,
    PermissionStatus,
    Platform,
)
from n2net_privacy.redact import get_logger
from n2net_privacy.runtime import Clock, epoch_seconds, require_clock, utc_now
from n2net_privacy.simulation.prompt import (
    Answer,
    Prompt,
    Responder,
    ensure_offered,
)

__all__ = [
    "AUTO_RESET_API",
    "DEFAULT_AUTO_RESET_DAYS",
    "MAX_API_LEVEL",
    "RUNTIME_PERMISSIONS_API",
    "SEPARATE_GRANTS_API",
    "AndroidPermissionProvider",
    "android_auto_reset",
    "android_check",
    "android_dialog_options",
    "android_group_request",
    "android_initial_status",
    "android_permission_key",
    "android_rationale",
    "android_settings_grant",
    "android_settings_revoke",
    "android_status_after",
]

_log = get_logger(__name__)

RUNTIME_PERMISSIONS_API = 23
#: Android 8.0: only the requested permission of a group is granted.
SEPARATE_GRANTS_API = 26
#: Android 11: a second denial blocks, and unused apps' grants are auto-reset.
AUTO_RESET_API = 30
#: The highest API level a provider accepts. Android 16 is API 36 (2025,
#: https://developer.android.com/about/versions/16); the headroom admits the
#: next releases while refusing a typo such as 340 or 1000.
MAX_API_LEVEL = 40
DEFAULT_AUTO_RESET_DAYS = 90.0
_SECONDS_PER_DAY = 86_400.0

_ND = PermissionStatus.NOT_DETERMINED
_GRANTED = PermissionStatus.GRANTED
_DENIED = PermissionStatus.DENIED
_BLOCKED = PermissionStatus.BLOCKED

# (status before the dialog, the user's answer) -> status after. A status with
# no row shows no dialog; the answers with a row are the dialog's options.
_DIALOG_API_23_TO_29: dict[tuple[PermissionStatus, Answer], PermissionStatus] = {
    (_ND, Answer.GRANT): _GRANTED,
    (_ND, Answer.DENY): _DENIED,
    (_ND, Answer.DISMISS): _ND,
    (_DENIED, Answer.GRANT): _GRANTED,
    (_DENIED, Answer.DENY): _DENIED,
    (_DENIED, Answer.DENY_DONT_ASK_AGAIN): _BLOCKED,
    (_DENIED, Answer.DISMISS): _DENIED,
}
_DIALOG_API_30_UP: dict[tuple[PermissionStatus, Answer], PermissionStatus] = {
    (_ND, Answer.GRANT): _GRANTED,
    (_ND, Answer.DENY): _DENIED,
    (_ND, Answer.DISMISS): _ND,
    (_DENIED, Answer.GRANT): _GRANTED,
    (_DENIED, Answer.DENY): _BLOCKED,
    (_DENIED, Answer.DISMISS): _DENIED,
}


def _dialog_table(api_level: int) -> dict[tuple[PermissionStatus, Answer], PermissionStatus]:
    if api_level < RUNTIME_PERMISSIONS_API:
        return {}
    return _DIALOG_API_30_UP if api_level >= AUTO_RESET_API else _DIALOG_API_23_TO_29


def android_initial_status(api_level: int) -> PermissionStatus:
    """Where a permission stands right after install."""
    return _GRANTED if api_level < RUNTIME_PERMISSIONS_API else _ND


def _as_asked(status: PermissionStatus, auto_revoked: bool) -> PermissionStatus:
    # An auto-revoked permission has FLAG_PERMISSION_USER_SET cleared: to the dialog
    # and to the rationale it is a permission the user never decided on.
    return _ND if auto_revoked and status == _DENIED else status


def android_dialog_options(
    status: PermissionStatus, api_level: int, *, auto_revoked: bool = False
) -> frozenset[Answer]:
    """The choices a request's dialog offers; empty when no dialog is shown."""
    asked = _as_asked(status, auto_revoked)
    return frozenset(a for (s, a) in _dialog_table(api_level) if s == asked)


def android_status_after(
    status: PermissionStatus, api_level: int, answer: Answer, *, auto_revoked: bool = False
) -> PermissionStatus:
    """The status after the user answers the dialog with ``answer``.

    A dismissed dialog changes nothing, so an auto-revoked permission stays
    DENIED (still auto-revoked); the caller keeps that flag.
    """
    after = _dialog_table(api_level).get((_as_asked(status, auto_revoked), answer))
    if after is None:
        raise InvalidTransitionError(f"no Android {api_level} dialog from {status} offers {answer}")
    return status if answer == Answer.DISMISS else after


def android_check(status: PermissionStatus) -> PermissionStatus:
    """What ``checkSelfPermission`` says: it knows only granted or denied."""
    return _GRANTED if status == _GRANTED else _DENIED


def android_rationale(status: PermissionStatus, *, auto_revoked: bool = False) -> bool:
    """``shouldShowRequestPermissionRationale``: the USER_SET flag of a denied permission.

    True after the user denied (in the dialog or in Settings); false when
    never asked, blocked (USER_FIXED), granted, or auto-revoked (the
    auto-revoke job clears USER_SET).
    """
    return status == _DENIED and not auto_revoked


def android_auto_reset(status: PermissionStatus) -> PermissionStatus:
    """The unused-app reset: a grant becomes a denial (as a Deny in Settings)."""
    return _DENIED if status == _GRANTED else status


def android_permission_key(permission: Permission | str, api_level: int) -> Permission:
    """Which state a permission reads: the group's below API 26, its own from 26.

    ``contacts`` is READ_CONTACTS on Android 8.0+: the permission the SDK's
    reads need.
    """
    member = Permission(permission)
    if api_level < SEPARATE_GRANTS_API:
        return member.group
    return Permission.READ_CONTACTS if member == Permission.CONTACTS else member


def android_group_request(
    status: PermissionStatus, others: Iterable[PermissionStatus], api_level: int
) -> PermissionStatus | None:
    """API 26+: a request settled by the rest of its group, without a dialog.

    Returns None when the dialog decides. Order as AOSP's GrantPermissionsActivity:
    a group with a blocked (user-fixed) member auto-denies; one with a
    granted member auto-grants ("once the user grants a permission to the app,
    all subsequent requests for permissions in that permission group are
    automatically granted").
    """
    if api_level < SEPARATE_GRANTS_API or status == _GRANTED:
        return None
    siblings = set(others)
    if _BLOCKED in siblings:
        return _BLOCKED
    if _GRANTED in siblings:
        return _GRANTED
    return None


def android_settings_grant(status: PermissionStatus, api_level: int) -> PermissionStatus:
    """Allow in the app's Settings page: from any state, including blocked."""
    return _GRANTED


def android_settings_revoke(status: PermissionStatus, api_level: int) -> PermissionStatus:
    """Deny in Settings: a grant becomes a denial (rationale true); others stay."""
    if api_level < RUNTIME_PERMISSIONS_API:
        raise InvalidTransitionError(
            f"Android API {api_level} has no runtime permissions to revoke in Settings"
        )
    return _DENIED if status == _GRANTED else status


_MEMBERS = (Permission.READ_CONTACTS, Permission.WRITE_CONTACTS)


class AndroidPermissionProvider(SimulatedProvider):
    """The Android permission system for one installed app, simulated.

    ``user`` answers the dialogs (a :class:`ScriptedUser` with no answers by
    default, so an unexpected dialog fails loudly). ``clock`` is the wall time
    (a :data:`~n2net_privacy.runtime.Clock`: aware UTC) and drives auto-reset.
    Every method is thread-safe; Settings changes may arrive from another
    thread at any moment, even while a dialog is open, in which case Settings
    has the last word and the dialog's answer is dropped.

    Changes are posted per state: for the group (``contacts``) below API 26,
    for READ_CONTACTS and WRITE_CONTACTS each from API 26.
    ``play_services_auto_reset`` turns on the auto-reset that Google Play
    services brought to API 23-29 devices (off by default: not every device
    has Play services).
    """

    def __init__(
        self,
        *,
        api_level: int,
        user: Responder | None = None,
        clock: Clock = utc_now,
        auto_reset_days: float = DEFAULT_AUTO_RESET_DAYS,
        auto_reset_exempt: bool = False,
        play_services_auto_reset: bool = False,
    ) -> None:
        require_int("api_level", api_level, 1, MAX_API_LEVEL)
        require_type("auto_reset_days", auto_reset_days, (int, float))
        if not auto_reset_days > 0:
            raise InvalidArgumentError("auto_reset_days must be positive")
        super().__init__("android permissions", user)
        self.api_level = api_level
        require_clock(clock)
        self._now_s = functools.partial(epoch_seconds, clock)  # Unix seconds
        self._auto_reset_days = auto_reset_days
        self._exempt = auto_reset_exempt
        self._auto_reset_on = api_level >= AUTO_RESET_API or (
            play_services_auto_reset and api_level >= RUNTIME_PERMISSIONS_API
        )
        self._status: dict[Permission, PermissionStatus] = {}
        self._auto_revoked: set[Permission] = set()
        self._last_used = self._now_s()

    @property
    def platform(self) -> Platform:
        return Platform.ANDROID

    @property
    def auto_reset_days(self) -> float:
        return self._auto_reset_days

    @property
    def auto_reset_exempt(self) -> bool:
        with self._lock:
            return self._exempt

    # -- what the app can ask --------------------------------------------------

    def check(self, permission: Permission | str) -> PermissionStatus:
        key = self._key(permission)
        with self._changes.changing():
            self._expire_if_unused()
            status = self._get(key)
        return android_check(status)

    def should_show_rationale(self, permission: Permission | str) -> bool:
        key = self._key(permission)
        with self._changes.changing():
            self._expire_if_unused()
            status, revoked = self._get(key), key in self._auto_revoked
        return android_rationale(status, auto_revoked=revoked)

    def is_auto_revoked(self, permission: Permission | str) -> bool:
        """Whether the unused-app reset took this permission (``FLAG_PERMISSION_AUTO_REVOKED``).

        Apps cannot read the flag; tests and the demo can.
        """
        key = self._key(permission)
        with self._changes.changing():
            self._expire_if_unused()
            revoked = key in self._auto_revoked
        return revoked

    def selected_ids(self, permission: Permission | str) -> frozenset[str] | None:
        self._key(permission)
        return None

    def request(self, permission: Permission | str) -> PermissionStatus:
        key = self._key(permission)
        with self._changes.changing():
            self._expire_if_unused()
            self._last_used = self._now_s()  # the user is in the app
        # One dialog on screen at a time: a WRITE request made while the READ dialog
        # is up waits for it, then is settled by the group rule (API 26+).
        return self.prompt_gate.run(key, lambda: self._show_dialog(key))

    def app_opened(self) -> None:
        """The user opened the app: resets due while it sat unused happen first."""
        with self._changes.changing():
            self._expire_if_unused()
            self._last_used = self._now_s()

    def run_auto_reset(self) -> bool:
        """Let the system's unused-app job run now. True if a grant was reset."""
        with self._changes.changing():
            reset = self._expire_if_unused()
        return reset

    # -- what the user can do in Settings ---------------------------------------

    def settings_grant(self, permission: Permission | str = Permission.CONTACTS) -> None:
        """Allow in the app's Settings page: the toggle is the group's, so all of it."""
        self._settings_change(Permission(permission).group, android_settings_grant)

    def settings_revoke(self, permission: Permission | str = Permission.CONTACTS) -> None:
        """Deny in the app's Settings page: every granted permission of the group."""
        self._settings_change(Permission(permission).group, android_settings_revoke)

    def settings_set_auto_reset_exempt(self, exempt: bool) -> None:
        """The "Remove permissions if app isn't used" switch (exempt = switched off)."""
        with self._lock:
            self._exempt = exempt

    # -- internals (call with self._lock held unless noted) ----------------------

    def _key(self, permission: Permission | str) -> Permission:
        return android_permission_key(permission, self.api_level)

    def _keys(self, group: Permission) -> tuple[Permission, ...]:
        return (group,) if self.api_level < SEPARATE_GRANTS_API else _MEMBERS

    def _get(self, key: Permission) -> PermissionStatus:
        return self._status.get(key, android_initial_status(self.api_level))

    def _set(
        self, key: Permission, new: PermissionStatus, *, app_killed: bool, auto_revoked: bool
    ) -> None:
        old = self._get(key)
        if auto_revoked:
            self._auto_revoked.add(key)
        else:
            self._auto_revoked.discard(key)
        if new == old:
            return
        self._status[key] = new
        self._version += 1
        if new == _GRANTED:
            # A fresh grant restarts the unused-app clock.
            self._last_used = self._now_s()
        _log.info("android %s: %s -> %s (app killed: %s)", key, old, new, app_killed)
        self._changes.announce(PermissionChange(key, old, new, app_killed=app_killed))

    def _expire_if_unused(self) -> bool:
        if not self._auto_reset_on or self._exempt:
            return False
        idle = self._now_s() - self._last_used
        if idle < self._auto_reset_days * _SECONDS_PER_DAY:
            return False
        granted = [k for k, s in self._status.items() if s == _GRANTED]
        for key in granted:
            # The system kills a hibernating app's process along with its grants.
            self._set(key, android_auto_reset(_GRANTED), app_killed=True, auto_revoked=True)
        return bool(granted)

    def _settings_change(
        self, group: Permission, rule: Callable[[PermissionStatus, int], PermissionStatus]
    ) -> None:
        with self._changes.changing():
            self._expire_if_unused()
            for key in self._keys(group):
                old = self._get(key)
                new = rule(old, self.api_level)
                # Android kills the app when a permission is taken away, not when given.
                killed = old == _GRANTED and new != _GRANTED
                # A permission Settings leaves as it was keeps its auto-revoke mark
                # (Deny on an already denied row changes nothing); a grant clears it.
                keep_mark = key in self._auto_revoked and new == old
                self._set(key, new, app_killed=killed, auto_revoked=keep_mark and not killed)

    def _show_dialog(self, key: Permission) -> PermissionStatus:
        """Runs inside the prompt gate, without self._lock while the dialog is up."""
        with self._changes.changing():
            before = self._get(key)
            revoked = key in self._auto_revoked
            others = [self._get(k) for k in self._keys(key.group) if k != key]
            settled = android_group_request(before, others, self.api_level)
            if settled == _GRANTED:
                self._set(key, settled, app_killed=False, auto_revoked=False)
            # An auto-denial changes no flag: the result alone says "blocked".
            options = (
                frozenset()
                if settled is not None
                else android_dialog_options(before, self.api_level, auto_revoked=revoked)
            )
            prompt = None
            if options:
                self._dialogs += 1
                prompt = Prompt(Platform.ANDROID, key, options, number=self._dialogs)
            version = self._version
        if prompt is None:
            return settled if settled is not None else before
        _log.debug("android dialog #%d for %s", prompt.number, key)
        kind = ensure_offered(prompt, self.user(prompt))
        with self._changes.changing():
            if self._version != version:
                # Settings changed while the dialog was up; the tap lands on nothing.
                result = self._get(key)
            else:
                result = android_status_after(
                    before, self.api_level, kind, auto_revoked=revoked
                )
                still_revoked = revoked and kind == Answer.DISMISS
                self._set(key, result, app_killed=False, auto_revoked=still_revoked)
        if result == _DENIED and revoked and kind == Answer.DISMISS:
            # A dismissed dialog after an auto-reset teaches nothing, as on first ask.
            return _ND
        return result
