"""Request and response encapsulation (RFC 9458 §4), client and gateway sides.

HPKE (RFC 9180) comes from ``pyhpke``, behind the ``ohttp`` extra: OHTTP
responses are keyed from the HPKE *exporter*, which ``cryptography``'s
single-shot HPKE does not offer, and the key schedule is not something to
write by hand. The response AEAD and HKDF steps use the same suite's KDF.

Everything here is pure computation; sending the bytes is the caller's job
(the egress, the reference relay, a backend's own server).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from n2net_privacy.errors import (
    ConfigurationError,
    InvalidArgumentTypeError,
    KeyConfigMismatchError,
    WireFormatError,
)
from n2net_privacy.ohttp.keyconfig import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AEAD_CHACHA20_POLY1305,
    DEFAULT_ALGORITHMS,
    KDF_HKDF_SHA256,
    KEM_X25519_HKDF_SHA256,
    KeyConfig,
    SymmetricAlgorithm,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "REQUEST_MEDIA_TYPE",
    "RESPONSE_MEDIA_TYPE",
    "ClientResponseContext",
    "Gateway",
    "KeyConfigMismatchError",
    "Responder",
    "encapsulate_request",
]

REQUEST_MEDIA_TYPE = "message/ohttp-req"
RESPONSE_MEDIA_TYPE = "message/ohttp-res"
_REQUEST_LABEL = b"message/bhttp request"
_RESPONSE_LABEL = b"message/bhttp response"
_HEADER_LEN = 7
# (Nk, Nn) per AEAD (RFC 9180 §7.3); export-only (0xFFFF) cannot carry a request.
_AEAD_SIZES = {
    AEAD_AES_128_GCM: (16, 12),
    AEAD_AES_256_GCM: (32, 12),
    AEAD_CHACHA20_POLY1305: (32, 12),
}
_SUPPORTED_KEMS = {KEM_X25519_HKDF_SHA256: 32}
_SUPPORTED_KDFS = {KDF_HKDF_SHA256}
_TAG_LEN = 16


INSTALL_LINE = "pip install 'n2net-privacy[ohttp]'"
"""What to run when the ``ohttp`` extra (``pyhpke``) is missing."""


def _pyhpke() -> Any:
    try:
        import pyhpke
    except ImportError as exc:
        raise ConfigurationError(f"Oblivious HTTP needs the 'ohttp' extra: {INSTALL_LINE}") from exc
    return pyhpke


def extra_installed() -> bool:
    """Whether the ``ohttp`` extra is there, so encapsulation can work."""
    try:
        _pyhpke()
    except ConfigurationError:
        return False
    return True


def require_extra() -> None:
    """Raise :class:`ConfigurationError` with the install line unless the extra is there.

    Components that will encapsulate later (the uploader, the Gravatar
    fetcher) call this when they are built, so a missing extra is a
    configuration error at construction, not a failure in a background loop.
    """
    _pyhpke()


def _suite(kem_id: int, alg: SymmetricAlgorithm) -> Any:
    pyhpke = _pyhpke()
    return pyhpke.CipherSuite.new(
        pyhpke.KEMId(kem_id), pyhpke.KDFId(alg.kdf_id), pyhpke.AEADId(alg.aead_id)
    )


def _header(key_id: int, kem_id: int, alg: SymmetricAlgorithm) -> bytes:
    return (
        key_id.to_bytes(1, "big")
        + kem_id.to_bytes(2, "big")
        + alg.kdf_id.to_bytes(2, "big")
        + alg.aead_id.to_bytes(2, "big")
    )


def _supported(alg: SymmetricAlgorithm) -> bool:
    return alg.kdf_id in _SUPPORTED_KDFS and alg.aead_id in _AEAD_SIZES


def _aead(aead_id: int, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if aead_id == AEAD_CHACHA20_POLY1305 else AESGCM(key)


def _response_keys(
    suite: Any, aead_id: int, secret: bytes, enc: bytes, response_nonce: bytes
) -> tuple[bytes, bytes]:
    nk, nn = _AEAD_SIZES[aead_id]
    prk = suite.kdf.extract(enc + response_nonce, secret)
    return suite.kdf.expand(prk, b"key", nk), suite.kdf.expand(prk, b"nonce", nn)


def _secret_length(aead_id: int) -> int:
    return max(_AEAD_SIZES[aead_id])


def _as_x25519(key: x25519.X25519PrivateKey | bytes, what: str) -> x25519.X25519PrivateKey:
    if isinstance(key, x25519.X25519PrivateKey):
        return key
    if isinstance(key, bytes | bytearray) and len(key) == 32:
        return x25519.X25519PrivateKey.from_private_bytes(bytes(key))
    raise InvalidArgumentTypeError(f"{what} must be an X25519PrivateKey or 32 raw bytes")


@dataclass(frozen=True, slots=True)
class ClientResponseContext:
    """What a client keeps after sending, to open the one response to it."""

    _context: Any
    _suite: Any
    _enc: bytes
    _aead_id: int

    def open_response(self, enc_response: bytes) -> bytes:
        """Decrypt a ``message/ohttp-res`` body into BHTTP response bytes."""
        nonce_len = _secret_length(self._aead_id)
        if len(enc_response) < nonce_len + _TAG_LEN:
            raise WireFormatError(
                f"encapsulated response of {len(enc_response)} bytes is shorter than "
                f"its nonce and tag ({nonce_len + _TAG_LEN})"
            )
        secret = self._context.export(_RESPONSE_LABEL, nonce_len)
        response_nonce, ct = enc_response[:nonce_len], enc_response[nonce_len:]
        key, nonce = _response_keys(self._suite, self._aead_id, secret, self._enc, response_nonce)
        try:
            return _aead(self._aead_id, key).decrypt(nonce, ct, b"")
        except Exception as exc:  # cryptography raises InvalidTag
            raise WireFormatError("encapsulated response failed authentication") from exc


def encapsulate_request(
    config: KeyConfig,
    bhttp_request: bytes,
    ephemeral_key: x25519.X25519PrivateKey | bytes | None = None,
) -> tuple[bytes, ClientResponseContext]:
    """Encrypt ``bhttp_request`` to the gateway key in ``config``.

    Returns the ``message/ohttp-req`` body and the context that opens the
    response. ``ephemeral_key`` exists for test vectors only: production
    code leaves it ``None`` so that each request gets a fresh key.
    """
    if config.kem_id not in _SUPPORTED_KEMS:
        raise KeyConfigMismatchError(f"KEM 0x{config.kem_id:04x} is not supported")
    alg = next((a for a in config.algorithms if _supported(a)), None)
    if alg is None:
        raise KeyConfigMismatchError("the key configuration offers no supported (KDF, AEAD) pair")
    pyhpke = _pyhpke()
    suite = _suite(config.kem_id, alg)
    header = _header(config.key_id, config.kem_id, alg)
    try:
        pk_r = suite.kem.deserialize_public_key(config.public_key)
    except Exception as exc:
        raise WireFormatError("the key configuration's public key is not a valid point") from exc
    eks = None
    if ephemeral_key is not None:
        sk = _as_x25519(ephemeral_key, "ephemeral_key")
        eks = pyhpke.KEMKeyPair(
            pyhpke.KEMKey.from_pyca_cryptography_key(sk),
            pyhpke.KEMKey.from_pyca_cryptography_key(sk.public_key()),
        )
    enc, context = suite.create_sender_context(
        pk_r, info=_REQUEST_LABEL + b"\x00" + header, eks=eks
    )
    ct = context.seal(bhttp_request, aad=b"")
    return header + enc + ct, ClientResponseContext(context, suite, enc, alg.aead_id)


@dataclass(frozen=True, slots=True)
class Responder:
    """What a gateway keeps after opening a request, to answer it once."""

    _context: Any
    _suite: Any
    _enc: bytes
    _aead_id: int
    key_id: int

    def encapsulate(self, bhttp_response: bytes, nonce: bytes | None = None) -> bytes:
        """Encrypt ``bhttp_response`` into a ``message/ohttp-res`` body.

        ``nonce`` exists for test vectors only; leave it ``None`` in production.
        """
        nonce_len = _secret_length(self._aead_id)
        response_nonce = os.urandom(nonce_len) if nonce is None else nonce
        if len(response_nonce) != nonce_len:
            raise WireFormatError(f"response nonce must be {nonce_len} bytes")
        secret = self._context.export(_RESPONSE_LABEL, nonce_len)
        key, aead_nonce = _response_keys(
            self._suite, self._aead_id, secret, self._enc, response_nonce
        )
        return response_nonce + _aead(self._aead_id, key).encrypt(aead_nonce, bhttp_response, b"")


class Gateway:
    """The gateway side: holds private keys, opens requests, seals responses.

    >>> from cryptography.hazmat.primitives.asymmetric import x25519
    >>> gw = Gateway([(7, x25519.X25519PrivateKey.generate())])
    >>> [c.key_id for c in gw.key_configs()]
    [7]
    """

    def __init__(
        self,
        keys: Iterable[tuple[int, x25519.X25519PrivateKey | bytes]],
        algorithms: tuple[SymmetricAlgorithm, ...] = DEFAULT_ALGORITHMS,
    ) -> None:
        self._keys: dict[int, x25519.X25519PrivateKey] = {}
        for key_id, key in keys:
            if key_id in self._keys:
                raise ConfigurationError(f"key id {key_id} is listed twice")
            if not 0 <= key_id <= 0xFF:
                raise ConfigurationError(f"key id {key_id} does not fit one byte")
            self._keys[key_id] = _as_x25519(key, "gateway key")
        if not self._keys:
            raise ConfigurationError("a gateway needs at least one key")
        unsupported = [a for a in algorithms if not _supported(a)]
        if unsupported or not algorithms:
            raise ConfigurationError(f"unsupported (KDF, AEAD) pairs: {unsupported}")
        self._algorithms = algorithms

    def key_configs(self) -> tuple[KeyConfig, ...]:
        """The public configurations, in key-id order, for ``application/ohttp-keys``."""
        from cryptography.hazmat.primitives import serialization

        return tuple(
            KeyConfig(
                key_id,
                KEM_X25519_HKDF_SHA256,
                key.public_key().public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw
                ),
                self._algorithms,
            )
            for key_id, key in sorted(self._keys.items())
        )

    def encoded_key_configs(self) -> bytes:
        return KeyConfig.encode_list(self.key_configs())

    def decapsulate(self, enc_request: bytes) -> tuple[bytes, Responder]:
        """Open a ``message/ohttp-req`` body; return BHTTP bytes and the responder."""
        if len(enc_request) < _HEADER_LEN:
            raise WireFormatError("encapsulated request is shorter than its header")
        header = enc_request[:_HEADER_LEN]
        key_id = header[0]
        kem_id = int.from_bytes(header[1:3], "big")
        alg = SymmetricAlgorithm(
            int.from_bytes(header[3:5], "big"), int.from_bytes(header[5:7], "big")
        )
        key = self._keys.get(key_id)
        if key is None:
            raise KeyConfigMismatchError(f"unknown key id {key_id}")
        if kem_id != KEM_X25519_HKDF_SHA256 or alg not in self._algorithms:
            raise KeyConfigMismatchError(f"key id {key_id} does not accept these algorithms")
        npk = _SUPPORTED_KEMS[kem_id]
        if len(enc_request) < _HEADER_LEN + npk + _TAG_LEN:
            raise WireFormatError("encapsulated request is too short for its key and tag")
        enc = enc_request[_HEADER_LEN : _HEADER_LEN + npk]
        ct = enc_request[_HEADER_LEN + npk :]
        pyhpke = _pyhpke()
        suite = _suite(kem_id, alg)
        try:
            context = suite.create_recipient_context(
                enc,
                pyhpke.KEMKey.from_pyca_cryptography_key(key),
                info=_REQUEST_LABEL + b"\x00" + header,
            )
            request = context.open(ct, aad=b"")
        except Exception as exc:  # pyhpke raises OpenError, ValueError on a bad point
            raise WireFormatError("encapsulated request failed authentication") from exc
        return request, Responder(context, suite, enc, alg.aead_id, key_id)
