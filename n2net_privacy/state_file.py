"""JSON state files: the one way the SDK reads and saves its small state files.

Settings and the learned permission state each keep one small JSON file.
:class:`StateFile` reads and writes them, so both follow one rule:

* **Missing** (first run): the defaults.
* **Corrupt** (not UTF-8, not JSON, an unknown format or version, a wrong
  value): the defaults, with a warning that names the file's kind, never its
  content. The defaults deny (Gravatar off, nothing learned), so a damaged
  file can only take consent away, never give it.
* **Unreadable** (the file is there, the disk refuses: ``EACCES``, ``EIO``,
  a directory): it depends on who holds the consent, as in the consent
  table (:class:`~n2net_privacy.consent.state.Origin`). ``USER`` (Settings):
  the file is the only record of the user's choice, so
  :class:`~n2net_privacy.errors.StorageError` is raised at start-up rather
  than overwrite it later. ``PLATFORM`` (learned permission state): the file
  only remembers what the OS said, so it is logged and ignored; the SDK asks
  the OS, which is always safe.
* **Saving** goes through :func:`~n2net_privacy.atomic_write.write_atomically`
  (whole or not at all); a failure raises
  :class:`~n2net_privacy.errors.StorageError`, and the consent core decides
  whether that refuses the change or is only reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from n2net_privacy.atomic_write import Fsync, os_error_name, write_atomically
from n2net_privacy.consent.state import Origin
from n2net_privacy.errors import CorruptStateError, StorageError
from n2net_privacy.redact import get_logger

__all__ = ["CorruptStateError", "StateFile"]

_log = get_logger(__name__)
T = TypeVar("T")


class StateFile:
    """One JSON state file: ``what`` names it in logs and errors (``"settings"``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        what: str,
        origin: Origin,
        fsync: Fsync = os.fsync,
        read_file: Callable[[Path], bytes] = Path.read_bytes,
    ) -> None:
        self.path = Path(path)
        self.what = what
        self.origin = origin
        self._fsync = fsync
        self._read_file = read_file

    def load(self, parse: Callable[[bytes], T], default: Callable[[], T]) -> T:
        """The parsed file, or ``default()`` when it is missing, corrupt or (PLATFORM) unreadable.

        ``parse`` raises :class:`ValueError` (pydantic's ``ValidationError``,
        ``json.JSONDecodeError``, ``UnicodeDecodeError`` and
        :class:`CorruptStateError` are all one) for content it does not know.
        """
        try:
            raw = self._read_file(self.path)
        except FileNotFoundError:
            return default()
        except OSError as exc:
            if self.origin is Origin.USER:
                raise StorageError(
                    f"cannot read {self.what} file {self.path} ({os_error_name(exc)})",
                    path=str(self.path), errno=exc.errno,
                ) from exc
            _log.warning("ignoring unreadable %s file: %s", self.what, os_error_name(exc))
            return default()
        try:
            return parse(raw)
        except ValueError as exc:
            # The type only: a message may quote the content.
            _log.warning(
                "%s file is corrupt (%s); using the defaults", self.what, type(exc).__name__
            )
            return default()

    def save(self, data: bytes) -> None:
        """Replace the file with ``data``, whole or not at all; :class:`StorageError` if not."""
        try:
            write_atomically(self.path, data, fsync=self._fsync)
        except OSError as exc:
            raise StorageError(
                f"cannot save {self.what} to {self.path} ({os_error_name(exc)})",
                path=str(self.path), errno=exc.errno,
            ) from exc

    def remove(self) -> bool:
        """Delete the file (it needs no free space); False if even that fails."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            return False
        return True
