"""The set of server keys an uploader may seal to: current first, then next.

Key rotation without loss (see docs/uploader.md, "Rotating the server key"):
the app ships with ``[current, next]``. When the server answers
``401 unknown_key_id`` for a key, that key is marked rejected and the batch
is sealed again to the next one, under the same ``Idempotency-Key``. When
every configured key is rejected, nothing is dead-lettered: the events stay
queued, the status callback reports ``KEY_REJECTED``, and sending resumes as
soon as :meth:`ServerKeyRing.replace` installs a key the server knows (the
rejections are also forgotten every ``backoff_cap_s``, in case the server
restored a key).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from n2net_privacy.checks import require_type
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError
from n2net_privacy.uploader.wire.seal import ServerKey, ServerKeyPair

__all__ = ["ServerKeyRing", "server_keys"]


_KEY_PAIR_HINT = (
    "pass its .public: a ServerKeyPair holds the private key, which stays on the server"
)


def server_keys(keys: ServerKey | Iterable[ServerKey]) -> tuple[ServerKey, ...]:
    """Check and normalize one key or a sequence of keys (current first)."""
    if isinstance(keys, ServerKey):
        return (keys,)
    if isinstance(keys, str | bytes):  # iterable, but never a list of keys
        require_type("server_key", keys, ServerKey)
    require_type("server_key", keys, (ServerKey, ServerKeyPair, Iterable))
    if isinstance(keys, ServerKeyPair):
        raise InvalidArgumentTypeError(f"server_key must be a ServerKey, not a ServerKeyPair; "
                                       f"{_KEY_PAIR_HINT}")
    found = tuple(keys)
    if not found:
        raise InvalidArgumentError("server_key must be a ServerKey or a non-empty list of them")
    for index, key in enumerate(found):
        hint = _KEY_PAIR_HINT if isinstance(key, ServerKeyPair) else ""
        require_type(f"server_key[{index}]", key, ServerKey, hint=hint)
    if len({key.key_id for key in found}) != len(found):
        raise InvalidArgumentError("server keys must have distinct key ids")
    return found


class ServerKeyRing:
    """Thread-safe: the app may :meth:`replace` the keys while the worker sends."""

    def __init__(self, keys: ServerKey | Iterable[ServerKey]) -> None:
        self._lock = threading.Lock()
        self._keys = server_keys(keys)
        self._rejected: set[str] = set()
        self.generation = 0
        """Bumped by :meth:`replace`, so the sender knows to reseal."""

    @property
    def keys(self) -> tuple[ServerKey, ...]:
        return self._keys

    def current(self) -> ServerKey | None:
        """The first key the server has not rejected, or None if it rejected them all."""
        with self._lock:
            for key in self._keys:
                if key.key_id not in self._rejected:
                    return key
            return None

    def reject(self, key_id: str) -> None:
        """The server answered ``unknown_key_id`` for ``key_id``."""
        with self._lock:
            self._rejected.add(key_id)

    def forget_rejections(self) -> None:
        with self._lock:
            self._rejected.clear()

    def replace(self, keys: ServerKey | Iterable[ServerKey]) -> None:
        """Install a new key set (current first); every key gets a fresh chance."""
        checked = server_keys(keys)
        with self._lock:
            self._keys = checked
            self._rejected.clear()
            self.generation += 1
