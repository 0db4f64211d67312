"""The SDK's view of a permission: the platform's live check plus what requests taught it.

Android's ``checkSelfPermission`` says only granted or denied. Whether a
denied permission was never asked, denied once, or blocked is something the
SDK learns from request results and from ``shouldShowRequestPermissionRationale``,
as react-native-permissions and Flutter's permission_handler do.
:class:`PermissionService` keeps that knowledge in a small
:class:`LearnedStatusStore` (in memory, or a JSON file written atomically so
an app kill never leaves it half-written) and combines it with a fresh check
on every call. A grant is never stored and never served from memory: only the
provider's answer at the moment of the call can say GRANTED.

The resolution rule (:func:`resolve_status`), for a live check of DENIED:

=========  ================  ===============
rationale  learned           reported status
=========  ================  ===============
true       anything          DENIED
false      BLOCKED           BLOCKED
false      anything else     NOT_DETERMINED
=========  ================  ===============

Any other live answer (GRANTED, LIMITED, BLOCKED, RESTRICTED, NOT_DETERMINED:
iOS says it all itself) is reported as is.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Protocol

from n2net_privacy.errors import UnknownPermissionError
from n2net_privacy.permissions.status import (
    ChangeListeners,
    Listener,
    Permission,
    PermissionChange,
    PermissionProvider,
    PermissionStatus,
    Platform,
    Unsubscribe,
)
from n2net_privacy.redact import get_logger

__all__ = [
    "JsonLearnedStatusStore",
    "LearnedStatusStore",
    "MemoryLearnedStatusStore",
    "PermissionService",
    "resolve_status",
]

_log = get_logger(__name__)

_FORMAT_VERSION = 1
Learned = dict[Permission, PermissionStatus]


def resolve_status(
    live: PermissionStatus, learned: PermissionStatus | None, rationale: bool
) -> PermissionStatus:
    """Combine a live check with what the SDK learned (see the module table)."""
    if live != PermissionStatus.DENIED:
        return live
    if rationale:
        return PermissionStatus.DENIED
    if learned == PermissionStatus.BLOCKED:
        return PermissionStatus.BLOCKED
    return PermissionStatus.NOT_DETERMINED


def _worth_keeping(status: PermissionStatus) -> bool:
    # Access is never remembered; only the shades of "no" the platform hides.
    return not status.allows_access


class LearnedStatusStore(Protocol):
    """Where the service keeps what request results taught it, per permission group."""

    def load(self) -> Learned: ...

    def save(self, learned: Mapping[Permission, PermissionStatus]) -> None: ...


class MemoryLearnedStatusStore:
    """Keeps learned statuses for the life of the process (the default)."""

    def __init__(self) -> None:
        self._learned: Learned = {}

    def load(self) -> Learned:
        return dict(self._learned)

    def save(self, learned: Mapping[Permission, PermissionStatus]) -> None:
        self._learned = dict(learned)


class JsonLearnedStatusStore:
    """Keeps learned statuses in a small JSON file that survives app restarts.

    Each save writes a temporary file in the same directory, fsyncs it and
    ``os.replace``-s it over the old one, so a kill mid-save leaves either the
    old file or the new one. An unreadable file is logged and treated as
    "nothing learned": the SDK then asks the platform, which is always safe.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> Learned:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            _log.warning("ignoring unreadable permission state file: %s", type(exc).__name__)
            return {}
        if not isinstance(raw, dict) or raw.get("version") != _FORMAT_VERSION:
            _log.warning("ignoring permission state file of an unknown format")
            return {}
        entries = raw.get("learned")
        if not isinstance(entries, dict):
            _log.warning("ignoring permission state file of an unknown format")
            return {}
        learned: Learned = {}
        for key, value in entries.items():
            try:
                learned[Permission(key)] = PermissionStatus(value)
            except (UnknownPermissionError, ValueError):
                _log.warning("ignoring an unknown entry in the permission state file")
        return learned

    def save(self, learned: Mapping[Permission, PermissionStatus]) -> None:
        body = {
            "version": _FORMAT_VERSION,
            "learned": {str(p): str(s) for p, s in sorted(learned.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class PermissionService:
    """Permission status as the SDK reports it, on any platform.

    Every call asks the provider at that moment. The service subscribes to
    the provider's changes to keep its learned state right: a Settings grant
    clears it, a revoke makes it DENIED, an auto-reset NOT_DETERMINED. Call
    :meth:`close` (or use it as a context manager) to unsubscribe.
    """

    def __init__(
        self, provider: PermissionProvider, store: LearnedStatusStore | None = None
    ) -> None:
        self._provider = provider
        self._store: LearnedStatusStore = store if store is not None else MemoryLearnedStatusStore()
        self._lock = threading.Lock()
        self._learned = {p: s for p, s in self._store.load().items() if _worth_keeping(s)}
        self._listeners = ChangeListeners()
        self._unsubscribe = provider.subscribe(self._on_change)

    @property
    def platform(self) -> Platform:
        return self._provider.platform

    def status(self, permission: Permission | str) -> PermissionStatus:
        """The status now: NOT_DETERMINED, DENIED and BLOCKED told apart on Android too."""
        member = Permission(permission)
        live = self._provider.check(member)
        if live.allows_access:
            # The user granted it behind our back (Settings while the app was dead).
            self._remember(member.group, None)
            return live
        rationale = (
            live == PermissionStatus.DENIED and self._provider.should_show_rationale(member)
        )
        return resolve_status(live, self.learned(member), rationale)

    def request(self, permission: Permission | str) -> PermissionStatus:
        """Ask the provider (which may show a dialog) and remember what the answer taught."""
        member = Permission(permission)
        result = self._provider.request(member)
        self._remember(member.group, result)
        return result

    def should_show_rationale(self, permission: Permission | str) -> bool:
        """Whether to explain before asking again. Always False on iOS."""
        return self._provider.should_show_rationale(Permission(permission))

    def selected_ids(self, permission: Permission | str) -> frozenset[str] | None:
        """The contact ids of iOS limited access, else None."""
        return self._provider.selected_ids(Permission(permission))

    def learned(self, permission: Permission | str) -> PermissionStatus | None:
        """What request results and changes taught about this group (never a grant)."""
        with self._lock:
            return self._learned.get(Permission(permission).group)

    def subscribe(self, listener: Listener) -> Unsubscribe:
        """Be told of every provider change, after the service has learned from it.

        So a listener that calls :meth:`status` sees the new state.
        """
        return self._listeners.subscribe(listener)

    def close(self) -> None:
        self._unsubscribe()

    def __enter__(self) -> PermissionService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _on_change(self, change: PermissionChange) -> None:
        self._remember(change.permission.group, change.new)
        self._listeners.post(change)
        self._listeners.flush()

    def _remember(self, group: Permission, status: PermissionStatus | None) -> None:
        with self._lock:
            before = self._learned.get(group)
            if status is not None and _worth_keeping(status):
                self._learned[group] = status
            else:
                self._learned.pop(group, None)
            if self._learned.get(group) != before:
                self._store.save(self._learned)
