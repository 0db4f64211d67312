"""Undo the encodings a leak hides behind, to a fixed point, within bounds. Pure, no I/O.

Text: :func:`expand` turns one text into its *layers*: the text itself and
every decoding under it (percent, base64 and base64url at any offset, padded
or not, line-wrapped, hex, quoted-printable, HTML entities, JSON string
escapes, punycode labels, and base64 that holds gzip or zlib), repeated on
each new layer until nothing new appears, each tagged with how it was
reached. Detectors then look for plain PII in every layer. A decoding is kept
only when it reads as text, so random tokens and hashes do not turn into
garbage that might spell a short name.

Bytes: :func:`unwrap_body` inflates gzip, zlib and deflate (declared or
sniffed by magic bytes, several times over) and reads the result as text by
BOM, declared charset or heuristic (UTF-8, UTF-16, UTF-32).

Bounds: at most :data:`MAX_DECOMPRESSED_BYTES` after decompression, a fixed
number of layers deep, a fixed multiple of the input in total. What does not
fit is reported back (``truncated``/``too_large``), never silently dropped:
the auditor turns it into an ``audit.not_inspected`` finding.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import html
import quopri
import re
import zlib
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote_plus

from n2net_privacy.audit.inflate import (
    MAX_DECOMPRESSED_BYTES,
    Inflated,
    decompress,
    inflate_all,
    inflate_once,
    is_zlib,
)

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "MAX_LAYERS_DEEP",
    "Encoding",
    "Layers",
    "UnwrappedBody",
    "base64_texts",
    "decompress",
    "expand",
    "expand_checked",
    "text_of",
    "unwrap_body",
]



class Encoding(StrEnum):
    """How a finding's value was written on the wire."""

    PLAIN = "plain"
    PERCENT = "percent-encoded"
    BASE64 = "base64"
    HEX = "hex"
    GZIP = "gzip"
    QUOTED_PRINTABLE = "quoted-printable"
    HTML_ENTITIES = "html-entities"
    JSON_ESCAPES = "json-escapes"
    PUNYCODE = "punycode"
    UTF16 = "utf-16"
    UTF32 = "utf-32"
    MD5 = "md5"
    SHA1 = "sha1"
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
MAX_LAYERS_DEEP = 8
"""Decodings inside decodings followed at most this deep; deeper is ``truncated``."""
_MAX_TOTAL_FACTOR = 8  # all layers of a text together: at most 8x the text (+64 KiB)
_MAX_TOTAL_EXTRA = 64 * 1024


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


_CACHED_RUN = 256  # only short runs are cached: a cache of long ones would hold megabytes


def _decode_run(run: str) -> str | None:
    """Decode one base64 run, trying each start offset until one reads as text."""
    return _decode_short_run(run) if len(run) <= _CACHED_RUN else _decode_any_run(run)


def _decode_any_run(run: str) -> str | None:
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
        if raw[:2] == b"\x1f\x8b" or is_zlib(raw):  # base64 of gzip (inside JSON, say)
            inflated = inflate_all(raw, "").data
            raw = inflated if inflated is not None else raw
        text = _readable(raw)
        del raw
        if text is not None:
            return text
    return None


# Header names and common tokens repeat request after request.
_decode_short_run = functools.lru_cache(maxsize=4096)(_decode_any_run)


def _decode_hex(run: str) -> str | None:
    """Hex is what ``bytes.hex()`` leaks look like; ids and digests fail as junk."""
    return _decode_short_hex(run) if len(run) <= _CACHED_RUN else _decode_any_hex(run)


def _decode_any_hex(run: str) -> str | None:
    digits = run.replace("-", "")
    if len(digits) < 2 * _MIN_TEXT:
        return None
    return _readable(bytes.fromhex(digits[: len(digits) - len(digits) % 2]))


_decode_short_hex = functools.lru_cache(maxsize=4096)(_decode_any_hex)


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


_WRAPPED_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{16,}={0,2}[ \t]*\r?\n)+[A-Za-z0-9+/]*={0,2}")
_QP = re.compile(r"=(?:[0-9A-F]{2}|\r?\n)")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_JSON_ESCAPE = re.compile(r'\\(?:u[0-9a-fA-F]{4}|["\\/bfnrt])')
_PUNY_LABEL = re.compile(r"xn--[a-z0-9-]+", re.IGNORECASE)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
                   "r": "\r", "t": "\t"}


def _unwrapped_base64(text: str) -> list[str]:
    """MIME-style base64 wrapped at 76 (or 64) characters, joined and decoded."""
    if "\n" not in text:
        return []
    found = []
    for match in _WRAPPED_BASE64.finditer(text):
        joined = re.sub(r"\s+", "", match.group())
        decoded = _decode_run(joined)
        if decoded is not None:
            found.append(decoded)
    return found


def _quoted_printable(text: str) -> str | None:
    if "=" not in text or len(_QP.findall(text)) < 2:  # one "=20" is a query, not QP
        return None
    raw = quopri.decodestring(text.encode("utf-8", "surrogateescape"))
    decoded = raw.decode("utf-8", "replace")
    return decoded if decoded != text else None


def _entities(text: str) -> str | None:
    if "&" not in text or not _ENTITY.search(text):
        return None
    decoded = html.unescape(text)
    return decoded if decoded != text else None


def _json_escapes(text: str) -> str | None:
    if "\\" not in text or not _JSON_ESCAPE.search(text):
        return None

    def one(match: re.Match[str]) -> str:
        escape = match.group()[1:]
        if escape[0] == "u":
            return chr(int(escape[1:], 16))
        return _SIMPLE_ESCAPES[escape]

    decoded = _JSON_ESCAPE.sub(one, text)
    # Join UTF-16 surrogate pairs (\ud83d\ude00) into one character.
    decoded = decoded.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return decoded if decoded != text else None


def _punycode(text: str) -> str | None:
    if "xn--" not in text.lower():
        return None

    def one(match: re.Match[str]) -> str:
        label = match.group()
        try:
            return str(codecs.decode(label[4:].lower().encode("ascii"), "punycode"))
        except (UnicodeError, ValueError):
            return label

    decoded = _PUNY_LABEL.sub(one, text)
    return decoded if decoded != text else None


_DECODERS = (
    (_quoted_printable, Encoding.QUOTED_PRINTABLE),
    (_entities, Encoding.HTML_ENTITIES),
    (_json_escapes, Encoding.JSON_ESCAPES),
    (_punycode, Encoding.PUNYCODE),
)


@dataclass(frozen=True, slots=True)
class Layers:
    """What :func:`expand_checked` found; ``truncated`` when a bound cut the search short."""

    layers: tuple[tuple[str, Encoding], ...]
    truncated: bool


def expand_checked(text: str) -> Layers:
    """``text`` and every distinct layer under it, to a fixed point within the bounds.

    Each layer is tagged with the outermost encoding removed to reach it.
    """
    layers: list[tuple[str, Encoding, int]] = [(text, Encoding.PLAIN, 0)]
    seen = {text}
    budget = _MAX_TOTAL_FACTOR * len(text) + _MAX_TOTAL_EXTRA
    truncated = False
    index = 0
    while index < len(layers):
        layer, how, depth = layers[index]
        index += 1
        found: list[tuple[str, Encoding]] = []
        decoded = _percent(layer)
        if decoded is not None:
            found.append((decoded, Encoding.PERCENT))
        found.extend(base64_texts(layer))
        found.extend((text, Encoding.BASE64) for text in _unwrapped_base64(layer))
        for decoder, encoding in _DECODERS:
            decoded = decoder(layer)
            if decoded is not None:
                found.append((decoded, encoding))
        for new, encoding in found:
            if new in seen:
                continue
            if depth + 1 > MAX_LAYERS_DEEP or budget < len(new):
                truncated = True
                continue
            seen.add(new)
            budget -= len(new)
            layers.append((new, encoding if how is Encoding.PLAIN else how, depth + 1))
    return Layers(tuple((layer, how) for layer, how, _ in layers), truncated)


def expand(text: str) -> list[tuple[str, Encoding]]:
    """``text`` and every layer under it (see :func:`expand_checked`).

    >>> [e.value for _, e in expand("dj1hbm5AZXhhbXBsZS5jb20=")]
    ['plain', 'base64']
    """
    return list(expand_checked(text).layers)


# --- bytes: decompression and character sets -----------------------------------


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", Encoding.UTF32),
    (codecs.BOM_UTF32_BE, "utf-32-be", Encoding.UTF32),
    (codecs.BOM_UTF8, "utf-8", None),
    (codecs.BOM_UTF16_LE, "utf-16-le", Encoding.UTF16),
    (codecs.BOM_UTF16_BE, "utf-16-be", Encoding.UTF16),
)


def _guess_wide(data: bytes) -> tuple[str, Encoding] | None:
    """UTF-16/32 without a BOM: ASCII text in them has NULs at fixed positions."""
    sample = data[:4096]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return None
    quads = len(sample) // 4
    if quads and all(sample[4 * i + 1: 4 * i + 4] == b"\0\0\0" for i in range(min(quads, 8))):
        return "utf-32-le", Encoding.UTF32
    if quads and all(sample[4 * i: 4 * i + 3] == b"\0\0\0" for i in range(min(quads, 8))):
        return "utf-32-be", Encoding.UTF32
    odd = sample[1::2].count(0)
    even = sample[0::2].count(0)
    if odd > len(sample) // 4:
        return "utf-16-le", Encoding.UTF16
    if even > len(sample) // 4:
        return "utf-16-be", Encoding.UTF16
    return None


def text_of(data: bytes, charset: str | None = None) -> tuple[str, Encoding | None]:
    """Bytes as text: by BOM, by the declared charset, by heuristic, else UTF-8/Latin-1."""
    for bom, codec, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(codec, "replace"), encoding
    declared = (charset or "").strip().strip('"').lower()
    if declared.startswith(("utf-16", "utf-32")):
        try:
            encoding = Encoding.UTF16 if "16" in declared else Encoding.UTF32
            return data.decode(declared), encoding
        except (LookupError, UnicodeDecodeError):
            pass
    wide = _guess_wide(data) if b"\0" in data[:4096] else None
    if wide is not None:
        return data.decode(wide[0], "replace"), wide[1]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), None


@dataclass(frozen=True, slots=True)
class UnwrappedBody:
    """A body as text: ``encoding`` names the outermost wrapper undone (gzip, UTF-16)."""

    text: str
    encoding: Encoding | None
    too_large: bool = False
    unsupported: str | None = None
    """A declared Content-Encoding this module cannot undo (``br``, ``zstd``)."""


def unwrap_body(
    body: bytes, content_encoding: str | None = None, charset: str | None = None
) -> UnwrappedBody:
    """Inflate every compression layer (declared or sniffed), then read as text."""
    inflated = inflate_all(body, content_encoding or "")
    data = inflated.data if inflated.data is not None else body
    if inflated.data is None and not _readable(data[:512]) and len(data) <= MAX_DECOMPRESSED_BYTES:
        # Binary and not announced: try raw deflate, kept only when it reads as text.
        raw = inflate_once(data, -zlib.MAX_WBITS)
        if raw is not None and _readable(raw[0][:512]):
            inflated, data = Inflated(raw[0], 1, raw[1]), raw[0]
    text, charset_encoding = text_of(data, charset)
    encoding = Encoding.GZIP if inflated.rounds else charset_encoding
    unknown = [c.strip().lower() for c in (content_encoding or "").split(",")
               if c.strip().lower() not in _KNOWN_CODINGS]
    return UnwrappedBody(text, encoding, inflated.too_large, ", ".join(unknown) or None)


_KNOWN_CODINGS = frozenset({"", "gzip", "x-gzip", "deflate", "identity"})
