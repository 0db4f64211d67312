"""Take an outgoing request apart into the places a value can hide. Pure, no I/O.

Each :class:`Field` is one place (the host, the path, a query parameter, a
header, a JSON leaf or key, a form field, the body as text) and its text.
Keys are kept raw in :attr:`Field.keys`: a key can itself be the leaked
value, so the auditor labels a place only after checking its keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from n2net_privacy.audit.decoding import Encoding, decompress
from n2net_privacy.egress_policy import OutgoingRequest

__all__ = [
    "Field",
    "body_fields",
    "header",
    "json_fields",
    "media_type",
    "request_fields",
]

# Host is the URL host again; the other headers are set by the chokepoint itself.
_SKIPPED_HEADERS = frozenset({"host", "content-length"})
_MAX_KEY_LABEL = 40


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

    def place(self, is_safe: Callable[[str], bool]) -> str:
        """The place's name; a key that ``is_safe`` rejects is shown as ``[redacted]``."""
        if self.area in ("query", "header", "body:form"):
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


def json_fields(
    value: object, area: str, keys: tuple[str | int, ...] = (), encoding: Encoding | None = None
) -> Iterator[Field]:
    """Every key and every string or number leaf of a parsed JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = (*keys, str(key))
            yield Field(area, path, str(key), encoding)
            yield from json_fields(item, area, path, encoding)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from json_fields(item, area, (*keys, index), encoding)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield Field(area, keys, str(value), encoding)


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def body_fields(request: OutgoingRequest) -> Iterator[Field]:
    """The body's places: JSON leaves and keys, form fields, or the whole text.

    A gzip or deflate body (declared or not) is inflated first and its
    fields carry :attr:`Encoding.GZIP`.
    """
    body = request.body
    if not body:
        return
    encoding: Encoding | None = None
    inflated = decompress(body, header(request, "content-encoding"))
    if inflated is not None:
        body, encoding = inflated, Encoding.GZIP
    text = _text(body)
    kind = media_type(request)
    if kind.endswith("json") or text.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            yield from json_fields(document, "body", (), encoding)
            return
    if kind == "application/x-www-form-urlencoded":
        yield from _pairs(text, "body:form", encoding)
        return
    yield Field("body", (), text, encoding)


def request_fields(request: OutgoingRequest, *, with_body: bool = True) -> list[Field]:
    """Every place of ``request``; the body is left out when ``with_body`` is False."""
    fields = [Field("url.host", (), request.host), Field("url.path", (), request.path)]
    fields.extend(_pairs(request.query, "query"))
    fields.extend(
        Field("header", (name.lower(),), f"{name}: {value}")
        for name, value in request.headers
        if name.lower() not in _SKIPPED_HEADERS
    )
    if with_body:
        fields.extend(body_fields(request))
    return fields
