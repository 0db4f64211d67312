"""The in-app Settings the user controls: persisted, observable, deny by default.

Today it holds the Gravatar consent toggle (**off** until the user turns it
on) and the hash algorithm sent to Gravatar (``md5``, as the policy promises,
or ``sha256``). Values live in a small JSON file written with
:func:`~n2net_privacy.atomic_write.write_atomically`, or in memory when no
path is given. Changes run through the consent core
(:mod:`n2net_privacy.consent`), in its fixed order:

* **Turning Gravatar off** is in force before the setter returns, whatever
  the disk does: the new value is published first (every later check reads
  it), then the revocation hooks run (the Gravatar fetcher cancels its work
  and purges its caches), then listeners are notified, then the file is
  saved. If saving fails (a full or read-only disk) nothing raises: the
  failure goes to the SDK logger and to ``on_storage_error``, and Gravatar
  stays off for the session.
* **Turning Gravatar on**, or changing the hash algorithm, counts only once
  it is saved: if the file cannot be written the setter raises
  :class:`~n2net_privacy.errors.StorageError` and nothing changed.

The file follows :mod:`~n2net_privacy.state_file`'s one rule: missing or
corrupt means the defaults (Gravatar off); a file the disk refuses to read
raises :class:`~n2net_privacy.errors.StorageError` at start-up, since it is
the only record of the user's choice.

Reading a value never touches the disk. Listeners registered with
:meth:`Settings.subscribe` are called in order, one at a time, outside every
lock; one that raises is logged and the others still run.

>>> settings = Settings()
>>> settings.gravatar_enabled
False
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from n2net_privacy.atomic_write import Fsync
from n2net_privacy.checks import quoted, require_type
from n2net_privacy.consent import ConsentCore, Kind, Origin, Proposal, WithdrawalScope, classify
from n2net_privacy.errors import InvalidArgumentError, StorageError
from n2net_privacy.gravatar.hashing import HashAlgorithm
from n2net_privacy.models import StrictModel
from n2net_privacy.redact import get_logger
from n2net_privacy.state_file import StateFile

__all__ = ["SettingKey", "Settings", "SettingsChange", "SettingsValues"]

_log = get_logger(__name__)


class SettingKey(StrEnum):
    GRAVATAR_ENABLED = "gravatar_enabled"
    GRAVATAR_HASH_ALGORITHM = "gravatar_hash_algorithm"


class SettingsValues(StrictModel):
    """One immutable snapshot of every setting; also the file format (version 1)."""

    version: int = 1
    gravatar_enabled: bool = False
    gravatar_hash_algorithm: HashAlgorithm = HashAlgorithm.MD5


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What a listener is told: which setting changed, from what, to what."""

    key: SettingKey
    old: Any
    new: Any


Listener = Callable[[SettingsChange], None]


class Settings:
    """The Settings store. Thread-safe; reads never block and never touch the disk.

    Setting a value equal to the current one notifies nobody and writes nothing.
    ``fsync`` and ``read_file`` are injectable so tests can slow or fail the
    disk; ``on_storage_error`` is told when a revocation could not be saved.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        on_storage_error: Callable[[StorageError], None] | None = None,
        fsync: Fsync = os.fsync,
        read_file: Callable[[Path], bytes] = Path.read_bytes,
    ) -> None:
        if path is not None:
            require_type("path", path, (str, os.PathLike))
        self.path = Path(path) if path is not None else None
        self._file = (
            StateFile(
                self.path, what="settings", origin=Origin.USER, fsync=fsync, read_file=read_file
            )
            if self.path is not None
            else None
        )
        self._core: ConsentCore[SettingsValues, SettingsChange] = ConsentCore(
            self._load(),
            origin=Origin.USER,
            name="settings",
            persist=self._save if self.path is not None else None,
            on_storage_error=on_storage_error,
        )

    def _load(self) -> SettingsValues:
        """The saved values; the rule for a missing, corrupt or unreadable file is
        :mod:`~n2net_privacy.state_file`'s (defaults: Gravatar off; unreadable raises)."""
        if self._file is None:
            return SettingsValues()
        return self._file.load(SettingsValues.model_validate_json, SettingsValues)

    # -- reading -----------------------------------------------------------

    @property
    def values(self) -> SettingsValues:
        """A consistent snapshot of every setting."""
        return self._core.state

    @property
    def version(self) -> int:
        """Bumped by every change that took effect; a check can compare it later."""
        return self._core.version

    @property
    def gravatar_enabled(self) -> bool:
        """Whether the user allows Gravatar lookups. Off by default."""
        return self._core.state.gravatar_enabled

    @gravatar_enabled.setter
    def gravatar_enabled(self, enabled: bool) -> None:
        require_type("gravatar_enabled", enabled, bool)
        self._set(SettingKey.GRAVATAR_ENABLED, enabled)

    @property
    def gravatar_hash_algorithm(self) -> HashAlgorithm:
        """The digest of the email sent to Gravatar: md5 (default) or sha256."""
        return self._core.state.gravatar_hash_algorithm

    @gravatar_hash_algorithm.setter
    def gravatar_hash_algorithm(self, algorithm: HashAlgorithm | str) -> None:
        try:
            value = HashAlgorithm(str(algorithm).lower())
        except ValueError:
            allowed = ", ".join(repr(str(a)) for a in HashAlgorithm)
            raise InvalidArgumentError(
                f"gravatar_hash_algorithm: unknown hash algorithm {quoted(algorithm)}; "
                f"choose {allowed}"
            ) from None
        self._set(SettingKey.GRAVATAR_HASH_ALGORITHM, value)

    # -- observing ---------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change, in order; returns a callable that unsubscribes."""
        return self._core.subscribe(listener)

    def withdrawal_scope(self) -> WithdrawalScope:
        """A scope whose ``withdrawn`` turns true once Gravatar is switched off after now."""
        return self._core.scope()

    def on_revoke(self, hook: Listener) -> Callable[[], None]:
        """Call ``hook`` when Gravatar is switched off, before the setter returns.

        For SDK components that must stop work and drop data at once (the
        Gravatar fetcher); app code wants :meth:`subscribe`.
        """
        return self._core.on_revoke(hook)

    # -- writing -----------------------------------------------------------

    def _set(self, key: SettingKey, value: object) -> None:
        def decide(values: SettingsValues) -> Proposal[SettingsValues, SettingsChange] | None:
            old = getattr(values, key.value)
            if old == value:
                return None
            kind = Kind.CHANGE
            if key is SettingKey.GRAVATAR_ENABLED:
                kind = classify(was_allowed=bool(old), now_allowed=bool(value))
            return Proposal(
                values.model_copy(update={key.value: value}), SettingsChange(key, old, value), kind
            )

        if key is SettingKey.GRAVATAR_ENABLED and value is False:
            # A switch-on may still be being saved: this later call wins, even
            # when the toggle already reads off.
            self._core.overrule_pending()
        self._core.apply(decide)

    def _save(self, values: SettingsValues) -> None:
        assert self._file is not None
        data = (values.model_dump_json(indent=2) + "\n").encode("utf-8")
        try:
            self._file.save(data)
        except StorageError as exc:
            if values.gravatar_enabled or not self._file.remove():
                raise
            # Fail closed: removing needs no free space, and with no file every
            # toggle is off, so the switch-off survives a restart after all.
            _log.warning("settings could not be saved; removed the file so Gravatar stays off")
            raise StorageError(
                f"{exc}; removed the file, so every setting is back to its default (off)",
                path=exc.path, errno=exc.errno,
            ) from exc.__cause__
