"""Oblivious HTTP (RFC 9458) and Binary HTTP (RFC 9292).

With OHTTP the *relay* sees the device's address but only ciphertext, and
the *gateway* sees the request but only the relay's address. See
``docs/ohttp.md`` for the trust model.

::

    from n2net_privacy import ohttp
    cfg = ohttp.KeyConfig.decode(raw)
    enc_request, client = ohttp.encapsulate_request(cfg, bhttp_request)
    bhttp_response = client.open_response(enc_response)
    gateway = ohttp.Gateway([(key_id, x25519_private_key)])
    bhttp_request, responder = gateway.decapsulate(enc_request)
    enc_response = responder.encapsulate(bhttp_response)

``bhttp``, ``padding`` (size buckets), ``consistency`` (which served keys a
client may use), ``KeyConfig``, :func:`key_config_pin` and the constants are
pure and need no extra; the encapsulation functions need the ``ohttp`` extra
(``pyhpke``).
"""

from __future__ import annotations

from n2net_privacy.ohttp import bhttp, consistency, padding
from n2net_privacy.ohttp.encapsulation import (
    INSTALL_LINE,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
    ClientResponseContext,
    Gateway,
    KeyConfigMismatchError,
    Responder,
    encapsulate_request,
    extra_installed,
    require_extra,
)
from n2net_privacy.ohttp.keyconfig import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AEAD_CHACHA20_POLY1305,
    KDF_HKDF_SHA256,
    KEM_X25519_HKDF_SHA256,
    KEY_CONFIG_MEDIA_TYPE,
    KeyConfig,
    SymmetricAlgorithm,
    key_config_pin,
)

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AEAD_CHACHA20_POLY1305",
    "INSTALL_LINE",
    "KDF_HKDF_SHA256",
    "KEM_X25519_HKDF_SHA256",
    "KEY_CONFIG_MEDIA_TYPE",
    "REQUEST_MEDIA_TYPE",
    "RESPONSE_MEDIA_TYPE",
    "ClientResponseContext",
    "Gateway",
    "KeyConfig",
    "KeyConfigMismatchError",
    "Responder",
    "SymmetricAlgorithm",
    "bhttp",
    "consistency",
    "encapsulate_request",
    "extra_installed",
    "key_config_pin",
    "padding",
    "require_extra",
]
