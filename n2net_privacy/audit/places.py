"""Take an outgoing request apart into the places a value can hide. Pure, no I/O.

Each :class:`Field` is one place (the method, the host, the path, a query
parameter, a header, a JSON leaf or key, a form field, a multipart part, the
body as text) and its text. Keys are kept raw in :attr:`Field.keys`: a key can
itself be the leaked value, so the auditor labels a place only after checking
its keys. A body is inflated and read as text first
(:func:`~n2net_privacy.audit.decoding.unwrap_body`); JSON inside JSON strings
is parsed too. A body over :data:`MAX_STRUCTURED_CHARS` (1 MiB) is not parsed
but kept as one text field, ``body``, which the detectors search in windows:
parsing would cost many times its size. What cannot be inspected fully (too
large, too deep) becomes a field with a :attr:`Field.note`, which the auditor
reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from n2net_privacy.audit.decoding import MAX_DECOMPRESSED_BYTES, Encoding, unwrap_body
from n2net_privacy.egress.policy import OutgoingRequest

__all__ = [
    "MAX_STRUCTURED_CHARS",
    "Field",
    "body_fields",
    "header",
    "json_fields",
    "media_type",
    "request_fields",
]

_MAX_KEY_LABEL = 40
MAX_JSON_DEPTH = 64
"""JSON nested deeper than this (or JSON in JSON strings more than 4 levels) is not inspected."""
_MAX_EMBEDDED = 4
_MAX_PARTS = 64
_HEAD_CHARS = 1024 * 1024
MAX_STRUCTURED_CHARS = 1024 * 1024
"""A body longer than this (after decompression) is searched as text, not parsed.

Its findings name the place ``body``, not a JSON path or a form field.
"""


@dataclass(frozen=True, slots=True)
class Field:
    """One place in a request and the text found there.

    ``area`` is ``"url.host"``, ``"url.path"``, ``"query"``, ``"header"``,
    ``"body"``, ``"body:form"`` or ``"sealed"``; ``keys`` locate the place
    inside it (a parameter name, a JSON path of keys and indexes);
    ``encoding`` is set when the whole area was compressed on the wire.
    """

    area: str
    keys: tuple[str | int, ...]
    text: str
    encoding: Encoding | None = None
    note: str | None = None
    """Set when this place could not be inspected fully, and why (never PII)."""
    whole: bool = False
    """The body's values joined: read only for what no single value shows."""

    def place(self, is_safe: Callable[[str], bool]) -> str:
        """The place's name; a key that ``is_safe`` rejects is shown as ``[redacted]``."""
        if self.area in ("query", "header", "body:form", "body:part"):
            return f"{self.area}:{_label(self.keys[0], is_safe)}"
        if self.area in ("body", "sealed") and self.keys:
            path = "".join(
                f"[{key}]" if isinstance(key, int) else f".{_label(key, is_safe)}"
                for key in self.keys
            )
            if not is_safe(path):
                # Keys safe one by one can spell PII together ({"215": {"555": ...}}).
                path = "".join(
                    f"[{key}]" if isinstance(key, int) else ".[redacted]" for key in self.keys
                )
            return f"{self.area}:${path}"
        return self.area


def _label(key: str | int, is_safe: Callable[[str], bool]) -> str:
    text = str(key)
    printable = "".join(ch for ch in text if ch.isprintable())[:_MAX_KEY_LABEL]
    return printable if printable and is_safe(text) else "[redacted]"


def header(request: OutgoingRequest, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in request.headers:
        if key.lower() == wanted:
            return value
    return None


def media_type(request: OutgoingRequest) -> str:
    """The request's media type, lower-case, without parameters."""
    return (header(request, "content-type") or "").split(";", 1)[0].strip().lower()


def _pairs(raw: str, area: str, encoding: Encoding | None = None) -> Iterator[Field]:
    for pair in raw.split("&"):
        if pair:
            # The raw pair is the text, so percent-encoding is seen (and reported) as such.
            yield Field(area, (unquote_plus(pair.partition("=")[0]),), pair, encoding)


class _TooDeep(Exception):
    pass


def json_fields(
    value: object, area: str, keys: tuple[str | int, ...] = (), encoding: Encoding | None = None,
    *, _depth: int = 0, _embedded: int = 0,
) -> Iterator[Field]:
    """Every key and every string or number leaf of a parsed JSON document.

    A string that holds JSON itself is parsed and walked too (same path).
    Raises ``_TooDeep`` past :data:`MAX_JSON_DEPTH`.
    """
    if _depth > MAX_JSON_DEPTH:
        raise _TooDeep
    if isinstance(value, dict):
        for key, item in value.items():
            path = (*keys, str(key))
            yield Field(area, path, str(key), encoding)
            yield from json_fields(item, area, path, encoding, _depth=_depth + 1,
                                   _embedded=_embedded)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_fields(item, area, (*keys, index), encoding, _depth=_depth + 1,
                                   _embedded=_embedded)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        yield Field(area, keys, text, encoding)
        if isinstance(value, str) and text.lstrip()[:1] in ("{", "[", '"'):
            inner = _parse_json(text)
            if inner is not _NOT_JSON:
                if _embedded >= _MAX_EMBEDDED:
                    raise _TooDeep
                yield from json_fields(inner, area, keys, encoding, _depth=_depth + 1,
                                       _embedded=_embedded + 1)


_NOT_JSON = object()


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON
    except RecursionError:
        raise _TooDeep from None


def _leaves(fields: list[Field]) -> str:
    return ",".join(f.text for f in fields)


_FORM = re.compile(r"[^=&\s]+=[^&\s]*(?:&[^=&\s]+=[^&\s]*)+")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_CHARSET = re.compile(r'charset="?([^";\s]+)"?', re.IGNORECASE)


def _multipart(raw: bytes, content_type: str, encoding: Encoding | None) -> Iterator[Field]:
    """Each part of a multipart body: its headers and its decoded payload."""
    import email.message  # the email package, only for a multipart body
    import email.parser
    import email.policy

    parser = email.parser.BytesParser(policy=email.policy.compat32)
    message = parser.parsebytes(b"Content-Type: " + content_type.encode("latin-1", "replace")
                                + b"\r\n\r\n" + raw)
    parts = message.get_payload() if message.is_multipart() else []
    for index, part in enumerate(parts[:_MAX_PARTS] if isinstance(parts, list) else []):
        # raw_items(), not items(): compat32 turns raw UTF-8 there into U+FFFD.
        headers = [(name, _utf8(value)) for name, value in part.raw_items()]
        probe = email.message.Message()
        for header_name, value in headers:
            if header_name.lower() == "content-disposition":
                probe["content-disposition"] = value
        name = probe.get_param("name", header="content-disposition")
        key = str(name) if name else f"part{index}"
        for header_name, value in headers:
            yield Field("body:part", (key,), f"{header_name}: {value}", encoding)
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            yield from _text_fields(payload, part.get_content_type(), part.get("content-type"),
                                    area="body:part", keys=(key,), encoding=encoding)
    if isinstance(parts, list) and len(parts) > _MAX_PARTS:
        yield Field("body", (), "", encoding, note=f"more than {_MAX_PARTS} multipart parts")


def _utf8(text: str) -> str:
    """A part header as UTF-8 text (RFC 7578 §5.1.3: browsers send file names raw).

    compat32 reads header bytes as ASCII and keeps the rest as surrogate
    escapes, which no detector can match; take those bytes back as UTF-8
    (Latin-1 when they are not UTF-8).
    """
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    raw = text.encode("ascii", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _text_fields(
    raw: bytes, kind: str, content_type: str | None, *, area: str,
    keys: tuple[str | int, ...], encoding: Encoding | None,
) -> Iterator[Field]:
    charset = _CHARSET.search(content_type or "")
    unwrapped = unwrap_body(raw, None, charset.group(1) if charset else None)
    text = unwrapped.text
    encoding = encoding or unwrapped.encoding
    if unwrapped.too_large:
        yield Field(area, keys, "", encoding,
                    note=f"more than {MAX_DECOMPRESSED_BYTES // (1024 * 1024)} MiB decompressed")
    yield from _structured(text, kind, content_type or "", area=area, keys=keys,
                           encoding=encoding)


def _structured(
    text: str, kind: str, content_type: str, *, area: str,
    keys: tuple[str | int, ...], encoding: Encoding | None,
) -> Iterator[Field]:
    stripped = text.lstrip("\ufeff \t\r\n")
    if kind.endswith("json") or stripped[:1] in ("{", "["):
        try:
            document = _parse_json(stripped)
            if document is not _NOT_JSON:
                fields = list(json_fields(document, "body" if area == "body" else area,
                                          () if area == "body" else keys, encoding))
                yield from fields
                yield Field(area, keys, _leaves(fields), encoding, whole=True)
                return
        except _TooDeep:
            yield Field(area, keys, "", encoding,
                        note=f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            yield Field(area, keys, text, encoding)
            return
    boundary = _BOUNDARY.search(content_type)
    if kind.startswith("multipart/") and boundary:
        raw = text.encode("utf-8", "surrogateescape")
        fields = list(_multipart(raw, content_type, encoding))
        yield from fields
        yield Field(area, keys, _leaves(fields), encoding, whole=True)
        return
    if area == "body" and (kind == "application/x-www-form-urlencoded"
                           or _FORM.fullmatch(stripped)):
        fields = list(_pairs(stripped, "body:form", encoding))
        yield from fields
        yield Field(area, keys, _leaves(fields), encoding, whole=True)
        return
    yield Field(area, keys, text, encoding)


def body_fields(request: OutgoingRequest) -> Iterator[Field]:
    """The body's places: JSON leaves and keys, form fields, multipart parts, or the text.

    Compression (gzip, zlib, deflate; declared or sniffed; nested) is undone
    first and the fields carry :attr:`Encoding.GZIP`; UTF-16/32 bodies are
    read by BOM or heuristic.
    """
    body = request.body
    if not body:
        return
    content_type = header(request, "content-type") or ""
    kind = media_type(request)
    unwrapped = unwrap_body(body, header(request, "content-encoding"),
                            _charset(content_type))
    if unwrapped.unsupported is not None:
        yield Field("body", (), "", None,
                    note="a Content-Encoding other than gzip or deflate (not decoded)")
    if unwrapped.too_large:
        yield Field("body", (), "", unwrapped.encoding,
                    note=f"more than {MAX_DECOMPRESSED_BYTES // (1024 * 1024)} MiB decompressed")
        # Already a finding; the head is still searched, the rest is not worth the time.
        yield Field("body", (), unwrapped.text[:_HEAD_CHARS], unwrapped.encoding)
        return
    if len(unwrapped.text) > MAX_STRUCTURED_CHARS:
        # Parsed, a large JSON or multipart body costs many times its size: it is
        # searched as text instead, window by window, and its findings name ``body``.
        yield Field("body", (), unwrapped.text, unwrapped.encoding)
        return
    if kind.startswith("multipart/") and unwrapped.encoding is not Encoding.GZIP:
        fields = list(_multipart(body, content_type, None))
        yield from fields
        yield Field("body", (), _leaves(fields), None, whole=True)
        return
    yield from _structured(unwrapped.text, kind, content_type, area="body", keys=(),
                           encoding=unwrapped.encoding)


def _charset(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def request_fields(
    request: OutgoingRequest, *, with_body: bool = True, content_only: bool = False
) -> list[Field]:
    """Every place of ``request``; the body is left out when ``with_body`` is False.

    ``content_only`` leaves out the request line (method, host, path, query):
    a response or a WebSocket frame has headers and a body only.
    """
    fields: list[Field] = []
    if not content_only:
        fields += [Field("method", (), request.method), Field("url.host", (), request.host),
                   Field("url.path", (), request.path)]
        fields.extend(_pairs(request.query, "query"))
    # Every header, Host and Content-Length included: a caller can set both.
    fields.extend(Field("header", (name.lower(),), f"{name}: {value}")
                  for name, value in request.headers)
    if with_body:
        fields.extend(body_fields(request))
    return fields
