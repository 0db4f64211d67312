"""HPKE sealing: RFC 9180 base mode, byte for byte, for both key kinds."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from n2net_privacy.errors import ConfigurationError, WireFormatError
from n2net_privacy.uploader.wire import EventBatch, WireEvent, decode_batch, encode_batch
from n2net_privacy.uploader.wire.seal import (
    HPKE_INFO,
    KeyKind,
    ServerKey,
    ServerKeyPair,
    open_sealed,
    seal,
)

KINDS: list[KeyKind] = ["x25519", "mlkem768x25519"]
KEM_FOR = {"x25519": hpke.KEM.X25519, "mlkem768x25519": hpke.KEM.MLKEM768_X25519}


@pytest.fixture(scope="module", params=KINDS)
def pair(request: pytest.FixtureRequest) -> ServerKeyPair:
    kind: KeyKind = request.param
    return ServerKeyPair.generate(kind, key_id=f"k-{kind}")


def batch_plaintext() -> bytes:
    at = datetime(2026, 11, 29, 3, 4, 5, tzinfo=UTC)
    return encode_batch(
        EventBatch.of(
            [
                WireEvent.sms("0b7f8c9e-2d4a-4c1b-9e3f-5a6b7c8d9e0f", "+12025550143", at),
                WireEvent.call("1c8a9d0f-3e5b-4d2c-8f4a-6b7c8d9e0f1a", "+12025550143", at, 7),
            ]
        )
    )


def test_info_is_the_v1_string() -> None:
    assert HPKE_INFO == b"n2net/events/v1"


def test_seal_then_open_round_trips(pair: ServerKeyPair) -> None:
    plaintext = batch_plaintext()
    assert open_sealed(seal(plaintext, pair.public), pair.private_key) == plaintext
    assert pair.open(seal(plaintext, pair.public)) == plaintext


def test_a_hand_built_rfc9180_suite_opens_the_seal_to_the_exact_plaintext(
    pair: ServerKeyPair,
) -> None:
    plaintext = batch_plaintext()
    body = seal(plaintext, pair.public)
    suite = hpke.Suite(KEM_FOR[pair.kind], hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
    opened = suite.decrypt(body, pair.private_key, info=b"n2net/events/v1")
    assert opened == plaintext
    assert set(decode_batch(opened).model_dump(by_alias=True)) == {"schema", "events"}


def test_body_is_enc_then_ciphertext_with_tag(pair: ServerKeyPair) -> None:
    plaintext = batch_plaintext()
    body = seal(plaintext, pair.public)
    assert len(body) == KEM_FOR[pair.kind].enc_length() + len(plaintext) + 16


def test_every_seal_is_fresh(pair: ServerKeyPair) -> None:
    plaintext = batch_plaintext()
    assert seal(plaintext, pair.public) != seal(plaintext, pair.public)


def test_suite_follows_the_key_type(pair: ServerKeyPair) -> None:
    assert pair.public.kind == pair.kind
    assert isinstance(pair.public.suite, hpke.Suite)
    # The suite is the one a decrypt with the matching KEM accepts.
    body = pair.public.suite.encrypt(b"x", pair.public.public_key, info=HPKE_INFO)
    assert open_sealed(body, pair.private_key) == b"x"


# An independent RFC 9180 base-mode opener built from primitives: proves the
# body is plain RFC 9180 that any backend library can open, not a cryptography quirk.


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, b"HPKE-v1" + suite_id + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    labeled = struct.pack(">H", n) + b"HPKE-v1" + suite_id + label + info
    out, block, counter = b"", b"", 1
    while len(out) < n:
        block = hmac.new(prk, block + labeled + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:n]


def rfc9180_open_x25519(body: bytes, private: x25519.X25519PrivateKey, info: bytes) -> bytes:
    enc, ciphertext = body[:32], body[32:]
    kem_suite = b"KEM" + struct.pack(">H", 0x0020)
    dh = private.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    kem_context = enc + private.public_key().public_bytes_raw()
    eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem_suite, eae_prk, b"shared_secret", kem_context, 32)
    suite = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0001)
    psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(suite, shared, b"secret", b"")
    key = _labeled_expand(suite, secret, b"key", context, 16)
    nonce = _labeled_expand(suite, secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(nonce, ciphertext, b"")


def test_an_independent_rfc9180_implementation_opens_the_body() -> None:
    pair = ServerKeyPair.generate("x25519")
    assert isinstance(pair.private_key, x25519.X25519PrivateKey)
    plaintext = batch_plaintext()
    body = seal(plaintext, pair.public)
    assert rfc9180_open_x25519(body, pair.private_key, b"n2net/events/v1") == plaintext


# -- failures -----------------------------------------------------------------


def test_wrong_key_tampering_truncation_and_wrong_info_all_fail_cleanly(
    pair: ServerKeyPair,
) -> None:
    plaintext = batch_plaintext()
    body = seal(plaintext, pair.public)
    other = ServerKeyPair.generate(pair.kind)
    tampered = body[:-1] + bytes([body[-1] ^ 1])
    wrong_info = pair.public.suite.encrypt(plaintext, pair.public.public_key, info=b"other")
    for bad, key in [
        (body, other.private_key),
        (tampered, pair.private_key),
        (body[:40], pair.private_key),
        (b"", pair.private_key),
        (wrong_info, pair.private_key),
    ]:
        with pytest.raises(WireFormatError):
            open_sealed(bad, key)


def test_a_body_for_one_kind_does_not_open_with_the_other() -> None:
    classic = ServerKeyPair.generate("x25519")
    hybrid = ServerKeyPair.generate("mlkem768x25519")
    with pytest.raises(WireFormatError):
        open_sealed(seal(b"x" * 2000, classic.public), hybrid.private_key)
    with pytest.raises(WireFormatError):
        open_sealed(seal(b"x", hybrid.public), classic.private_key)


# -- key loading ----------------------------------------------------------------


def test_public_key_round_trips_through_raw_and_pem(pair: ServerKeyPair) -> None:
    for loaded in (
        ServerKey.from_raw("k1", pair.public_bytes),
        ServerKey.from_pem("k1", pair.public_pem()),
    ):
        assert loaded.key_id == "k1"
        assert loaded.kind == pair.kind
        assert open_sealed(seal(b"hello", loaded), pair.private_key) == b"hello"


def test_private_key_round_trips_through_raw(pair: ServerKeyPair) -> None:
    again = ServerKeyPair.from_private_raw(pair.key_id, pair.private_bytes)
    assert again.public_bytes == pair.public_bytes
    assert again.open(seal(b"hello", pair.public)) == b"hello"


def test_raw_sizes_are_documented() -> None:
    assert len(ServerKeyPair.generate("x25519").public_bytes) == 32
    hybrid = ServerKeyPair.generate("mlkem768x25519")
    assert len(hybrid.public_bytes) == 1216
    assert len(hybrid.private_bytes) == 96
    assert hybrid.public_pem().count(b"BEGIN PUBLIC KEY") == 2


def test_repr_never_shows_private_material(pair: ServerKeyPair) -> None:
    assert pair.private_bytes.hex() not in repr(pair)
    assert "private_key" not in repr(pair)


@pytest.mark.parametrize(
    ("load", "message"),
    [
        (lambda: ServerKey.from_raw("k1", b"\x01" * 31), "32 or 1216 bytes"),
        (lambda: ServerKey.from_raw("k1", b"\xff" * 1216), "invalid"),
        (lambda: ServerKey.from_pem("k1", b"not pem"), "PEM must hold"),
        (lambda: ServerKey.from_raw("bad id", b"\x01" * 32), "key_id"),
        (lambda: ServerKey.from_raw("", b"\x01" * 32), "key_id"),
        (lambda: ServerKeyPair.from_private_raw("k1", b"\x01" * 33), "32 or 96 bytes"),
        (lambda: ServerKeyPair.generate("rsa", key_id="k1"), "unknown key kind"),  # type: ignore[arg-type]
        (lambda: ServerKey("k1", "a key"), "X25519"),  # type: ignore[arg-type]
    ],
)
def test_bad_keys_are_configuration_errors(load: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load()  # type: ignore[operator]


def test_pem_with_hybrid_blocks_in_the_wrong_order_is_refused() -> None:
    pem = ServerKeyPair.generate("mlkem768x25519").public_pem()
    first, second = pem.split(b"-----END PUBLIC KEY-----\n")[:2]
    swapped = second + b"-----END PUBLIC KEY-----\n" + first + b"-----END PUBLIC KEY-----\n"
    with pytest.raises(ConfigurationError):
        ServerKey.from_pem("k1", swapped)


def test_the_backend_snippet_in_the_docs_opens_both_kinds() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "wire-format.md").read_text()
    (snippet,) = [b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "def open_body" in b]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    for kind in KINDS:
        pair = ServerKeyPair.generate(kind)
        opened = namespace["open_body"](seal(batch_plaintext(), pair.public), pair.private_bytes)
        assert opened == json.loads(batch_plaintext())
