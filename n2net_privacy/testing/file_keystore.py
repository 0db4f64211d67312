"""A key store for tests and development machines: the raw key in a ``0600`` file.

**What it protects against: nothing but other local users.** The key sits
unwrapped in a file, usually next to the queue, so anyone who can read the
queue file can read the key too (a backup, a copied data directory, malware
running as the app's user). It is here, in ``testing``, so that tests and
development machines can restart a process and reopen the same queue. On a
device use the platform store (Android Keystore, iOS Keychain), whose key
never leaves secure hardware or is bound to the device; see docs/uploader.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import threading
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from n2net_privacy.errors import KeyStoreError
from n2net_privacy.uploader.store.at_rest import AtRestKey, check_alias

__all__ = ["FileKeyStore"]

_KEY_BYTES = 32
# File format: magic, 32 key bytes, first 8 bytes of SHA-256(magic + key).
_MAGIC = b"N2K1"
_CHECK_BYTES = 8
_FILE_BYTES = len(_MAGIC) + _KEY_BYTES + _CHECK_BYTES


class FileKeyStore:
    """A test and development key store: one ``<alias>.key`` file per key, mode ``0600``.

    Creation is atomic and race-free across processes: the key is written to
    a private temporary file, fsynced, then hard-linked into place, so a
    reader sees either no file or a complete one, and two processes creating
    the same alias at once agree on one key. A file that is truncated, has a
    bad checksum or is readable by group/others raises :class:`KeyStoreError`
    rather than being silently replaced, since replacing it would orphan
    every row sealed with the old key.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_for(self, alias: str) -> Path:
        return self.directory / f"{check_alias(alias)}.key"

    def at_rest_key(self, alias: str) -> AtRestKey:
        path = self.path_for(alias)
        try:
            return AtRestKey(self._read(path))
        except FileNotFoundError:
            pass
        self._create(path)
        return AtRestKey(self._read(path))

    def _read(self, path: Path) -> bytes:
        """Read and check a key file; FileNotFoundError means "create it"."""
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            raise
        except OSError as exc:  # a symlink (ELOOP), a permission problem
            raise KeyStoreError(f"cannot open key file: {exc.strerror}") from exc
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise KeyStoreError("key file is not a regular file")
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyStoreError("key file is accessible by group or others (want 0600)")
            data = os.read(fd, _FILE_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) != _FILE_BYTES or not data.startswith(_MAGIC):
            raise KeyStoreError("key file is corrupt (wrong size or header)")
        key = data[len(_MAGIC) : len(_MAGIC) + _KEY_BYTES]
        if hashlib.sha256(_MAGIC + key).digest()[:_CHECK_BYTES] != data[-_CHECK_BYTES:]:
            raise KeyStoreError("key file is corrupt (checksum mismatch)")
        return key

    def _create(self, path: Path) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyStoreError(f"cannot create key directory: {exc.strerror}") from exc
        key = AESGCM.generate_key(bit_length=256)
        data = _MAGIC + key + hashlib.sha256(_MAGIC + key).digest()[:_CHECK_BYTES]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)  # the umask may have narrowed, never widened, but be exact
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            # If another process won the race, its key is the key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            _fsync_directory(self.directory)
        except OSError as exc:
            raise KeyStoreError(f"cannot write key file: {exc.strerror}") from exc
        finally:
            tmp.unlink(missing_ok=True)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
