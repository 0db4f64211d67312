"""vCard text to cards of content lines: vCard 2.1, 3.0 (RFC 2426) and 4.0 (RFC 6350).

Pure and lazy: :func:`iter_cards` yields one card at a time, so the caller
can check each card before the next is even read, and an error names the
first bad card. Nothing here decodes a value; :func:`decode_value` does,
for the properties the caller actually uses.

What real exports need, and is handled:

* line ends CRLF, LF, CR, and iOS 6's CR CR LF, mixed in one file;
* folding: a line starting with a space or tab continues the previous one
  (one whitespace character is removed, RFC 6350 §3.2);
* vCard 2.1 ``ENCODING=QUOTED-PRINTABLE`` values with soft line breaks
  (``=`` at the end of a line), decoded with their ``CHARSET``;
* vCard 2.1 ``BASE64`` values that run on, unindented, until a blank line;
* 2.1 bare parameters (``TEL;CELL;PREF``) read as ``TYPE`` values, bare
  ``BASE64`` / ``QUOTED-PRINTABLE`` as ``ENCODING``; quoted parameter values;
* groups (``item1.TEL``) and any letter case in names (``BEGIN:vCard``).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Defined in the one tree (an AddressBookError); importable here too.
from n2net_privacy.errors import VCardSyntaxError

__all__ = [
    "ContentLine",
    "RawCard",
    "VCardSyntaxError",
    "decode_value",
    "iter_cards",
]

_BREAK = re.compile(r"\r*\n|\r")
_NAME = re.compile(r"(?:([A-Za-z0-9-]+)\.)?([A-Za-z0-9-]+)")
_BASE64_CHUNK = re.compile(r"[A-Za-z0-9+/=]+")
_BAD_QP = re.compile(r"=(?![0-9A-Fa-f]{2})")
_ENCODINGS = frozenset({"BASE64", "B", "QUOTED-PRINTABLE", "8BIT", "7BIT"})


@dataclass(slots=True)
class ContentLine:
    """One unfolded property: ``[group.]NAME;params:value``, value still encoded."""

    line: int
    group: str | None
    name: str
    params: dict[str, list[str]]
    value: str

    @property
    def encoding(self) -> str | None:
        values = self.params.get("ENCODING")
        return values[0].upper() if values else None


@dataclass(slots=True)
class RawCard:
    """The content lines between one ``BEGIN:VCARD`` and its ``END:VCARD``."""

    index: int
    line: int
    lines: list[ContentLine] = field(default_factory=list)

    def first(self, name: str) -> ContentLine | None:
        return next((c for c in self.lines if c.name == name), None)


def _split_head(head: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in head:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _head_end(text: str) -> int:
    """Index of the ':' that ends the name and parameters (not one inside quotes)."""
    quoted = False
    for index, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            return index
    return -1


def _parse_line(text: str, number: int, card: int | None) -> ContentLine:
    colon = _head_end(text)
    if colon < 0:
        raise VCardSyntaxError("not a vCard content line", number, card)
    name, *raw_params = _split_head(text[:colon])
    match = _NAME.fullmatch(name.strip())
    if match is None:
        raise VCardSyntaxError("not a vCard content line", number, card)
    params: dict[str, list[str]] = {}
    for raw in raw_params:
        key, sep, value = raw.partition("=")
        key = key.strip().upper()
        if not sep:  # vCard 2.1: a bare value says its kind
            key, value = ("ENCODING" if key in _ENCODINGS else "TYPE"), key
        params.setdefault(key, []).append(value.strip().strip('"'))
    group = match.group(1)
    return ContentLine(number, group, match.group(2).upper(), params, text[colon + 1 :])


def _continues(current: ContentLine, physical: str) -> bool:
    """Whether ``physical`` (not folded) still belongs to ``current``'s value."""
    encoding = current.encoding
    if encoding == "QUOTED-PRINTABLE":
        return current.value.endswith("=")
    if encoding in ("BASE64", "B"):
        # vCard 2.1 writers let base64 run on, unindented, until a blank line.
        return bool(_BASE64_CHUNK.fullmatch(physical)) and ":" not in physical
    return False


def _logical_lines(text: str, card_of: list[int | None]) -> Iterator[ContentLine]:
    """Unfold physical lines; ``card_of[0]`` is the index of the open card, for errors."""
    current: ContentLine | None = None
    for number, physical in enumerate(_BREAK.split(text), 1):
        if current is not None:
            if current.encoding == "QUOTED-PRINTABLE" and current.value.endswith("="):
                current.value = current.value[:-1] + physical  # a soft line break
                continue
            if physical[:1] in (" ", "\t"):
                current.value += physical[1:]
                continue
            if physical and _continues(current, physical):
                current.value += physical
                continue
            yield current
            current = None
        if physical.strip():
            current = _parse_line(physical, number, card_of[0])
    if current is not None:
        yield current


def iter_cards(text: str) -> Iterator[RawCard]:
    """Yield each card as soon as its ``END:VCARD`` is read; raise at the first bad line."""
    card_of: list[int | None] = [None]
    card: RawCard | None = None
    count = 0
    for content in _logical_lines(text, card_of):
        value = content.value.strip().upper()
        if content.name == "BEGIN" and content.group is None:
            if card is not None:
                raise VCardSyntaxError(
                    "card is never closed (no END:VCARD)", card.line, card.index
                )
            if value != "VCARD":
                raise VCardSyntaxError("not a vCard component", content.line, count)
            card = RawCard(count, content.line)
            card_of[0] = count
        elif content.name == "END" and content.group is None:
            if card is None:
                raise VCardSyntaxError("END without a BEGIN", content.line)
            if value != "VCARD":
                raise VCardSyntaxError(
                    "END does not match the open BEGIN", content.line, card.index
                )
            yield card
            count += 1
            card, card_of[0] = None, None
        elif card is None:
            raise VCardSyntaxError("not a vCard content line", content.line)
        else:
            card.lines.append(content)
    if card is not None:
        raise VCardSyntaxError("card is never closed (no END:VCARD)", card.line, card.index)


def _unescape(value: str, version: str) -> str:
    if version == "2.1":
        return value.replace("\\;", ";")
    out, chars = [], iter(value)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append("\n" if nxt in ("n", "N") else nxt)
    return "".join(out)


def decode_value(content: ContentLine, version: str) -> str | bytes:
    """The value with its encoding undone: text (unescaped) or, for base64, bytes.

    Raises :class:`VCardSyntaxError` naming the line for bad base64, bad
    quoted-printable, an unknown ``CHARSET`` or bytes that are not in it.
    """
    encoding = content.encoding
    if encoding in ("BASE64", "B"):
        try:
            return base64.b64decode("".join(content.value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise VCardSyntaxError("value cannot be decoded (base64)", content.line) from None
    raw = content.value
    if encoding == "QUOTED-PRINTABLE":
        if _BAD_QP.search(raw):
            raise VCardSyntaxError(
                "value cannot be decoded (quoted-printable)", content.line
            )
        charset = (content.params.get("CHARSET") or ["UTF-8"])[0]
        try:
            codecs.lookup(charset)
        except LookupError:
            raise VCardSyntaxError("unknown CHARSET", content.line) from None
        try:
            raw = quopri.decodestring(raw.encode("utf-8")).decode(charset)
        except UnicodeDecodeError:
            raise VCardSyntaxError(
                "value is not valid text in its CHARSET", content.line
            ) from None
    return _unescape(raw, version)
