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

Changes run through the consent core (:mod:`n2net_privacy.consent`): the
learned state is published first, then revocation hooks run (the contacts
gateway drops its caches), then listeners hear the change, then the file is
saved. A save that fails (full or read-only disk) never raises: it is logged
and passed to ``on_storage_error``, and the service keeps the state in
memory. Reads (:meth:`~PermissionService.status`,
:meth:`~PermissionService.should_show_rationale`, :meth:`~PermissionService.learned`,
:meth:`~PermissionService.selected_ids`) never touch the disk: what a read
learns (a stale block cleared by a live grant, an auto-reset noticed during
a check) is saved by the next write or by :meth:`~PermissionService.close`.

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from n2net_privacy.atomic_write import Fsync, os_error_name
from n2net_privacy.checks import ClosesOnExit, ensure_open, require_type
from n2net_privacy.consent import ConsentCore, Origin, Proposal, classify
from n2net_privacy.consent.state import Kind
from n2net_privacy.errors import StorageError, UnknownPermissionError
from n2net_privacy.permissions.status import (
    PROVIDER_HINT,
    Listener,
    Permission,
    PermissionChange,
    PermissionProvider,
    PermissionStatus,
    Platform,
    Unsubscribe,
)
from n2net_privacy.redact import get_logger
from n2net_privacy.state_file import CorruptStateError, StateFile

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

    A :class:`~n2net_privacy.state_file.StateFile` of ``PLATFORM`` origin: a
    kill mid-save leaves either the old file or the new one, a save that
    fails raises :class:`~n2net_privacy.errors.StorageError`, and a missing,
    corrupt or unreadable file is logged and means "nothing learned": the
    SDK then asks the platform, which is always safe. ``fsync`` and
    ``read_file`` are injectable so tests can fail the disk.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: Fsync = os.fsync,
        read_file: Callable[[Path], bytes] = Path.read_bytes,
    ) -> None:
        self._file = StateFile(
            path, what="permission state", origin=Origin.PLATFORM,
            fsync=fsync, read_file=read_file,
        )
        self.path = self._file.path

    def load(self) -> Learned:
        return self._file.load(_parse_learned, dict)

    def save(self, learned: Mapping[Permission, PermissionStatus]) -> None:
        body = {
            "version": _FORMAT_VERSION,
            "learned": {str(p): str(s) for p, s in sorted(learned.items())},
        }
        self._file.save(json.dumps(body, sort_keys=True).encode("utf-8"))


def _parse_learned(raw: bytes) -> Learned:
    document = json.loads(raw.decode("utf-8"))
    if not isinstance(document, dict) or document.get("version") != _FORMAT_VERSION:
        raise CorruptStateError("unknown format")
    entries = document.get("learned")
    if not isinstance(entries, dict):
        raise CorruptStateError("unknown format")
    learned: Learned = {}
    for key, value in entries.items():
        try:
            learned[Permission(key)] = PermissionStatus(value)
        except (UnknownPermissionError, ValueError):
            _log.warning("ignoring an unknown entry in the permission state file")
    return learned


class PermissionService(ClosesOnExit):
    """Permission status as the SDK reports it, on any platform.

    Every call asks the provider at that moment. The service subscribes to
    the provider's changes to keep its learned state right: a Settings grant
    clears it, a revoke makes it DENIED, an auto-reset NOT_DETERMINED. Call
    :meth:`close` (or use it as a context manager) to unsubscribe.
    """

    def __init__(
        self,
        provider: PermissionProvider,
        store: LearnedStatusStore | None = None,
        *,
        on_storage_error: Callable[[StorageError], None] | None = None,
    ) -> None:
        require_type("provider", provider, PermissionProvider, hint=PROVIDER_HINT)
        self._provider = provider
        self._closed = False
        self._store: LearnedStatusStore = store if store is not None else MemoryLearnedStatusStore()
        try:
            loaded = self._store.load()
        except OSError as exc:  # a custom store: unreadable means nothing learned, which is safe
            _log.warning("ignoring unreadable permission state: %s", type(exc).__name__)
            loaded = {}
        learned = {p: s for p, s in loaded.items() if _worth_keeping(s)}
        self._core: ConsentCore[Learned, PermissionChange] = ConsentCore(
            learned,
            origin=Origin.PLATFORM,
            name="permissions",
            persist=self._save,
            on_storage_error=on_storage_error,
        )
        self._unsubscribe = provider.subscribe(self._on_change)

    @property
    def platform(self) -> Platform:
        return self._provider.platform

    def status(self, permission: Permission | str) -> PermissionStatus:
        """The status now: NOT_DETERMINED, DENIED and BLOCKED told apart on Android too."""
        ensure_open(self._closed, "PermissionService")
        member = Permission(permission)
        with self._core.reading():
            live = self._provider.check(member)
            if live.allows_access:
                # Granted behind our back (Settings while the app was dead): forget
                # a stale block in memory; the next write saves it.
                self._learn(member.group, None, change=None)
                return live
            rationale = (
                live == PermissionStatus.DENIED and self._provider.should_show_rationale(member)
            )
            return resolve_status(live, self.learned(member), rationale)

    def request(self, permission: Permission | str) -> PermissionStatus:
        """Ask the provider (which may show a dialog) and remember what the answer taught."""
        ensure_open(self._closed, "PermissionService")
        member = Permission(permission)
        result = self._provider.request(member)
        self._learn(member.group, result, change=None)
        self._core.flush()  # anything a read learned meanwhile
        return result

    def should_show_rationale(self, permission: Permission | str) -> bool:
        """Whether to explain before asking again. Always False on iOS."""
        ensure_open(self._closed, "PermissionService")
        member = Permission(permission)
        with self._core.reading():
            return self._provider.should_show_rationale(member)

    def selected_ids(self, permission: Permission | str) -> frozenset[str] | None:
        """The contact ids of iOS limited access, else None."""
        ensure_open(self._closed, "PermissionService")
        member = Permission(permission)
        with self._core.reading():
            return self._provider.selected_ids(member)

    def learned(self, permission: Permission | str) -> PermissionStatus | None:
        """What request results and changes taught about this group (never a grant)."""
        return self._core.state.get(Permission(permission).group)

    @property
    def version(self) -> int:
        """Bumped by every change the service published; diagnostic."""
        return self._core.version

    def subscribe(self, listener: Listener) -> Unsubscribe:
        """Be told of every provider change, after the service has learned from it.

        So a listener that calls :meth:`status` sees the new state. Changes
        arrive in order, one at a time, outside every lock.
        """
        ensure_open(self._closed, "PermissionService")
        return self._core.subscribe(listener)

    def on_revoke(self, hook: Listener) -> Unsubscribe:
        """Call ``hook`` when access is withdrawn or the app is killed, before that call returns.

        For SDK components that must drop data at once (the contacts
        gateway); app code wants :meth:`subscribe`.
        """
        ensure_open(self._closed, "PermissionService")
        return self._core.on_revoke(hook)

    def close(self) -> None:
        """Stop following the provider and save anything a read learned. Never raises.

        Idempotent; any other call afterwards raises :class:`ClosedError`.
        """
        self._closed = True
        self._unsubscribe()
        self._core.close()

    def _on_change(self, change: PermissionChange) -> None:
        if not change.permission.gates_reading:
            # API 26+ posts WRITE_CONTACTS on its own; consent (and what the
            # gateway may show) follows READ_CONTACTS only.
            return
        kind = classify(
            was_allowed=change.old.allows_access,
            now_allowed=change.new.allows_access,
            app_killed=change.app_killed,
        )
        self._learn(change.permission.group, change.new, change=change, kind=kind)

    def _learn(
        self,
        group: Permission,
        status: PermissionStatus | None,
        *,
        change: PermissionChange | None,
        kind: Kind = Kind.CHANGE,
    ) -> None:
        def decide(learned: Learned) -> Proposal[Learned, PermissionChange] | None:
            updated = {p: s for p, s in learned.items() if p is not group}
            if status is not None and _worth_keeping(status):
                updated[group] = status
            if change is None and updated == learned:
                return None
            return Proposal(updated, change, kind)

        self._core.apply(decide)

    def _save(self, learned: Learned) -> None:
        try:
            self._store.save(learned)
        except OSError as exc:  # a custom store: still one error tree
            raise StorageError(
                f"cannot save permission state ({os_error_name(exc)})",
                path="<store>", errno=exc.errno,
            ) from exc
