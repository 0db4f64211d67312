"""Undo the encodings a leak hides behind: percent, base64, hex, gzip. Pure, no I/O.

:func:`expand` turns one text into its *layers*: the text itself, its
percent-decoded form, and the text of every base64 or hex run in it, recursively a
few levels deep, each tagged with how it was reached. Detectors then look
for plain PII in every layer. Base64 runs are decoded at each of the four
possible start offsets (a run's start is often misjudged: ``/v1/ZW1h...``),
and a decoding is kept only when it reads as text, so random tokens and
hashes do not turn into garbage that might spell a short name.
"""

from __future__ import annotations

import binascii
import re
import zlib
from enum import StrEnum
from urllib.parse import unquote_plus

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "Encoding",
    "base64_texts",
    "decompress",
    "expand",
]

MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024
"""A gzip/deflate body inflates to at most this much; the rest is not inspected."""


class Encoding(StrEnum):
    """How a finding's value was written on the wire."""

    PLAIN = "plain"
    PERCENT = "percent-encoded"
    BASE64 = "base64"
    HEX = "hex"
    GZIP = "gzip"
    MD5 = "md5"
    SHA256 = "sha256"


# 8 characters (6 bytes) is the shortest run worth decoding: shorter runs are
# ordinary words far more often than hidden values.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEXISH = re.compile(r"[0-9a-fA-F-]+")
_TO_STANDARD = str.maketrans("-_", "+/")
_UNREADABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_MIN_TEXT = 4
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_MAX_UNREADABLE_SHARE = 0.1
_MAX_DEPTH = 3


def _readable(raw: bytes) -> str | None:
    """``raw`` as text when at least 90% of it reads as text; None for binary junk."""
    if len(raw) < _MIN_TEXT:
        return None
    allowed = _MAX_UNREADABLE_SHARE * len(raw)
    if raw.isascii():  # the common case, decided without decoding
        return raw.decode("ascii") if len(raw.translate(None, _TEXT_BYTES)) <= allowed else None
    text = raw.decode("utf-8", "replace")
    if text.count("\ufffd") > allowed:  # cheap rejection of binary junk
        return None
    _, unreadable = _UNREADABLE.subn("", text)
    return text if unreadable <= _MAX_UNREADABLE_SHARE * len(text) else None


def _decode_run(run: str) -> str | None:
    """Decode one base64 run, trying each start offset until one reads as text."""
    run = run.rstrip("=").translate(_TO_STANDARD)
    for offset in range(4):
        chunk = run[offset:]
        extra = len(chunk) % 4
        if extra == 1:  # a lone trailing character carries no whole byte
            chunk, extra = chunk[:-1], 0
        try:
            raw = binascii.a2b_base64(chunk + "=" * ((4 - extra) % 4))
        except binascii.Error:
            continue
        text = _readable(raw)
        if text is not None:
            return text
    return None


def _decode_hex(run: str) -> str | None:
    """Hex is what ``bytes.hex()`` leaks look like; ids and digests fail as junk."""
    digits = run.replace("-", "")
    if len(digits) < 2 * _MIN_TEXT:
        return None
    return _readable(bytes.fromhex(digits[: len(digits) - len(digits) % 2]))


def base64_texts(text: str) -> list[tuple[str, Encoding]]:
    """The readable decodings of every base64 (standard or URL-safe) or hex run."""
    found: list[tuple[str, Encoding]] = []
    for match in _BASE64_RUN.finditer(text):
        run = match.group()
        # A run of hex digits (a UUID, a digest) is read as hex, not as base64.
        if _HEXISH.fullmatch(run):
            decoded, how = _decode_hex(run), Encoding.HEX
        else:
            decoded, how = _decode_run(run), Encoding.BASE64
        if decoded is not None:
            found.append((decoded, how))
    return found


def _percent(text: str) -> str | None:
    if "%" not in text and "+" not in text:
        return None
    decoded = unquote_plus(text)
    return decoded if decoded != text else None


def expand(text: str) -> list[tuple[str, Encoding]]:
    """``text`` and every layer under it, each with the outermost encoding removed.

    >>> [e.value for _, e in expand("dj1hbm5AZXhhbXBsZS5jb20=")]
    ['plain', 'base64']
    """
    layers: list[tuple[str, Encoding, int]] = [(text, Encoding.PLAIN, 0)]
    index = 0
    # No cap on the number of layers: each is shorter than its parent and
    # depth is bounded, so the work stays linear in the text.
    while index < len(layers):
        layer, how, depth = layers[index]
        index += 1
        if depth >= _MAX_DEPTH:
            continue
        decoded = _percent(layer)
        if decoded is not None:
            layers.append((decoded, Encoding.PERCENT if how is Encoding.PLAIN else how, depth + 1))
        layers.extend((found, how, depth + 1) for found, how in base64_texts(layer))
    return [(layer, how) for layer, how, _ in layers]


def decompress(body: bytes, content_encoding: str | None = None) -> bytes | None:
    """Inflate a gzip, zlib or raw-deflate body; None when it is not compressed.

    The declared ``Content-Encoding`` is trusted first, the gzip magic number
    second, so an undeclared gzip body is inflated too. Output is capped at
    :data:`MAX_DECOMPRESSED_BYTES`, so a compression bomb costs nothing.
    """
    declared = (content_encoding or "").strip().lower()
    if body[:2] == b"\x1f\x8b" or declared in ("gzip", "x-gzip"):
        attempts: tuple[int, ...] = (zlib.MAX_WBITS | 16,)
    elif declared == "deflate":
        attempts = (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    else:
        return None
    for wbits in attempts:
        try:
            return zlib.decompressobj(wbits).decompress(body, MAX_DECOMPRESSED_BYTES)
        except zlib.error:
            continue
    return None
