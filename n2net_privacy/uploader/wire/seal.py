"""Server keys and the HPKE seal of wire contract v1 (RFC 9180, base mode).

The body of every upload is ``hpke.Suite(KEM, HKDF_SHA256, AES_128_GCM)
.encrypt(plaintext, public_key, info=b"n2net/events/v1")``: the encapsulated
key followed by the AES-GCM ciphertext, exactly as ``cryptography`` and any
other RFC 9180 implementation lay it out. The KEM follows the server key:
DHKEM(X25519, HKDF-SHA256) for an X25519 key, the hybrid post-quantum
ML-KEM-768 + X25519 KEM for a hybrid key.

Raw key encodings (ours, documented in docs/wire-format.md):

* X25519 public key: 32 bytes; private key: 32 bytes.
* Hybrid public key: ML-KEM-768 encapsulation key (1184 bytes) followed by
  the X25519 public key (32 bytes), 1216 bytes in all; private key: the
  ML-KEM-768 seed (64 bytes) followed by the X25519 private key (32).

:class:`ServerKeyRing` is the set of keys an uploader may seal to, current
first, then next: rotation without loss, see docs/uploader.md ("Rotating the
server key"). A key the server answers ``401 unknown_key_id`` for is marked
rejected and the batch sealed again to the next one, under the same
``Idempotency-Key``; with every key rejected nothing is dead-lettered, the
events wait for :meth:`ServerKeyRing.replace` (rejections are also forgotten
every ``backoff_cap_s``, in case the server restored a key).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from n2net_privacy.checks import quoted, require_type
from n2net_privacy.errors import InvalidArgumentError, InvalidArgumentTypeError, WireFormatError

__all__ = [
    "HPKE_INFO",
    "KeyKind",
    "PrivateKey",
    "PublicKey",
    "ServerKey",
    "ServerKeyPair",
    "ServerKeyRing",
    "open_sealed",
    "seal",
    "server_keys",
]

HPKE_INFO = b"n2net/events/v1"

KeyKind = Literal["x25519", "mlkem768x25519"]
PublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
PrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey

_X25519_LEN = 32
_MLKEM768_PUBLIC_LEN = 1184
_MLKEM768_SEED_LEN = 64
_HYBRID_PUBLIC_LEN = _MLKEM768_PUBLIC_LEN + _X25519_LEN
_HYBRID_PRIVATE_LEN = _MLKEM768_SEED_LEN + _X25519_LEN
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PEM_BLOCK = re.compile(
    rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL
)


def _suite(kem: hpke.KEM) -> hpke.Suite:
    return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


_X25519_SUITE = _suite(hpke.KEM.X25519)
_HYBRID_SUITE = _suite(hpke.KEM.MLKEM768_X25519)


def _check_key_id(key_id: str) -> None:
    # The id travels in a header, so it must be a plain token.
    require_type("key_id", key_id, str)
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidArgumentError("key_id must be 1-64 characters of [A-Za-z0-9._-]")


@dataclass(frozen=True)
class ServerKey:
    """The server's public key and the id sent in the ``N2Net-Key-Id`` header."""

    key_id: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)
        if not isinstance(self.public_key, x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey):
            raise InvalidArgumentTypeError(
                "public_key must be an X25519 or ML-KEM-768+X25519 public key, "
                f"not {type(self.public_key).__name__}; for raw bytes use ServerKey.from_raw()"
            )

    @property
    def kind(self) -> KeyKind:
        if isinstance(self.public_key, x25519.X25519PublicKey):
            return "x25519"
        return "mlkem768x25519"

    @property
    def suite(self) -> hpke.Suite:
        """The HPKE suite this key implies; KDF and AEAD are always the same."""
        return _X25519_SUITE if self.kind == "x25519" else _HYBRID_SUITE

    @classmethod
    def from_raw(cls, key_id: str, data: bytes) -> ServerKey:
        """Load a raw public key: 32 bytes (X25519) or 1216 bytes (hybrid)."""
        require_type("data", data, bytes, hint="for a PEM file use ServerKey.from_pem()")
        try:
            if len(data) == _X25519_LEN:
                return cls(key_id, x25519.X25519PublicKey.from_public_bytes(data))
            if len(data) == _HYBRID_PUBLIC_LEN:
                pq = mlkem.MLKEM768PublicKey.from_public_bytes(data[:_MLKEM768_PUBLIC_LEN])
                classic = x25519.X25519PublicKey.from_public_bytes(data[_MLKEM768_PUBLIC_LEN:])
                return cls(key_id, hpke.MLKEM768X25519PublicKey(pq, classic))
        except InvalidArgumentError:  # our own (a bad key_id): not the library's complaint
            raise
        except ValueError as exc:
            raise InvalidArgumentError("server public key bytes are invalid") from exc
        raise InvalidArgumentError(
            f"server public key must be {_X25519_LEN} or {_HYBRID_PUBLIC_LEN} bytes,"
            f" got {len(data)}"
        )

    @classmethod
    def from_pem(cls, key_id: str, data: bytes) -> ServerKey:
        """Load a PEM public key: one X25519 block, or ML-KEM-768 then X25519 blocks."""
        require_type("data", data, bytes, hint="read the PEM file in binary mode")
        blocks = _PEM_BLOCK.findall(data)
        try:
            loaded = [serialization.load_pem_public_key(block) for block in blocks]
        except ValueError as exc:
            raise InvalidArgumentError("server public key PEM is invalid") from exc
        match loaded:
            case [x25519.X25519PublicKey() as classic]:
                return cls(key_id, classic)
            case [mlkem.MLKEM768PublicKey() as pq, x25519.X25519PublicKey() as classic]:
                return cls(key_id, hpke.MLKEM768X25519PublicKey(pq, classic))
        raise InvalidArgumentError(
            "server public key PEM must hold one X25519 key, or an ML-KEM-768 key"
            " followed by an X25519 key"
        )


@dataclass(frozen=True)
class ServerKeyPair:
    """A server key pair, for the reference server, backend tools and tests.

    ``private_bytes`` is the raw private encoding (see the module docstring);
    it is excluded from ``repr`` so a stray log line cannot print it.
    """

    key_id: str
    private_key: PrivateKey = field(repr=False)
    public: ServerKey
    public_bytes: bytes = field(repr=False)
    private_bytes: bytes = field(repr=False)

    @property
    def kind(self) -> KeyKind:
        return self.public.kind

    @classmethod
    def generate(cls, kind: KeyKind = "x25519", key_id: str = "test-key") -> ServerKeyPair:
        """Make a fresh key pair of the given kind."""
        if kind == "x25519":
            raw = x25519.X25519PrivateKey.generate().private_bytes_raw()
        elif kind == "mlkem768x25519":
            raw = (
                mlkem.MLKEM768PrivateKey.generate().private_bytes_raw()
                + x25519.X25519PrivateKey.generate().private_bytes_raw()
            )
        else:
            raise InvalidArgumentError(
                f"unknown key kind {quoted(kind)}; choose 'x25519' or 'mlkem768x25519'"
            )
        return cls.from_private_raw(key_id, raw)

    @classmethod
    def from_private_raw(cls, key_id: str, data: bytes) -> ServerKeyPair:
        """Load a raw private key: 32 bytes (X25519) or 96 bytes (hybrid)."""
        try:
            if len(data) == _X25519_LEN:
                classic = x25519.X25519PrivateKey.from_private_bytes(data)
                public_raw = classic.public_key().public_bytes_raw()
                private: PrivateKey = classic
            elif len(data) == _HYBRID_PRIVATE_LEN:
                pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(data[:_MLKEM768_SEED_LEN])
                classic = x25519.X25519PrivateKey.from_private_bytes(data[_MLKEM768_SEED_LEN:])
                public_raw = (
                    pq.public_key().public_bytes_raw() + classic.public_key().public_bytes_raw()
                )
                private = hpke.MLKEM768X25519PrivateKey(pq, classic)
            else:
                raise InvalidArgumentError(
                    f"server private key must be {_X25519_LEN} or {_HYBRID_PRIVATE_LEN} bytes"
                )
        except InvalidArgumentError:  # our own (the length): not the library's complaint
            raise
        except ValueError as exc:
            raise InvalidArgumentError("server private key bytes are invalid") from exc
        return cls(
            key_id=key_id,
            private_key=private,
            public=ServerKey.from_raw(key_id, public_raw),
            public_bytes=public_raw,
            private_bytes=bytes(data),
        )

    def public_pem(self) -> bytes:
        """The public key as PEM, loadable by :meth:`ServerKey.from_pem`."""
        parts: list[x25519.X25519PublicKey | mlkem.MLKEM768PublicKey]
        if len(self.public_bytes) == _X25519_LEN:
            parts = [x25519.X25519PublicKey.from_public_bytes(self.public_bytes)]
        else:
            parts = [
                mlkem.MLKEM768PublicKey.from_public_bytes(
                    self.public_bytes[:_MLKEM768_PUBLIC_LEN]
                ),
                x25519.X25519PublicKey.from_public_bytes(self.public_bytes[_MLKEM768_PUBLIC_LEN:]),
            ]
        return b"".join(
            part.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            for part in parts
        )

    def open(self, body: bytes) -> bytes:
        """Open a sealed body addressed to this pair; see :func:`open_sealed`."""
        return open_sealed(body, self.private_key)


def seal(plaintext: bytes, key: ServerKey) -> bytes:
    """Seal ``plaintext`` to the server key: ``enc || AES-GCM ciphertext``."""
    return key.suite.encrypt(plaintext, key.public_key, info=HPKE_INFO)


def open_sealed(body: bytes, private_key: PrivateKey) -> bytes:
    """Open a sealed body (server side, QA test mode).

    Raises :class:`WireFormatError` when the body was not sealed to this key
    with the v1 suite and info, or was altered on the way.
    """
    if isinstance(private_key, x25519.X25519PrivateKey):
        suite, enc_length = _X25519_SUITE, hpke.KEM.X25519.enc_length()
    else:
        suite, enc_length = _HYBRID_SUITE, hpke.KEM.MLKEM768_X25519.enc_length()
    # Shorter than enc + an AES-GCM tag cannot be a seal; say so plainly.
    if len(body) < enc_length + 16:
        raise WireFormatError("sealed body is too short")
    try:
        return suite.decrypt(body, private_key, info=HPKE_INFO)
    except (InvalidTag, ValueError) as exc:
        raise WireFormatError("sealed body cannot be opened with this key") from exc


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
