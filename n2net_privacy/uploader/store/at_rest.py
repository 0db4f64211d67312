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

:class:`~n2net_privacy.simulation.SimulatedAndroidKeystore` and
:class:`~n2net_privacy.simulation.SimulatedIOSKeychain` model those semantics
in memory.
A store that writes the raw key to a file protects the rows against nothing
an attacker who can read the queue's directory cannot also read, so it is not
part of the SDK: :class:`n2net_privacy.testing.FileKeyStore` exists for
tests and development machines that restart the process.

Every store hands out an :class:`AtRestKey`, which can seal and open but has
no way to give its key bytes back.
"""

from __future__ import annotations

import os
import re
from typing import Any, NoReturn, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from n2net_privacy._deprecated import moved_names
from n2net_privacy.errors import KeyStoreError

__all__ = ["AtRestKey", "KeyStore"]

NONCE_BYTES = 12
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
