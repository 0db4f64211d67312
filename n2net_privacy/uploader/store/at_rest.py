"""Where the queue's at-rest key lives: a pluggable key store.

The on-device queue encrypts every row with AES-256-GCM. The key never sits
next to the data in plaintext on a real phone:

* Android keeps it in the **Android Keystore**: the key is generated inside
  the keystore (TEE/StrongBox) and is *non-exportable*; the app can only ask
  the keystore to encrypt or decrypt with it.
* iOS keeps it in the **Keychain** with
  ``kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly``: readable by the app
  once the device has been unlocked after boot, never synced to iCloud and
  never restored onto another device.

:class:`SimulatedAndroidKeystore` and :class:`SimulatedIOSKeychain` model
those semantics in memory, so they last as long as the object does (pass the
same instance to a restarted uploader to simulate an app restart).
A store that writes the raw key to a file protects the rows against nothing
an attacker who can read the queue's directory cannot also read, so it is not
part of the SDK: :class:`n2net_privacy.testing.FileKeyStore` exists for
tests and development machines that restart the process.

Every store hands out an :class:`AtRestKey`, which can seal and open but has
no way to give its key bytes back. :class:`RowSeal` binds each sealed queue
row to its file and its sequence number, so rows cannot be swapped or copied.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from n2net_privacy._deprecated import moved_names
from n2net_privacy.errors import KeyStoreError

if TYPE_CHECKING:
    from n2net_privacy.uploader.store.file import QueueFile

__all__ = [
    "AtRestKey",
    "KeyStore",
    "RowSeal",
]

NONCE_BYTES = 12
SEAL_OVERHEAD = NONCE_BYTES + 16
"""Bytes a sealed row adds to its payload: the nonce and the GCM tag."""
_AAD_V1 = b"n2net/queue/v1:"
_AAD_V2 = b"n2net/queue/v2:"
_YIELD_EVERY = 16  # rows opened between chances for a waiting record_* (~50 us)
_Rows = list[tuple[int, bytes]]
_KEY_BYTES = 32
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class AtRestKey:
    """An AES-256-GCM key that seals and opens rows but never reveals itself.

    ``seal`` returns ``nonce || ciphertext+tag`` with a fresh random 96-bit
    nonce; ``aad`` binds the blob to its row so rows cannot be swapped.
    """

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise KeyStoreError("an at-rest key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a sealed blob; raise :class:`KeyStoreError` if it fails authentication."""
        if len(blob) < NONCE_BYTES + 16:
            raise KeyStoreError("sealed row is truncated")
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise KeyStoreError("sealed row failed authentication (wrong key or corrupt)") from exc

    def __repr__(self) -> str:
        return "AtRestKey(<non-exportable>)"

    def __reduce__(self) -> NoReturn:
        raise KeyStoreError("an at-rest key cannot be pickled or copied out")


@runtime_checkable
class KeyStore(Protocol):
    """Gives the queue its at-rest key, creating it on first use.

    Raises :class:`KeyStoreError` when the key exists but cannot be used
    (corrupt, wrong permissions, device still locked).
    """

    def at_rest_key(self, alias: str) -> AtRestKey: ...


def check_alias(alias: str) -> str:
    """Return ``alias`` if it is a valid key alias, else raise :class:`KeyStoreError`."""
    return _check_alias(alias)


def _check_alias(alias: str) -> str:
    if not _ALIAS.fullmatch(alias):
        raise KeyStoreError("key alias must be 1-64 of [A-Za-z0-9_.-], starting alphanumeric")
    return alias


# The simulated stores moved to n2net_privacy.simulation; the old path works for one release.
_moved = moved_names(__name__, dict.fromkeys(
    ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"], "n2net_privacy.simulation"
))


def __getattr__(name: str) -> Any:
    return _moved(name)


class RowSeal:
    """Seals a payload to its row: AAD = ``"n2net/queue/v2:" || file_id || seq``.

    Rows migrated from format 1 (``seq <= legacy_hi``) keep the old AAD.
    """

    def __init__(self, key: AtRestKey, file: QueueFile) -> None:
        self._key = key
        self._file = file
        self._prefix_of = b""
        self._prefix = _AAD_V2

    def _v2_prefix(self) -> bytes:
        file_id = self._file.file_id
        # file_id may change on reopen after fork (same file: same id), so check it each time.
        if file_id is not self._prefix_of:
            self._prefix_of = file_id
            self._prefix = _AAD_V2 + file_id
        return self._prefix

    def _aad(self, seq: int) -> bytes:
        if seq <= self._file.legacy_hi:
            return _AAD_V1 + seq.to_bytes(8, "big", signed=True)
        return self._v2_prefix() + seq.to_bytes(8, "big", signed=True)

    def seal(self, payload: bytes, seq: int) -> bytes:
        return self._key.seal(payload, self._aad(seq))

    def open_rows(
        self, rows: _Rows, *, step_aside: bool = True
    ) -> tuple[list[int], list[bytes], list[tuple[int, int]]]:
        """Open every row: (seqs, payloads) of the good ones, (seq, size) of the bad.

        ``step_aside=False`` when the caller holds the file lock: no write can be
        in progress then, and the lock would read as a writer's.
        """
        seqs: list[int] = []
        payloads: list[bytes] = []
        bad: list[tuple[int, int]] = []
        key_open, aad = self._key.open, self._aad
        prefix, legacy_hi = self._v2_prefix(), self._file.legacy_hi
        for start in range(0, len(rows), _YIELD_EVERY):
            chunk = rows[start : start + _YIELD_EVERY]
            try:  # the common case, a chunk of good rows, in one comprehension
                payloads += [
                    key_open(
                        blob,
                        prefix + seq.to_bytes(8, "big", signed=True)
                        if seq > legacy_hi
                        else aad(seq),
                    )
                    for seq, blob in chunk
                ]
                seqs += [seq for seq, _ in chunk]
            except KeyStoreError:
                for seq, blob in chunk:  # one of them is bad: row by row
                    try:
                        payloads.append(key_open(blob, aad(seq)))
                        seqs.append(seq)
                    except KeyStoreError:
                        bad.append((seq, len(blob)))
            if step_aside and len(chunk) == _YIELD_EVERY:
                self._file.yield_to_writer()
        return seqs, payloads, bad
