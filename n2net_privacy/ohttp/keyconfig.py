"""OHTTP key configurations (RFC 9458 §3) and the ``application/ohttp-keys`` list.

A key configuration tells a client which gateway key to encrypt to::

    key_id (8) | kem_id (16) | public_key (Npk) |
    symmetric_algorithms_length (16) | (kdf_id (16) | aead_id (16))...

Pure code: decoding checks every length against the bytes it was given and
raises :class:`~n2net_privacy.errors.WireFormatError` naming what is wrong.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from n2net_privacy.errors import WireFormatError
from n2net_privacy.ohttp._varint import Reader

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AEAD_CHACHA20_POLY1305",
    "KDF_HKDF_SHA256",
    "KEM_X25519_HKDF_SHA256",
    "KEY_CONFIG_MEDIA_TYPE",
    "KeyConfig",
    "SymmetricAlgorithm",
    "key_config_pin",
]

KEY_CONFIG_MEDIA_TYPE = "application/ohttp-keys"

KEM_X25519_HKDF_SHA256 = 0x0020
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_128_GCM = 0x0001
AEAD_AES_256_GCM = 0x0002
AEAD_CHACHA20_POLY1305 = 0x0003

# Npk per HPKE KEM (RFC 9180 §7.1): needed to find where the public key ends.
_PUBLIC_KEY_LENGTH = {0x0010: 65, 0x0011: 97, 0x0012: 133, 0x0020: 32, 0x0021: 56}
_MAX_ALGORITHMS = 64


@dataclass(frozen=True, slots=True)
class SymmetricAlgorithm:
    """One (KDF, AEAD) pair a gateway key accepts."""

    kdf_id: int
    aead_id: int


DEFAULT_ALGORITHMS = (
    SymmetricAlgorithm(KDF_HKDF_SHA256, AEAD_AES_128_GCM),
    SymmetricAlgorithm(KDF_HKDF_SHA256, AEAD_CHACHA20_POLY1305),
)


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """One gateway key configuration.

    >>> raw = bytes.fromhex(
    ...     "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e"
    ...     "79815500080001000100010003")
    >>> cfg = KeyConfig.decode(raw)
    >>> (cfg.key_id, hex(cfg.kem_id), cfg.encode() == raw)
    (1, '0x20', True)
    """

    key_id: int
    kem_id: int
    public_key: bytes
    algorithms: tuple[SymmetricAlgorithm, ...] = DEFAULT_ALGORITHMS

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= 0xFF:
            raise WireFormatError(f"key id {self.key_id} does not fit one byte")
        expected = _PUBLIC_KEY_LENGTH.get(self.kem_id)
        if expected is None:
            raise WireFormatError(f"unsupported KEM 0x{self.kem_id:04x}")
        if len(self.public_key) != expected:
            raise WireFormatError(
                f"public key is {len(self.public_key)} bytes, "
                f"KEM 0x{self.kem_id:04x} needs {expected}"
            )
        if not self.algorithms:
            raise WireFormatError("a key configuration needs at least one (KDF, AEAD) pair")
        if len(self.algorithms) > _MAX_ALGORITHMS:
            raise WireFormatError(f"more than {_MAX_ALGORITHMS} (KDF, AEAD) pairs")

    @classmethod
    def decode(cls, raw: bytes) -> KeyConfig:
        """Decode exactly one key configuration; trailing bytes are an error."""
        reader = Reader(raw)
        config = cls._read(reader)
        if not reader.at_end():
            raise WireFormatError(f"{reader.remaining} bytes after the key configuration")
        return config

    @classmethod
    def _read(cls, reader: Reader) -> KeyConfig:
        key_id = reader.uint(1, "key id")
        kem_id = reader.uint(2, "KEM id")
        npk = _PUBLIC_KEY_LENGTH.get(kem_id)
        if npk is None:
            raise WireFormatError(f"unsupported KEM 0x{kem_id:04x}")
        public_key = reader.take(npk, "public key")
        length = reader.uint(2, "symmetric algorithms length")
        if length == 0 or length % 4:
            raise WireFormatError(
                f"symmetric algorithms length {length} is not a positive multiple of 4"
            )
        if length // 4 > _MAX_ALGORITHMS:
            raise WireFormatError(f"more than {_MAX_ALGORITHMS} (KDF, AEAD) pairs")
        algs = Reader(reader.take(length, "symmetric algorithms"))
        pairs = []
        while not algs.at_end():
            pairs.append(SymmetricAlgorithm(algs.uint(2, "KDF id"), algs.uint(2, "AEAD id")))
        return cls(key_id, kem_id, public_key, tuple(pairs))

    def encode(self) -> bytes:
        algs = b"".join(
            a.kdf_id.to_bytes(2, "big") + a.aead_id.to_bytes(2, "big") for a in self.algorithms
        )
        return (
            self.key_id.to_bytes(1, "big")
            + self.kem_id.to_bytes(2, "big")
            + self.public_key
            + len(algs).to_bytes(2, "big")
            + algs
        )

    @classmethod
    def decode_list(cls, raw: bytes) -> tuple[KeyConfig, ...]:
        """Decode an ``application/ohttp-keys`` body (RFC 9458 §3.2).

        Each configuration is prefixed by a 2-byte length. A configuration
        whose KEM this SDK does not know is skipped, as §3.2 asks of clients;
        a list with no usable configuration is an error.
        """
        reader = Reader(raw)
        configs: list[KeyConfig] = []
        seen = 0
        while not reader.at_end():
            seen += 1
            if seen > 256:
                raise WireFormatError("more than 256 key configurations")
            entry = reader.take(reader.uint(2, "key configuration length"), "key configuration")
            kem_id = int.from_bytes(entry[1:3], "big") if len(entry) >= 3 else -1
            if kem_id not in _PUBLIC_KEY_LENGTH:
                continue
            configs.append(cls.decode(entry))
        if not configs:
            raise WireFormatError("no usable key configuration in the list")
        return tuple(configs)

    @staticmethod
    def encode_list(configs: Iterable[KeyConfig]) -> bytes:
        out = []
        for config in configs:
            raw = config.encode()
            out.append(len(raw).to_bytes(2, "big") + raw)
        return b"".join(out)


def key_config_pin(config: KeyConfig) -> str:
    """The pin of one key configuration: base64 SHA-256 of its encoding (RFC 9458 §3.1).

    The same format as the egress's SPKI pins (:class:`~n2net_privacy.egress.PinSet`
    holds them), over every byte a client encrypts to: the key id, the KEM,
    the public key and the algorithms. A gateway publishes the pins of its
    current key and of the next one it will rotate to; an app ships them.

    >>> key_config_pin(KeyConfig.decode(bytes.fromhex(
    ...     "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e"
    ...     "79815500080001000100010003")))
    'MKaF/vowfjqqz9aJ2b8m9mc4ANa+1uNOWLwx0t/rj1E='
    """
    return base64.b64encode(hashlib.sha256(config.encode()).digest()).decode("ascii")
