"""Fixed test vectors of wire contract v1: a server key, a plaintext batch, its sealed body.

One JSON file per KEM ships in this package (and is printed in
docs/wire-format.md): ``x25519.json`` (DHKEM(X25519, HKDF-SHA256), KEM id
``0x0020``) and ``mlkem768-x25519.json`` (MLKEM768-X25519 / X-Wing, KEM id
``0x647A``). Each holds, hex-encoded unless noted:

* ``server_private_key`` / ``server_public_key`` in the raw encodings of
  docs/wire-format.md, and ``server_public_key_pem`` (text) as
  ``n2net-privacy keygen`` prints it;
* ``plaintext`` (text): the canonical ``n2net.events/1`` JSON, exactly the
  bytes ``encode_batch`` makes, UTF-8;
* ``sealed_body`` = ``enc`` || ``ciphertext`` (AES-128-GCM output, tag last),
  the request body as it goes on the wire, with the ``headers`` it goes with;
* the RFC 9180 intermediates ``shared_secret``, ``key`` and ``base_nonce``,
  to find where a decoder in another language goes wrong;
* the suite: ``mode`` 0 (base), ``kem_id``, ``kdf_id``, ``aead_id``,
  ``info`` (text) and an empty ``aad``.

``cryptography`` has no hook to fix the HPKE ephemeral key. The X25519 body
was therefore sealed with ``pyhpke`` (same suite, RFC 9180) and a fixed
ephemeral key, which the file gives as ``ephemeral_private_key``: sealing
again with it reproduces the body byte for byte. The hybrid body was sealed
once with the SDK's own :func:`~n2net_privacy.uploader.wire.seal` (``pyhpke``
has no X-Wing) and committed: any implementation of the suite opens it to
``plaintext``. The test suite opens both with the SDK, the X25519 one with
``pyhpke`` too, and both with an independent RFC 9180 key schedule.

>>> from n2net_privacy.testing.vectors import load_vector
>>> v = load_vector("x25519")
>>> v.open() == v.plaintext
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, Literal

from n2net_privacy.errors import ConfigurationError
from n2net_privacy.uploader.wire import ServerKey, ServerKeyPair, open_sealed

__all__ = ["VECTOR_NAMES", "VectorName", "WireVector", "load_vector", "vector_text"]

VectorName = Literal["x25519", "mlkem768-x25519"]
VECTOR_NAMES: Final[tuple[VectorName, ...]] = ("x25519", "mlkem768-x25519")


@dataclass(frozen=True)
class WireVector:
    """One vector, decoded: bytes where the file has hex."""

    name: str
    mode: int
    kem: str
    kem_id: int
    kdf: str
    kdf_id: int
    aead: str
    aead_id: int
    info: bytes
    aad: bytes
    key_id: str
    server_private_key: bytes = field(repr=False)
    server_public_key: bytes = field(repr=False)
    server_public_key_pem: bytes = field(repr=False)
    headers: dict[str, str]
    plaintext: bytes = field(repr=False)
    shared_secret: bytes = field(repr=False)
    key: bytes = field(repr=False)
    base_nonce: bytes = field(repr=False)
    enc: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)
    sealed_body: bytes = field(repr=False)
    ephemeral_private_key: bytes | None = field(default=None, repr=False)
    """The sender's ephemeral X25519 key (X25519 vector only): sealing again with it
    reproduces :attr:`sealed_body` byte for byte."""

    def server_key_pair(self) -> ServerKeyPair:
        """The server's pair, as the reference ``IngestServer`` takes it."""
        return ServerKeyPair.from_private_raw(self.key_id, self.server_private_key)

    def server_key(self) -> ServerKey:
        """The public key, as the app's ``Endpoint(server_key=...)`` takes it."""
        return ServerKey.from_pem(self.key_id, self.server_public_key_pem)

    def open(self) -> bytes:
        """Open :attr:`sealed_body` with the SDK; equals :attr:`plaintext`."""
        return open_sealed(self.sealed_body, self.server_key_pair().private_key)


_TEXT_FIELDS = {"info", "server_public_key_pem", "plaintext"}
_HEX_FIELDS = {
    "aad", "ephemeral_private_key", "server_private_key", "server_public_key",
    "shared_secret", "key", "base_nonce", "enc", "ciphertext", "sealed_body",
}


def vector_text(name: VectorName) -> str:
    """The vector file's JSON text, as shipped in the package."""
    if name not in VECTOR_NAMES:
        raise ConfigurationError(f"no wire vector {name!r}; expected one of: "
                                 + ", ".join(VECTOR_NAMES))
    return (resources.files(__package__) / f"{name}.json").read_text(encoding="utf-8")


def load_vector(name: VectorName) -> WireVector:
    """Load one shipped vector: ``"x25519"`` or ``"mlkem768-x25519"``."""
    raw: dict[str, Any] = json.loads(vector_text(name))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _HEX_FIELDS:
            values[key] = bytes.fromhex(value)
        elif key in _TEXT_FIELDS:
            values[key] = value.encode("utf-8")
        else:
            values[key] = value
    return WireVector(**values)
