"""The in-app Settings the user controls: persisted, observable, deny by default.

Today it holds the Gravatar consent toggle (**off** until the user turns it
on) and the hash algorithm sent to Gravatar (``md5``, as the policy promises,
or ``sha256``). Values live in a small JSON file written atomically (temp
file, fsync, ``os.replace``), or in memory when no path is given.

Listeners registered with :meth:`Settings.subscribe` are called
synchronously, after the new value is visible, before the setter returns:
when ``settings.gravatar_enabled = False`` returns, the Gravatar fetcher has
already purged its caches.

A revocation always takes effect, even when it cannot be saved: consent must
be durable before it counts, its withdrawal counts at once.

>>> settings = Settings()
>>> settings.gravatar_enabled
False
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from n2net_privacy.errors import ConfigurationError
from n2net_privacy.gravatar.hashing import HashAlgorithm
from n2net_privacy.models import StrictModel
from n2net_privacy.redact import get_logger

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
    """The Settings store. Thread-safe; reads never block.

    Setting a value equal to the current one notifies nobody and writes nothing.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._values = self._load()
        # Reentrant: a listener may itself change a setting.
        self._write_lock = threading.RLock()
        self._listeners: list[Listener] = []

    def _load(self) -> SettingsValues:
        if self.path is None:
            return SettingsValues()
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return SettingsValues()
        except OSError as exc:
            raise ConfigurationError(f"cannot read settings file {self.path}") from exc
        try:
            values = SettingsValues.model_validate_json(raw)
        except ValidationError:
            # Deny by default: an unreadable file means every toggle is off.
            _log.warning("settings file is malformed; using defaults (Gravatar off)")
            return SettingsValues()
        return values

    # -- reading -----------------------------------------------------------

    @property
    def values(self) -> SettingsValues:
        """A consistent snapshot of every setting."""
        return self._values

    @property
    def gravatar_enabled(self) -> bool:
        """Whether the user allows Gravatar lookups. Off by default."""
        return self._values.gravatar_enabled

    @gravatar_enabled.setter
    def gravatar_enabled(self, enabled: bool) -> None:
        if not isinstance(enabled, bool):
            raise TypeError("gravatar_enabled must be a bool")
        self._set(SettingKey.GRAVATAR_ENABLED, enabled)

    @property
    def gravatar_hash_algorithm(self) -> HashAlgorithm:
        """The digest of the email sent to Gravatar: md5 (default) or sha256."""
        return self._values.gravatar_hash_algorithm

    @gravatar_hash_algorithm.setter
    def gravatar_hash_algorithm(self, algorithm: HashAlgorithm | str) -> None:
        try:
            value = HashAlgorithm(str(algorithm).lower())
        except ValueError:
            raise ConfigurationError(f"unknown hash algorithm {algorithm!r}") from None
        self._set(SettingKey.GRAVATAR_HASH_ALGORITHM, value)

    # -- observing ---------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change; returns a callable that unsubscribes."""
        with self._write_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._write_lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    # -- writing -----------------------------------------------------------

    def _set(self, key: SettingKey, value: object) -> None:
        with self._write_lock:
            old_values = self._values
            old = getattr(old_values, key.value)
            if old == value:
                return
            new_values = old_values.model_copy(update={key.value: value})
            saved: OSError | None = None
            try:
                self._save(new_values)
            except OSError as exc:
                saved = exc
            revocation = key is SettingKey.GRAVATAR_ENABLED and value is False
            if saved is not None and not revocation:
                raise ConfigurationError(f"cannot save settings to {self.path}") from saved
            self._values = new_values
            self._notify(SettingsChange(key, old, value))
            if saved is not None:
                raise ConfigurationError(
                    f"cannot save settings to {self.path}; Gravatar is off for this session"
                ) from saved

    def _save(self, values: SettingsValues) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(values.model_dump_json(indent=2) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _notify(self, change: SettingsChange) -> None:
        # Every listener hears of the change even if one fails (the Gravatar
        # purge must not be skipped because a UI callback raised).
        failure: Exception | None = None
        for listener in tuple(self._listeners):
            try:
                listener(change)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
