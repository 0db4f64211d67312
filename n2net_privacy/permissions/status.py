"""The cross-platform permission vocabulary: what is asked, what came back.

How each platform maps onto :class:`PermissionStatus`:

==============  =========================================  ======================================
status          Android (checkSelfPermission + results)    iOS (``CNAuthorizationStatus``)
==============  =========================================  ======================================
NOT_DETERMINED  never requested, or only dismissed (known  ``.notDetermined``
                only to the SDK)
GRANTED         ``PERMISSION_GRANTED``; API < 23 always    ``.authorized``
LIMITED         never                                      ``.limited`` (iOS 18+, chosen contacts)
DENIED          denied, may ask again (rationale true)     never: a denial on iOS is final
BLOCKED         denied with "don't ask again" (API 23-29)  ``.denied``: only Settings changes it
                or twice (API 30+); a request shows no
                dialog
RESTRICTED      never                                      ``.restricted`` (MDM, parental control)
==============  =========================================  ======================================

Android's own ``checkSelfPermission`` returns only granted or denied: it
cannot tell "never asked" from "blocked". :class:`AndroidPermissionProvider`
exposes only that; :class:`~n2net_privacy.permissions.service.PermissionService`
remembers what request results taught it, as react-native-permissions and
Flutter's permission_handler do.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from n2net_privacy.consent.dispatcher import Dispatcher
from n2net_privacy.errors import UnknownPermissionError

__all__ = [
    "Listener",
    "Permission",
    "PermissionChange",
    "PermissionProvider",
    "PermissionStatus",
    "Platform",
    "StateChanges",
    "Unsubscribe",
]

class Permission(StrEnum):
    """A runtime permission the SDK may ask for.

    Extensible by adding members; platform providers map each member onto
    their own permission group and raise :class:`UnknownPermissionError` for
    one they do not support. ``READ_CONTACTS`` and ``WRITE_CONTACTS`` are the
    Android manifest names; both belong to the one contacts group. Since
    Android 8.0 (API 26) each is granted on its own request, the other then
    without a dialog; the Settings toggle is still the group's.
    """

    CONTACTS = "contacts"
    READ_CONTACTS = "android.permission.READ_CONTACTS"
    WRITE_CONTACTS = "android.permission.WRITE_CONTACTS"

    @classmethod
    def _missing_(cls, value: object) -> Permission:
        raise UnknownPermissionError(f"unknown permission {value!r}")

    @property
    def group(self) -> Permission:
        """The permission group: one Settings toggle (and, below API 26, one grant)."""
        return Permission.CONTACTS

    @property
    def gates_reading(self) -> bool:
        """Whether this permission decides if the app may read contacts.

        The SDK's consent is about reading: on Android ``contacts`` is
        READ_CONTACTS, and from API 26 a WRITE_CONTACTS change is a separate
        event that says nothing about what the app may show.
        """
        return self is not Permission.WRITE_CONTACTS


class PermissionStatus(StrEnum):
    """Where a permission stands. See the module docstring for the platform mapping."""

    NOT_DETERMINED = "not_determined"
    GRANTED = "granted"
    LIMITED = "limited"
    DENIED = "denied"
    BLOCKED = "blocked"
    RESTRICTED = "restricted"

    @property
    def allows_access(self) -> bool:
        """True when the app may read at least some contacts."""
        return self in (PermissionStatus.GRANTED, PermissionStatus.LIMITED)


class Platform(StrEnum):
    ANDROID = "android"
    IOS = "ios"


@dataclass(frozen=True, slots=True)
class PermissionChange:
    """An event from a provider: a permission's status (or limited set) changed.

    ``app_killed`` is true when the real OS would terminate the app for this
    change (iOS on any privacy-setting change, Android on a revoke). The SDK
    treats it as a process death: persisted state must stay consistent and
    in-memory contact data is dropped.
    """

    permission: Permission
    old: PermissionStatus
    new: PermissionStatus
    app_killed: bool = False
    #: Set for iOS limited access: the contact ids the user has selected now.
    selected_ids: frozenset[str] | None = None


#: What an error says when a provider argument is not a PermissionProvider.
PROVIDER_HINT = (
    "pass a provider object, such as AndroidPermissionProvider(api_level=34) "
    "or IOSPermissionProvider(ios_version=18)"
)

Listener = Callable[[PermissionChange], None]
Unsubscribe = Callable[[], None]


@runtime_checkable
class PermissionProvider(Protocol):
    """A platform's permission system, real or simulated.

    Implementations guarantee that only one system prompt is open at a time:
    a request made while a prompt is open waits for that prompt's answer and
    returns it, without a second dialog.
    """

    @property
    def platform(self) -> Platform: ...

    def check(self, permission: Permission) -> PermissionStatus:
        """What the platform's own check returns now. Never shows a dialog."""
        ...

    def request(self, permission: Permission) -> PermissionStatus:
        """Ask for the permission, showing the system dialog when the platform would."""
        ...

    def should_show_rationale(self, permission: Permission) -> bool:
        """Android's ``shouldShowRequestPermissionRationale``; always False on iOS."""
        ...

    def selected_ids(self, permission: Permission) -> frozenset[str] | None:
        """The contact ids of iOS limited access, or None when access is not limited."""
        ...

    def subscribe(self, listener: Listener) -> Unsubscribe:
        """Call ``listener`` on every change; the returned callable unsubscribes."""
        ...


class StateChanges:
    """A simulated provider's state lock, and its listeners through the consent dispatcher.

    A provider changes its state inside :meth:`changing` and announces each
    change there (:meth:`announce`): the change takes its place in the
    delivery order while the state lock is held, so listeners hear changes in
    the order the state made them. They hear them after the lock is released,
    through one serial :class:`~n2net_privacy.consent.dispatcher.Dispatcher`,
    so a listener may call back into the provider; and :meth:`changing`
    returns only once they have heard ("after ``request()`` returns, listeners
    have heard"), except inside a listener, where a change it causes is
    delivered after it returns. A listener that raises is logged and the
    others still hear: the simulated OS does not roll back a Settings change
    because an app callback failed.
    """

    def __init__(self, name: str) -> None:
        self.lock = threading.Lock()
        self._dispatcher: Dispatcher[PermissionChange] = Dispatcher(name)
        self._made: list[tuple[int, PermissionChange]] = []

    def subscribe(self, listener: Listener) -> Unsubscribe:
        return self._dispatcher.subscribe(listener)

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """Hold the state lock; then deliver what was announced under it, and wait."""
        made: list[tuple[int, PermissionChange]] = []
        try:
            with self.lock:
                try:
                    yield
                finally:
                    made, self._made = self._made, []
        finally:
            for ticket, change in made:
                self._dispatcher.fulfil(ticket, change)
            if made:
                self._dispatcher.wait_delivered(made[-1][0])

    def announce(self, change: PermissionChange) -> None:
        """Queue ``change`` for the listeners. Call inside :meth:`changing` only."""
        self._made.append((self._dispatcher.reserve(), change))
