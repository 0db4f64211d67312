"""The phone's key stores, in memory: the Android Keystore and the iOS Keychain.

They model the semantics the uploader relies on (see
:mod:`n2net_privacy.uploader.store.at_rest` for the :class:`KeyStore` protocol and
the :class:`AtRestKey` they hand out) and last as long as the object does:
pass the same instance to a restarted uploader to simulate an app restart.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from n2net_privacy.errors import KeyStoreError
from n2net_privacy.uploader.store.at_rest import AtRestKey, check_alias

__all__ = ["SimulatedAndroidKeystore", "SimulatedIOSKeychain"]


class SimulatedAndroidKeystore:
    """The Android Keystore, in memory: keys are generated inside and never exported.

    The key bytes exist only inside the :class:`AtRestKey` objects this store
    hands out. :meth:`invalidate` models ``KeyPermanentlyInvalidatedException``
    (the user removed the screen lock): the key is gone, rows sealed with it
    can no longer be opened, and the next request creates a fresh key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, AtRestKey] = {}

    def at_rest_key(self, alias: str) -> AtRestKey:
        with self._lock:
            key = self._keys.get(check_alias(alias))
            if key is None:
                key = self._keys[alias] = AtRestKey(AESGCM.generate_key(bit_length=256))
            return key

    def invalidate(self, alias: str) -> None:
        with self._lock:
            self._keys.pop(check_alias(alias), None)

    def __contains__(self, alias: object) -> bool:
        return alias in self._keys


class SimulatedIOSKeychain:
    """The iOS Keychain, in memory, with ``AfterFirstUnlockThisDeviceOnly`` items.

    Before the first unlock after boot (``first_unlock_done=False``) every
    item is unreadable and creating one fails, as ``errSecInteractionNotAllowed``
    does on a device. Items are device-bound: :meth:`restore_to_new_device`
    returns a keychain without them, as an iCloud or iTunes restore would.
    """

    def __init__(self, *, first_unlock_done: bool = True) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, bytes] = {}
        self.first_unlock_done = first_unlock_done

    def at_rest_key(self, alias: str) -> AtRestKey:
        with self._lock:
            if not self.first_unlock_done:
                raise KeyStoreError("keychain is locked until the first unlock after boot")
            item = self._items.get(check_alias(alias))
            if item is None:
                item = self._items[alias] = AESGCM.generate_key(bit_length=256)
            return AtRestKey(item)

    def unlock(self) -> None:
        self.first_unlock_done = True

    def restore_to_new_device(self) -> SimulatedIOSKeychain:
        return SimulatedIOSKeychain(first_unlock_done=self.first_unlock_done)

    def __contains__(self, alias: object) -> bool:
        return alias in self._items
