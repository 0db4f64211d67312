"""The fixed wire vectors open with the SDK, with pyhpke, and with an independent key schedule.

The independent RFC 9180 key schedule below (HMAC-SHA256 from the standard
library, AES-GCM) is what pins the suite ids: a body sealed under any other
KEM id than the one the vector and docs/wire-format.md state would not open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from n2net_privacy.errors import ConfigurationError, WireFormatError
from n2net_privacy.testing import IngestServer
from n2net_privacy.testing.vectors import VECTOR_NAMES, WireVector, load_vector, vector_text
from n2net_privacy.uploader.wire import (
    CONTENT_TYPE,
    EVENTS_PATH,
    HPKE_INFO,
    decode_batch,
    encode_batch,
    open_sealed,
    seal,
)

ROOT = Path(__file__).resolve().parent.parent
XWING_LABEL = b"\\.//^\\"  # draft-connolly-cfrg-xwing-kem: the 6 bytes \.//^\


@pytest.fixture(params=VECTOR_NAMES)
def vector(request: pytest.FixtureRequest) -> WireVector:
    return load_vector(request.param)


# -- an independent RFC 9180 base-mode opener (HKDF-SHA256, AES-128-GCM) -----


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out, counter = out + block, counter + 1
    return out[:length]


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    return _expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite_id + label + info, n)


def _shared_secret(v: WireVector) -> bytes:
    if v.kem_id == 0x0020:  # DHKEM(X25519, HKDF-SHA256), RFC 9180 §4.1
        private = x25519.X25519PrivateKey.from_private_bytes(v.server_private_key)
        dh = private.exchange(x25519.X25519PublicKey.from_public_bytes(v.enc))
        kem_suite = b"KEM" + struct.pack(">H", v.kem_id)
        prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
        context = v.enc + v.server_public_key
        return _labeled_expand(kem_suite, prk, b"shared_secret", context, 32)
    # X-Wing: SHA3-256(ss_M || ss_X || ct_X || pk_X || label), used as is by HPKE.
    pq = mlkem.MLKEM768PrivateKey.from_seed_bytes(v.server_private_key[:64])
    classic = x25519.X25519PrivateKey.from_private_bytes(v.server_private_key[64:])
    ct_m, ct_x = v.enc[:1088], v.enc[1088:]
    ss_m = pq.decapsulate(ct_m)
    ss_x = classic.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    pk_x = classic.public_key().public_bytes_raw()
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def _key_schedule(v: WireVector, shared_secret: bytes, kem_id: int) -> tuple[bytes, bytes]:
    suite_id = b"HPKE" + struct.pack(">HHH", kem_id, v.kdf_id, v.aead_id)
    context = (
        bytes([v.mode])
        + _labeled_extract(suite_id, b"", b"psk_id_hash", b"")
        + _labeled_extract(suite_id, b"", b"info_hash", v.info)
    )
    secret = _labeled_extract(suite_id, shared_secret, b"secret", b"")
    return (
        _labeled_expand(suite_id, secret, b"key", context, 16),
        _labeled_expand(suite_id, secret, b"base_nonce", context, 12),
    )


# -- the vectors --------------------------------------------------------------


def test_the_sdk_opens_every_vector_to_its_canonical_plaintext(vector: WireVector) -> None:
    assert vector.open() == vector.plaintext
    assert open_sealed(vector.sealed_body, vector.server_key_pair().private_key) == (
        vector.plaintext
    )
    # The plaintext is canonical v1: decoding and encoding again gives the same bytes.
    assert encode_batch(decode_batch(vector.plaintext)) == vector.plaintext
    assert vector.sealed_body == vector.enc + vector.ciphertext


def test_the_suite_fields_are_the_ones_the_sdk_uses(vector: WireVector) -> None:
    pair = vector.server_key_pair()
    assert (vector.mode, vector.kdf_id, vector.aead_id, vector.aad) == (0, 0x0001, 0x0001, b"")
    assert vector.info == HPKE_INFO
    assert vector.kem_id == {"x25519": 0x0020, "mlkem768x25519": 0x647A}[pair.kind]
    assert len(vector.enc) == {"x25519": 32, "mlkem768x25519": 1120}[pair.kind]
    assert pair.public_bytes == vector.server_public_key
    assert pair.public_pem() == vector.server_public_key_pem
    # The PEM is the app's key for this server: what it seals, the server opens.
    assert open_sealed(seal(b"probe", vector.server_key()), pair.private_key) == b"probe"
    assert vector.headers == {
        "Content-Type": CONTENT_TYPE,
        "Idempotency-Key": vector.headers["Idempotency-Key"],
        "N2Net-Key-Id": vector.key_id,
    }


def test_an_independent_key_schedule_opens_every_vector(vector: WireVector) -> None:
    shared_secret = _shared_secret(vector)
    assert shared_secret == vector.shared_secret
    key, base_nonce = _key_schedule(vector, shared_secret, vector.kem_id)
    assert (key, base_nonce) == (vector.key, vector.base_nonce)
    assert AESGCM(key).decrypt(base_nonce, vector.ciphertext, vector.aad) == vector.plaintext


def test_the_hybrid_codepoint_is_0x647a_and_no_other() -> None:
    """The KEM id is bound into the key schedule: only 0x647A opens the hybrid body."""
    v = load_vector("mlkem768-x25519")
    shared_secret = _shared_secret(v)
    for other in (0x0030, 0x0041, 0x0050, 0x0051, 0x647B):
        key, nonce = _key_schedule(v, shared_secret, other)
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(nonce, v.ciphertext, b"")
    key, nonce = _key_schedule(v, shared_secret, 0x647A)
    assert AESGCM(key).decrypt(nonce, v.ciphertext, b"") == v.plaintext


def test_pyhpke_opens_the_x25519_vector_and_reseals_it_byte_for_byte() -> None:
    pyhpke = pytest.importorskip("pyhpke", reason="pyhpke comes with the 'ohttp' extra")
    v = load_vector("x25519")
    suite = pyhpke.CipherSuite.new(
        pyhpke.KEMId(v.kem_id), pyhpke.KDFId(v.kdf_id), pyhpke.AEADId(v.aead_id)
    )
    private = suite.kem.deserialize_private_key(v.server_private_key)
    recipient = suite.create_recipient_context(v.enc, private, info=v.info)
    assert recipient.open(v.ciphertext, aad=v.aad) == v.plaintext

    assert v.ephemeral_private_key is not None
    ephemeral = x25519.X25519PrivateKey.from_private_bytes(v.ephemeral_private_key)
    eks = pyhpke.KEMKeyPair(
        pyhpke.KEMKey.from_pyca_cryptography_key(ephemeral),
        pyhpke.KEMKey.from_pyca_cryptography_key(ephemeral.public_key()),
    )
    public = suite.kem.deserialize_public_key(v.server_public_key)
    enc, sender = suite.create_sender_context(public, info=v.info, eks=eks)
    assert enc + sender.seal(v.plaintext, aad=v.aad) == v.sealed_body


def test_pyhpke_opens_a_fresh_sdk_seal_too() -> None:
    pyhpke = pytest.importorskip("pyhpke", reason="pyhpke comes with the 'ohttp' extra")
    v = load_vector("x25519")
    body = seal(v.plaintext, v.server_key())
    suite = pyhpke.CipherSuite.new(
        pyhpke.KEMId.DHKEM_X25519_HKDF_SHA256, pyhpke.KDFId.HKDF_SHA256,
        pyhpke.AEADId.AES128_GCM,
    )
    private = suite.kem.deserialize_private_key(v.server_private_key)
    recipient = suite.create_recipient_context(body[:32], private, info=HPKE_INFO)
    assert recipient.open(body[32:]) == v.plaintext


def test_an_altered_body_does_not_open(vector: WireVector) -> None:
    altered = bytearray(vector.sealed_body)
    altered[-1] ^= 0x01
    with pytest.raises(WireFormatError, match="cannot be opened"):
        open_sealed(bytes(altered), vector.server_key_pair().private_key)


def test_the_reference_server_accepts_each_vector_as_sent(vector: WireVector) -> None:
    """The body and headers replayed as a device sends them: stored, both events."""
    with IngestServer(vector.server_key_pair(), app_key="app-key-1") as server, httpx.Client(
        timeout=5
    ) as client:
        response = client.post(
            server.url + EVENTS_PATH,
            content=vector.sealed_body,
            headers={**vector.headers, "Authorization": "Bearer app-key-1"},
        )
        assert response.status_code == 200, response.text
        ids = [event["id"] for event in json.loads(vector.plaintext)["events"]]
        assert response.json() == {"accepted": ids, "duplicates": []}
        assert [str(event.id) for event in server.events()] == ids


def test_the_vectors_ship_in_the_package_and_wheel() -> None:
    for name in VECTOR_NAMES:
        shipped = ROOT / "n2net_privacy" / "testing" / "vectors" / f"{name}.json"
        assert vector_text(name) == shipped.read_text(encoding="utf-8")
    with pytest.raises(ConfigurationError, match="expected one of: x25519, mlkem768-x25519"):
        vector_text("../x25519")  # type: ignore[arg-type]
    # Hatch puts every file under the package directory in the wheel, unless excluded.
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
        "targets"
    ]["wheel"]
    assert wheel["packages"] == ["n2net_privacy"]
    assert "exclude" not in wheel and "only-include" not in wheel


def test_the_idempotency_keys_are_uuids(vector: WireVector) -> None:
    assert str(uuid.UUID(vector.headers["Idempotency-Key"])) == vector.headers["Idempotency-Key"]


def test_docs_wire_format_prints_the_shipped_vectors() -> None:
    """docs/wire-format.md shows the same bytes as the package files (hex wrapped there)."""
    page = "".join((ROOT / "docs" / "wire-format.md").read_text(encoding="utf-8").split())
    shown = {
        "x25519": ("server_private_key", "server_public_key", "ephemeral_private_key",
                   "shared_secret", "key", "base_nonce", "enc", "ciphertext", "sealed_body"),
        "mlkem768-x25519": ("server_private_key", "shared_secret", "key", "base_nonce", "enc",
                            "ciphertext"),
    }
    for name, fields in shown.items():
        v = load_vector(name)  # type: ignore[arg-type]
        assert f"N2Net-Key-Id{v.key_id}Idempotency-Key{v.headers['Idempotency-Key']}" in page
        assert v.plaintext.decode("utf-8") in page
        for field_name in fields:
            value = getattr(v, field_name)
            assert f"{field_name}{value.hex()}" in page, (name, field_name)
    assert "0x647A" in page and "draft-connolly-cfrg-xwing-kem" in page
