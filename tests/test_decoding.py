"""Undoing percent, base64 and gzip: every layer a leak can hide behind."""

from __future__ import annotations

import base64
import gzip
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from n2net_privacy.audit.decoding import (
    MAX_DECOMPRESSED_BYTES,
    MAX_LAYERS_DEEP,
    Encoding,
    base64_texts,
    decompress,
    expand,
    expand_checked,
    text_of,
    unwrap_body,
)


def layers(text: str) -> list[tuple[str, Encoding]]:
    return expand(text)


def test_plain_text_is_its_only_layer() -> None:
    assert layers("hello world") == [("hello world", Encoding.PLAIN)]


def test_percent_and_plus_are_decoded_once_per_level() -> None:
    assert layers("a%2540b+c") == [
        ("a%2540b+c", Encoding.PLAIN),
        ("a%40b c", Encoding.PERCENT),
        ("a@b c", Encoding.PERCENT),
    ]


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(b"v=ann@example.com").decode(),
        base64.b64encode(b"v=ann@example.com").decode().rstrip("="),
        base64.urlsafe_b64encode(b"??>ann@example.com").decode(),
        "v1/" + base64.b64encode(b"v=ann@example.com").decode(),  # misjudged start
        "ab" + base64.b64encode(b"v=ann@example.com").decode() + "/x",  # junk around it
    ],
)
def test_base64_runs_are_decoded_whatever_the_alphabet_padding_and_offset(encoded: str) -> None:
    assert any("ann@example.com" in text for text, _ in base64_texts(encoded))


def test_hex_runs_are_read_as_hex_and_ids_and_digests_are_not_text() -> None:
    leaked = b"v=ann@example.com".hex()
    assert base64_texts(f"x={leaked}") == [("v=ann@example.com", Encoding.HEX)]
    assert base64_texts(leaked.upper()) == [("v=ann@example.com", Encoding.HEX)]
    assert base64_texts("123e4567-e89b-42d3-a456-426614174000") == []
    assert base64_texts("0bc83cb571cd1c50ba6f3e8a78ef1346") == []


def test_nested_encodings_are_unwrapped() -> None:
    inner = base64.b64encode(b"secret=ann@example.com").decode()
    outer = base64.b64encode(f"t={inner}".encode()).decode().replace("+", "%2B")
    assert any("ann@example.com" in text for text, _ in layers(outer))


def test_random_tokens_do_not_decode_to_text() -> None:
    rng = random.Random(1)
    tokens = [base64.b64encode(rng.randbytes(30)).decode() for _ in range(200)]
    assert [t for t in tokens if base64_texts(t)] == []


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F,
                                     exclude_categories=("Cc", "Cs")), min_size=6),
       st.booleans(), st.booleans())
def test_any_readable_text_survives_base64(text: str, urlsafe: bool, pad: bool) -> None:
    encoder = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encoder(text.encode()).decode()
    if not pad:
        encoded = encoded.rstrip("=")
    assert (text, Encoding.BASE64) in base64_texts(encoded) or (
        text, Encoding.HEX) in base64_texts(encoded)


@pytest.mark.parametrize(
    ("body", "declared"),
    [
        (gzip.compress(b"payload"), "gzip"),
        (gzip.compress(b"payload"), None),  # undeclared, found by its magic number
        (zlib.compress(b"payload"), "deflate"),
        (zlib.compress(b"payload")[2:-4], "deflate"),  # raw deflate, as some servers send
    ],
)
def test_decompress(body: bytes, declared: str | None) -> None:
    assert decompress(body, declared) == b"payload"


def test_decompress_leaves_other_bodies_alone_and_caps_bombs() -> None:
    assert decompress(b"plain", None) is None
    assert decompress(b"not gzip", "gzip") is None
    bomb = gzip.compress(b"\0" * (MAX_DECOMPRESSED_BYTES + 1000))
    out = decompress(bomb, "gzip")
    assert out is not None and len(out) == MAX_DECOMPRESSED_BYTES


# --- the decoders added for the red-team's tricks ----------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("note=ann=40example=2Ecom=\r\n", Encoding.QUOTED_PRINTABLE),
        ("ann&#64;example&period;com", Encoding.HTML_ENTITIES),
        ('{"e":"ann\\u0040example.com"}', Encoding.JSON_ESCAPES),
        ("ann@xn--bcher-kva.example", Encoding.PUNYCODE),
    ],
)
def test_text_decoders(text: str, encoding: Encoding) -> None:
    layers = expand(text)
    assert any(how is encoding and ("ann@example.com" in layer or "bücher" in layer)
               for layer, how in layers), layers


def test_wrapped_base64_and_base64_of_gzip() -> None:
    wrapped = base64.encodebytes(b"x" * 60 + b" ann@example.com " + b"y" * 60).decode()
    assert "\n" in wrapped.strip()
    assert any("ann@example.com" in layer for layer, _ in expand(wrapped))
    packed = base64.b64encode(gzip.compress(b"to ann@example.com", mtime=0)).decode()
    assert ("to ann@example.com", Encoding.BASE64) in expand(f'{{"blob": "{packed}"}}')


def test_layers_stop_at_the_depth_bound_and_say_so() -> None:
    text = "ann@example.com"
    for _ in range(MAX_LAYERS_DEEP + 2):
        text = base64.b64encode(text.encode()).decode()
    found = expand_checked(text)
    assert found.truncated
    assert not any("ann@example.com" in layer for layer, _ in found.layers)
    assert not expand_checked("plain words").truncated


@pytest.mark.parametrize(
    "body",
    [
        gzip.compress(gzip.compress(b"payload", mtime=0), mtime=0),
        zlib.compress(b"payload"),
        zlib.compress(b"payload")[2:-4],  # raw deflate, undeclared
    ],
    ids=["gzip-twice", "undeclared-zlib", "undeclared-raw-deflate"],
)
def test_unwrap_body_undoes_compression_declared_or_not(body: bytes) -> None:
    unwrapped = unwrap_body(body)
    assert unwrapped.text == "payload" and unwrapped.encoding is Encoding.GZIP


def test_unwrap_body_flags_a_body_too_large_and_an_unknown_encoding() -> None:
    bomb = gzip.compress(b" " * (MAX_DECOMPRESSED_BYTES + 1), mtime=0)
    assert unwrap_body(bomb, "gzip").too_large
    assert unwrap_body(b"\x8b\x05", "br").unsupported == "br"
    assert unwrap_body(b"plain", "identity").unsupported is None


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("\ufeff{}".encode(), None),
        ('{"a": "b"}'.encode("utf-16"), Encoding.UTF16),
        ('{"a": "b"}'.encode("utf-16-le"), Encoding.UTF16),
        ('{"a": "b"}'.encode("utf-16-be"), Encoding.UTF16),
        ('{"a": "b"}'.encode("utf-32"), Encoding.UTF32),
        ('{"a": "b"}'.encode("utf-32-le"), Encoding.UTF32),
    ],
)
def test_text_of_reads_boms_and_wide_text(data: bytes, encoding: Encoding | None) -> None:
    text, how = text_of(data)
    assert text.lstrip("\ufeff") in ("{}", '{"a": "b"}') and how is encoding
