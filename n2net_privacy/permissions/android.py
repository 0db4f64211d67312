"""A faithful simulation of Android runtime permissions for the contacts group.

The rules, as data (sans-I/O: the tables and functions below decide, the
provider only locks, prompts and notifies):

* API < 23: permissions are granted at install. No dialog, no revoke.
* API 23+: a request shows the system dialog. A denial leaves the permission
  DENIED, and ``shouldShowRequestPermissionRationale`` becomes true.
* API 23-29: from the second dialog on, a "Don't ask again" checkbox is
  offered; denying with it ticked BLOCKS. API 30+: a second denial BLOCKS.
* Dismissing the dialog (back, tap outside) is not a denial: nothing changes.
* BLOCKED: a request returns at once, no dialog. Only Settings unblocks.
* Settings: granting clears everything; revoking leaves DENIED (rationale
  true) and kills the app.
* API 30+: a grant is auto-reset after ``auto_reset_days`` unused (default
  90) unless the app is exempt; the permission returns to never-asked.
* READ_CONTACTS and WRITE_CONTACTS are one group with one state.

The provider's :meth:`~AndroidPermissionProvider.check` returns only GRANTED
or DENIED, exactly like ``checkSelfPermission``: Android cannot tell "never
asked" from "blocked". :meth:`~AndroidPermissionProvider.request` returns what
the SDK learns from the result (GRANTED, DENIED, BLOCKED, or NOT_DETERMINED
after a dismissed first dialog), as react-native-permissions does;
:class:`~n2net_privacy.permissions.service.PermissionService` remembers it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from n2net_privacy.errors import ConfigurationError, InvalidTransitionError
from n2net_privacy.permissions.prompt import (
    Answer,
    Prompt,
    PromptGate,
    Responder,
    ensure_offered,
)
from n2net_privacy.permissions.status import (
    ChangeListeners,
    Listener,
    Permission,
    PermissionChange,
    PermissionStatus,
    Platform,
    Unsubscribe,
)
from n2net_privacy.permissions.user import ScriptedUser
from n2net_privacy.redact import get_logger

__all__ = [
    "AUTO_RESET_API",
    "DEFAULT_AUTO_RESET_DAYS",
    "RUNTIME_PERMISSIONS_API",
    "AndroidPermissionProvider",
    "android_check",
    "android_dialog_options",
    "android_initial_status",
    "android_rationale",
    "android_settings_grant",
    "android_settings_revoke",
    "android_status_after",
]

_log = get_logger(__name__)

RUNTIME_PERMISSIONS_API = 23
#: Android 11: a second denial blocks, and unused apps' grants are auto-reset.
AUTO_RESET_API = 30
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


def android_dialog_options(status: PermissionStatus, api_level: int) -> frozenset[Answer]:
    """The choices a request's dialog offers; empty when no dialog is shown."""
    return frozenset(a for (s, a) in _dialog_table(api_level) if s == status)


def android_status_after(
    status: PermissionStatus, api_level: int, answer: Answer
) -> PermissionStatus:
    """The status after the user answers the dialog with ``answer``."""
    after = _dialog_table(api_level).get((status, answer))
    if after is None:
        raise InvalidTransitionError(f"no Android {api_level} dialog from {status} offers {answer}")
    return after


def android_check(status: PermissionStatus) -> PermissionStatus:
    """What ``checkSelfPermission`` says: it knows only granted or denied."""
    return _GRANTED if status == _GRANTED else _DENIED


def android_rationale(status: PermissionStatus) -> bool:
    """``shouldShowRequestPermissionRationale``: denied before, not blocked, not granted."""
    return status == _DENIED


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


def _known(permission: Permission | str) -> Permission:
    return Permission(permission).group


class AndroidPermissionProvider:
    """The Android permission system for one installed app, simulated.

    ``user`` answers the dialogs (a :class:`ScriptedUser` with no answers by
    default, so an unexpected dialog fails loudly). ``clock`` returns seconds
    and drives auto-reset. Every method is thread-safe; Settings changes may
    arrive from another thread at any moment, even while a dialog is open, in
    which case Settings has the last word and the dialog's answer is dropped.
    """

    def __init__(
        self,
        *,
        api_level: int,
        user: Responder | None = None,
        clock: Callable[[], float] = time.time,
        auto_reset_days: float = DEFAULT_AUTO_RESET_DAYS,
        auto_reset_exempt: bool = False,
    ) -> None:
        if api_level < 1:
            raise ConfigurationError(f"api_level must be a positive API level, not {api_level}")
        if auto_reset_days <= 0:
            raise ConfigurationError("auto_reset_days must be positive")
        self.api_level = api_level
        self.user: Responder = user if user is not None else ScriptedUser()
        self.prompt_gate = PromptGate()
        self._clock = clock
        self._auto_reset_days = auto_reset_days
        self._exempt = auto_reset_exempt
        self._lock = threading.Lock()
        self._changes = ChangeListeners()
        self._status: dict[Permission, PermissionStatus] = {}
        self._last_used = clock()
        self._version = 0
        self._dialogs = 0

    @property
    def platform(self) -> Platform:
        return Platform.ANDROID

    @property
    def dialogs_shown(self) -> int:
        """How many system permission dialogs the user has seen."""
        with self._lock:
            return self._dialogs

    @property
    def auto_reset_days(self) -> float:
        return self._auto_reset_days

    @property
    def auto_reset_exempt(self) -> bool:
        with self._lock:
            return self._exempt

    # -- what the app can ask --------------------------------------------------

    def check(self, permission: Permission | str) -> PermissionStatus:
        group = _known(permission)
        with self._lock:
            self._expire_if_unused()
            status = self._get(group)
        self._changes.flush()
        return android_check(status)

    def should_show_rationale(self, permission: Permission | str) -> bool:
        group = _known(permission)
        with self._lock:
            self._expire_if_unused()
            status = self._get(group)
        self._changes.flush()
        return android_rationale(status)

    def selected_ids(self, permission: Permission | str) -> frozenset[str] | None:
        _known(permission)
        return None

    def request(self, permission: Permission | str) -> PermissionStatus:
        group = _known(permission)
        with self._lock:
            self._expire_if_unused()
            self._last_used = self._clock()  # the user is in the app
        self._changes.flush()
        return self.prompt_gate.run(group, lambda: self._show_dialog(group))

    def subscribe(self, listener: Listener) -> Unsubscribe:
        return self._changes.subscribe(listener)

    def app_opened(self) -> None:
        """The user opened the app: resets due while it sat unused happen first."""
        with self._lock:
            self._expire_if_unused()
            self._last_used = self._clock()
        self._changes.flush()

    def run_auto_reset(self) -> bool:
        """Let the system's unused-app job run now. True if a grant was reset."""
        with self._lock:
            reset = self._expire_if_unused()
        self._changes.flush()
        return reset

    # -- what the user can do in Settings ---------------------------------------

    def settings_grant(self, permission: Permission | str = Permission.CONTACTS) -> None:
        self._settings_change(_known(permission), android_settings_grant)

    def settings_revoke(self, permission: Permission | str = Permission.CONTACTS) -> None:
        self._settings_change(_known(permission), android_settings_revoke)

    def settings_set_auto_reset_exempt(self, exempt: bool) -> None:
        """The "Remove permissions if app isn't used" switch (exempt = switched off)."""
        with self._lock:
            self._exempt = exempt

    # -- internals (call with self._lock held unless noted) ----------------------

    def _get(self, group: Permission) -> PermissionStatus:
        return self._status.get(group, android_initial_status(self.api_level))

    def _set(self, group: Permission, new: PermissionStatus, *, app_killed: bool) -> None:
        old = self._get(group)
        if new == old:
            return
        self._status[group] = new
        self._version += 1
        if new == _GRANTED:
            # A fresh grant restarts the unused-app clock.
            self._last_used = self._clock()
        _log.info("android %s: %s -> %s (app killed: %s)", group, old, new, app_killed)
        self._changes.post(PermissionChange(group, old, new, app_killed=app_killed))

    def _expire_if_unused(self) -> bool:
        if self.api_level < AUTO_RESET_API or self._exempt:
            return False
        idle = self._clock() - self._last_used
        if idle < self._auto_reset_days * _SECONDS_PER_DAY:
            return False
        granted = [g for g, s in self._status.items() if s == _GRANTED]
        for group in granted:
            # The system kills a hibernating app's process along with its grants.
            self._set(group, _ND, app_killed=True)
        return bool(granted)

    def _settings_change(
        self, group: Permission, rule: Callable[[PermissionStatus, int], PermissionStatus]
    ) -> None:
        with self._lock:
            self._expire_if_unused()
            old = self._get(group)
            new = rule(old, self.api_level)
            # Android kills the app when a permission is taken away, not when given.
            self._set(group, new, app_killed=old == _GRANTED and new != _GRANTED)
        self._changes.flush()

    def _show_dialog(self, group: Permission) -> PermissionStatus:
        """Runs inside the prompt gate, without self._lock while the dialog is up."""
        with self._lock:
            before = self._get(group)
            options = android_dialog_options(before, self.api_level)
            if not options:
                return before
            self._dialogs += 1
            prompt = Prompt(Platform.ANDROID, group, options, number=self._dialogs)
            version = self._version
        _log.debug("android dialog #%d for %s", prompt.number, group)
        kind = ensure_offered(prompt, self.user(prompt))
        with self._lock:
            if self._version != version:
                # Settings changed while the dialog was up; the tap lands on nothing.
                result = self._get(group)
            else:
                result = android_status_after(before, self.api_level, kind)
                self._set(group, result, app_killed=False)
        self._changes.flush()
        return result
