"""Oblivious HTTP (RFC 9458): Appendix A byte for byte, both directions, and hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pyhpke", reason="the 'ohttp' extra (pyhpke) is not installed")

import contextlib

from cryptography.hazmat.primitives.asymmetric import x25519

from n2net_privacy import ohttp
from n2net_privacy.errors import WireFormatError

# RFC 9458 Appendix A, every value as printed there.
SECRET_KEY = bytes.fromhex("3c168975674b2fa8e465970b79c8dcf09f1c741626480bd4c6162fc5b6a98e1a")
KEY_CONFIG = bytes.fromhex(
    "01002031e1f05a740102115220e9af918f738674aec95f54db6e04eb705aae8e79815500080001000100010003"
)
BHTTP_REQUEST = bytes.fromhex("00034745540568747470730b6578616d706c652e636f6d012f")
EPHEMERAL_KEY = bytes.fromhex("bc51d5e930bda26589890ac7032f70ad12e4ecb37abb1b65b1256c9c48999c73")
EPHEMERAL_PUBLIC = bytes.fromhex("4b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad19dec96c208b472")
ENC_REQUEST = bytes.fromhex(
    "010020000100014b28f881333e7c164ffc499ad9796f877f4e1051ee6d31bad1"
    "9dec96c208b4726374e469135906992e1268c594d2a10c695d858c40a026e796"
    "5e7d86b83dd440b2c0185204b4d63525"
)
BHTTP_RESPONSE = bytes.fromhex("0140c8")
RESPONSE_NONCE = bytes.fromhex("c789e7151fcba46158ca84b04464910d")
ENC_RESPONSE = bytes.fromhex(
    "c789e7151fcba46158ca84b04464910d86f9013e404feea014e7be4a441f234f857fbd"
)


def appendix_gateway() -> ohttp.Gateway:
    return ohttp.Gateway(
        [(1, SECRET_KEY)], algorithms=ohttp.KeyConfig.decode(KEY_CONFIG).algorithms
    )


def test_key_config_decodes_and_encodes_byte_for_byte() -> None:
    cfg = ohttp.KeyConfig.decode(KEY_CONFIG)
    assert cfg.key_id == 1
    assert cfg.kem_id == ohttp.KEM_X25519_HKDF_SHA256
    assert [(a.kdf_id, a.aead_id) for a in cfg.algorithms] == [(1, 1), (1, 3)]
    assert cfg.encode() == KEY_CONFIG
    assert appendix_gateway().key_configs() == (cfg,)


def test_bhttp_messages_match_the_appendix() -> None:
    assert ohttp.bhttp.encode_request("GET", "https", "example.com", "/") == BHTTP_REQUEST
    assert ohttp.bhttp.encode_response(200) == BHTTP_RESPONSE


def test_request_encapsulation_with_the_pinned_ephemeral_key() -> None:
    cfg = ohttp.KeyConfig.decode(KEY_CONFIG)
    enc_request, _ = ohttp.encapsulate_request(cfg, BHTTP_REQUEST, ephemeral_key=EPHEMERAL_KEY)
    assert enc_request[7:39] == EPHEMERAL_PUBLIC
    assert enc_request == ENC_REQUEST


def test_gateway_decapsulation_with_the_pinned_secret_key() -> None:
    bhttp_request, responder = appendix_gateway().decapsulate(ENC_REQUEST)
    assert bhttp_request == BHTTP_REQUEST
    assert responder.key_id == 1


def test_response_encapsulation_with_the_pinned_nonce() -> None:
    _, responder = appendix_gateway().decapsulate(ENC_REQUEST)
    assert responder.encapsulate(BHTTP_RESPONSE, nonce=RESPONSE_NONCE) == ENC_RESPONSE


def test_client_opens_the_vector_response() -> None:
    cfg = ohttp.KeyConfig.decode(KEY_CONFIG)
    _, client = ohttp.encapsulate_request(cfg, BHTTP_REQUEST, ephemeral_key=EPHEMERAL_KEY)
    assert client.open_response(ENC_RESPONSE) == BHTTP_RESPONSE


def test_fresh_keys_round_trip_and_each_request_gets_a_new_ephemeral_key() -> None:
    gateway = ohttp.Gateway([(9, x25519.X25519PrivateKey.generate())])
    (cfg,) = ohttp.KeyConfig.decode_list(gateway.encoded_key_configs())
    first, client = ohttp.encapsulate_request(cfg, BHTTP_REQUEST)
    second, _ = ohttp.encapsulate_request(cfg, BHTTP_REQUEST)
    assert first[7:39] != second[7:39]
    request, responder = gateway.decapsulate(first)
    assert request == BHTTP_REQUEST
    reply = ohttp.bhttp.encode_response(202, content=b"accepted")
    assert client.open_response(responder.encapsulate(reply)) == reply


def test_a_response_for_another_request_does_not_open() -> None:
    gateway = ohttp.Gateway([(9, x25519.X25519PrivateKey.generate())])
    (cfg,) = gateway.key_configs()
    _enc_a, client_a = ohttp.encapsulate_request(cfg, BHTTP_REQUEST)
    enc_b, _ = ohttp.encapsulate_request(cfg, BHTTP_REQUEST)
    _, responder_b = gateway.decapsulate(enc_b)
    with pytest.raises(WireFormatError, match="failed authentication"):
        client_a.open_response(responder_b.encapsulate(BHTTP_RESPONSE))


def test_an_unknown_key_id_is_a_key_config_mismatch_not_a_crash() -> None:
    rotated = ohttp.Gateway([(2, x25519.X25519PrivateKey.generate())])
    with pytest.raises(ohttp.KeyConfigMismatchError, match="unknown key id 1") as caught:
        rotated.decapsulate(ENC_REQUEST)
    # Its own branch of the tree: Gravatar uses OHTTP too, so not an UploaderError.
    from n2net_privacy import errors

    assert isinstance(caught.value, errors.ObliviousHttpError)
    assert not isinstance(caught.value, errors.UploaderError)
    assert ohttp.KeyConfigMismatchError is errors.KeyConfigMismatchError


def test_a_tampered_request_fails_authentication() -> None:
    tampered = bytearray(ENC_REQUEST)
    tampered[-1] ^= 1
    with pytest.raises(WireFormatError, match="failed authentication"):
        appendix_gateway().decapsulate(bytes(tampered))


def test_key_config_list_skips_unknown_kems_and_refuses_an_empty_list() -> None:
    unknown = bytes([5]) + (0x9999).to_bytes(2, "big") + b"\x00" * 10
    listed = (
        len(unknown).to_bytes(2, "big") + unknown + len(KEY_CONFIG).to_bytes(2, "big") + KEY_CONFIG
    )
    assert [c.key_id for c in ohttp.KeyConfig.decode_list(listed)] == [1]
    with pytest.raises(WireFormatError, match="no usable key configuration"):
        ohttp.KeyConfig.decode_list(len(unknown).to_bytes(2, "big") + unknown)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (KEY_CONFIG[:20], "truncated public key"),
        (KEY_CONFIG + b"\x00", "1 bytes after"),
        (KEY_CONFIG[:35] + b"\x00\x03" + KEY_CONFIG[37:], "multiple of 4"),
        (KEY_CONFIG[:1] + b"\x99\x99" + KEY_CONFIG[3:], "unsupported KEM"),
    ],
)
def test_malformed_key_configs_name_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(WireFormatError, match=message):
        ohttp.KeyConfig.decode(raw)


@settings(max_examples=150)
@given(st.binary(max_size=200))
def test_hostile_bytes_raise_only_wire_format_or_key_mismatch_errors(data: bytes) -> None:
    gateway = appendix_gateway()
    cfg = ohttp.KeyConfig.decode(KEY_CONFIG)
    _, client = ohttp.encapsulate_request(cfg, BHTTP_REQUEST, ephemeral_key=EPHEMERAL_KEY)
    for decode in (
        ohttp.KeyConfig.decode,
        ohttp.KeyConfig.decode_list,
        gateway.decapsulate,
        client.open_response,
    ):
        with contextlib.suppress(WireFormatError, ohttp.KeyConfigMismatchError):
            decode(data)


@settings(max_examples=100)
@given(st.data())
def test_mutated_vector_requests_raise_only_wire_format_or_key_mismatch_errors(
    data: st.DataObject,
) -> None:
    raw = bytearray(ENC_REQUEST)
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    # A changed key id or algorithm is a mismatch (answered with the ohttp-key problem).
    with pytest.raises((WireFormatError, ohttp.KeyConfigMismatchError)):
        appendix_gateway().decapsulate(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
