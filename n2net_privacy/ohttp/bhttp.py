"""Binary HTTP messages (RFC 9292), known-length form only.

Pure functions: bytes in, bytes out, no I/O and no crypto. The encoders
truncate empty trailing sections (RFC 9292 §3.8), which is what RFC 9458
Appendix A shows, so ``encode_request("GET", "https", "example.com", "/")``
is exactly the appendix's 25 bytes.

Decoding is strict and bounded by :class:`Limits`: a message longer than
``max_message``, a field section with too many lines, an indeterminate-length
framing or non-zero padding raises :class:`~n2net_privacy.errors.WireFormatError`
before anything past a bound is read.

>>> from n2net_privacy.ohttp import bhttp
>>> bhttp.encode_response(200).hex()
'0140c8'
>>> bhttp.decode_response(bytes.fromhex("0140c8")).status
200
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from n2net_privacy.errors import WireFormatError
from n2net_privacy.ohttp._varint import Reader, encode_varint

__all__ = [
    "Field",
    "Limits",
    "Request",
    "Response",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
]

Field = tuple[bytes, bytes]
FieldsIn = Iterable[tuple[str | bytes, str | bytes]]

_KNOWN_LENGTH_REQUEST = 0
_KNOWN_LENGTH_RESPONSE = 1
# RFC 9110 §5.6.2 tchar, lowercase only: HTTP/2 and HTTP/3 (whose field model
# BHTTP shares) forbid uppercase field names.
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z")
_FIELD_VALUE_FORBIDDEN = re.compile(rb"[\x00\r\n]")
_METHOD = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds a decoder enforces before it reads anything past them."""

    max_message: int = 8 * 1024 * 1024
    max_fields: int = 128
    max_field_bytes: int = 16 * 1024
    max_control_bytes: int = 8 * 1024
    max_informational: int = 8


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    scheme: str
    authority: str
    path: str
    headers: tuple[Field, ...] = ()
    content: bytes = b""
    trailers: tuple[Field, ...] = ()

    def header(self, name: str) -> bytes | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        key = name.lower().encode("ascii")
        return next((v for n, v in self.headers if n == key), None)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[Field, ...] = ()
    content: bytes = b""
    trailers: tuple[Field, ...] = ()
    informational: tuple[tuple[int, tuple[Field, ...]], ...] = ()

    def header(self, name: str) -> bytes | None:
        key = name.lower().encode("ascii")
        return next((v for n, v in self.headers if n == key), None)


def _as_bytes(value: str | bytes, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("ascii")
    except UnicodeEncodeError as exc:
        raise WireFormatError(f"{what} must be ASCII") from exc


def _normalize_fields(fields: FieldsIn, what: str) -> tuple[Field, ...]:
    out: list[Field] = []
    for name, value in fields:
        raw_name = _as_bytes(name, f"{what} name").lower()
        raw_value = _as_bytes(value, f"{what} value") if isinstance(value, str) else value
        _check_field(raw_name, raw_value, what)
        out.append((raw_name, raw_value))
    return tuple(out)


def _check_field(name: bytes, value: bytes, what: str) -> None:
    if not _FIELD_NAME.match(name):
        raise WireFormatError(f"{what}: invalid field name")
    if _FIELD_VALUE_FORBIDDEN.search(value):
        raise WireFormatError(f"{what}: field value contains NUL, CR or LF")


def _encode_fields(fields: tuple[Field, ...]) -> bytes:
    body = b"".join(encode_varint(len(n)) + n + encode_varint(len(v)) + v for n, v in fields)
    return encode_varint(len(body)) + body


def _encode_sections(
    headers: tuple[Field, ...], content: bytes, trailers: tuple[Field, ...]
) -> bytes:
    # RFC 9292 §3.8: empty sections at the end may be left out entirely.
    parts = [
        _encode_fields(headers),
        encode_varint(len(content)) + content,
        _encode_fields(trailers),
    ]
    empties = [not headers, not content, not trailers]
    while parts and empties[len(parts) - 1]:
        parts.pop()
    return b"".join(parts)


def encode_request(  # noqa: PLR0917 - the positional shape RFC 9292 and the issue fix
    method: str,
    scheme: str,
    authority: str,
    path: str,
    headers: FieldsIn = (),
    content: bytes = b"",
    *,
    trailers: FieldsIn = (),
) -> bytes:
    """Encode a known-length BHTTP request (RFC 9292 §3.1)."""
    control = [_as_bytes(x, "control data") for x in (method, scheme, authority, path)]
    if not _METHOD.match(control[0]):
        raise WireFormatError("invalid request method")
    for part in control[1:]:
        if _FIELD_VALUE_FORBIDDEN.search(part) or b" " in part:
            raise WireFormatError("control data contains whitespace, NUL, CR or LF")
    head = encode_varint(_KNOWN_LENGTH_REQUEST) + b"".join(
        encode_varint(len(p)) + p for p in control
    )
    return head + _encode_sections(
        _normalize_fields(headers, "header"), bytes(content), _normalize_fields(trailers, "trailer")
    )


def encode_response(
    status: int,
    headers: FieldsIn = (),
    content: bytes = b"",
    trailers: FieldsIn = (),
) -> bytes:
    """Encode a known-length BHTTP response with a final status (RFC 9292 §3.1)."""
    if not 200 <= status <= 599:
        raise WireFormatError(f"final status {status} is outside 200-599")
    return (
        encode_varint(_KNOWN_LENGTH_RESPONSE)
        + encode_varint(status)
        + _encode_sections(
            _normalize_fields(headers, "header"),
            bytes(content),
            _normalize_fields(trailers, "trailer"),
        )
    )


def _framing(reader: Reader, expected: int, limits: Limits, total: int) -> None:
    if total > limits.max_message:
        raise WireFormatError(f"message of {total} bytes exceeds the {limits.max_message} limit")
    indicator = reader.varint("framing indicator")
    if indicator == expected:
        return
    if indicator in (2, 3):
        raise WireFormatError("indeterminate-length BHTTP messages are not supported")
    raise WireFormatError(f"unexpected framing indicator {indicator}")


def _read_fields(reader: Reader, limits: Limits, what: str) -> tuple[Field, ...]:
    if reader.at_end():
        return ()
    length = reader.varint(f"{what} length")
    if length > reader.remaining:
        raise WireFormatError(f"truncated {what}: declares {length} bytes, {reader.remaining} left")
    section = Reader(reader.take(length, what))
    fields: list[Field] = []
    while not section.at_end():
        if len(fields) >= limits.max_fields:
            raise WireFormatError(f"{what} has more than {limits.max_fields} fields")
        name_len = section.varint(f"{what} name length")
        if name_len > limits.max_field_bytes:
            raise WireFormatError(f"{what} field name exceeds {limits.max_field_bytes} bytes")
        name = section.take(name_len, f"{what} name")
        value_len = section.varint(f"{what} value length")
        if value_len > limits.max_field_bytes:
            raise WireFormatError(f"{what} field value exceeds {limits.max_field_bytes} bytes")
        value = section.take(value_len, f"{what} value")
        _check_field(name, value, what)
        fields.append((name, value))
    return tuple(fields)


def _read_content(reader: Reader) -> bytes:
    if reader.at_end():
        return b""
    length = reader.varint("content length")
    return reader.take(length, "content")


def _read_padding(reader: Reader) -> None:
    if any(reader.rest()):
        raise WireFormatError("non-zero bytes after the end of the message")


def _control(reader: Reader, limits: Limits, what: str) -> str:
    length = reader.varint(f"{what} length")
    if length > limits.max_control_bytes:
        raise WireFormatError(f"{what} exceeds {limits.max_control_bytes} bytes")
    raw = reader.take(length, what)
    if _FIELD_VALUE_FORBIDDEN.search(raw):
        raise WireFormatError(f"{what} contains NUL, CR or LF")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise WireFormatError(f"{what} is not ASCII") from exc


def decode_request(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Request:
    """Decode a known-length BHTTP request; raise WireFormatError if malformed."""
    reader = Reader(data)
    _framing(reader, _KNOWN_LENGTH_REQUEST, limits, len(data))
    method = _control(reader, limits, "method")
    if not _METHOD.match(method.encode("ascii")):
        raise WireFormatError("invalid request method")
    scheme = _control(reader, limits, "scheme")
    authority = _control(reader, limits, "authority")
    path = _control(reader, limits, "path")
    headers = _read_fields(reader, limits, "header section")
    content = _read_content(reader)
    trailers = _read_fields(reader, limits, "trailer section")
    _read_padding(reader)
    return Request(method, scheme, authority, path, headers, content, trailers)


def decode_response(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Response:
    """Decode a known-length BHTTP response, with any informational responses."""
    reader = Reader(data)
    _framing(reader, _KNOWN_LENGTH_RESPONSE, limits, len(data))
    informational: list[tuple[int, tuple[Field, ...]]] = []
    while True:
        status = reader.varint("status code")
        if 100 <= status <= 199:
            if len(informational) >= limits.max_informational:
                raise WireFormatError(
                    f"more than {limits.max_informational} informational responses"
                )
            informational.append((status, _read_fields(reader, limits, "informational fields")))
            continue
        if not 200 <= status <= 599:
            raise WireFormatError(f"status code {status} is outside 100-599")
        break
    headers = _read_fields(reader, limits, "header section")
    content = _read_content(reader)
    trailers = _read_fields(reader, limits, "trailer section")
    _read_padding(reader)
    return Response(status, headers, content, trailers, tuple(informational))
