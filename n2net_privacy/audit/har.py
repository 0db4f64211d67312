"""HAR 1.2 captures, read as a stream: one entry in memory at a time.

QA exports a capture from Chrome DevTools, Firefox, Safari, Charles,
Proxyman or mitmproxy (``savehar``) and audits it against the test device's
address book. Captures of a long session run to gigabytes, so this module
never loads the file: :func:`iter_entries` scans the JSON text with a small
structural tokenizer, cuts out each element of ``log.entries`` and decodes
only that element, in place in its buffer (no slice of it). The reader holds
at most two copies of the largest entry at once (its text and the parsed
entry), and lets go of the text before the entry is turned into bytes and
audited; an entry over ``max_entry_bytes`` is reported
as :class:`OversizedEntry` (a "not inspected" finding for the auditor),
never silently skipped.

:func:`to_exchange` turns one HAR entry into a :class:`HarExchange`: the
method, URL, headers, cookies, query, and request and response bodies as
bytes (``postData.text``, ``postData.params``, ``content.text`` with
``encoding: base64``), its WebSocket messages (``_webSocketMessages``), and
what the capture left out (a body recorded only as ``bodySize``), whatever
exporter wrote it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import quote_plus, urlsplit

from n2net_privacy.errors import HarError  # defined in the one tree; importable here too

__all__ = [
    "DEFAULT_MAX_ENTRY_BYTES",
    "HarError",
    "HarExchange",
    "OversizedEntry",
    "WebSocketFrame",
    "iter_entries",
    "to_exchange",
]

DEFAULT_MAX_ENTRY_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_STRUCTURAL = re.compile(r'["{}\[\],:]')
_STRING_END = re.compile(r'["\\]')
_ENTRIES_PATH = ("log", "entries")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class OversizedEntry:
    """An entry too large to inspect in bounded memory: it must become a finding."""

    index: int
    size: int


@dataclass(frozen=True, slots=True)
class WebSocketFrame:
    """One WebSocket message of an exchange: its 0-based position, direction and payload.

    ``sent`` is True for a message from the client (the device) to the server.
    """

    index: int
    sent: bool
    content: bytes

    @property
    def place(self) -> str:
        """The frame as a finding's place names it: ``websocket.sent[3]``."""
        return f"websocket.{'sent' if self.sent else 'received'}[{self.index}]"


@dataclass(frozen=True, slots=True)
class HarExchange:
    """One request (and its response) as a HAR file recorded it.

    ``unrecorded`` lists the parts the capture did not hold, as (place, why):
    a body recorded only as a size, a body mitmproxy streamed through. Each
    becomes an ``audit.not_inspected`` finding. ``frames`` are the
    exchange's WebSocket messages (HAR ``_webSocketMessages``).
    """

    index: int
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    cookies: tuple[tuple[str, str], ...]
    body: bytes
    status: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes
    started: str
    response_type: str = ""
    unrecorded: tuple[tuple[str, str], ...] = ()
    frames: tuple[WebSocketFrame, ...] = ()

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def port(self) -> int | None:
        try:
            return urlsplit(self.url).port
        except ValueError:
            return None


@dataclass(slots=True)
class _Frame:
    kind: str  # "{" or "["
    key: str | None = None
    expect_key: bool = False


class _Scanner:
    """Walks JSON text structurally and hands back each ``log.entries`` element."""

    def __init__(self, max_entry_bytes: int, on_progress: Callable[[int], None] | None) -> None:
        self.max_entry_bytes = max_entry_bytes
        self.on_progress = on_progress
        self.buf = ""
        self.pos = 0
        self.stack: list[_Frame] = []
        self.entry_start: int | None = None
        self.skipping_from: int | None = None  # absolute offset where an oversized entry began
        self.consumed = 0  # characters dropped from the front of buf
        self.index = 0
        self.saw_entries = False
        self.done = False
        self.ready: dict[str, Any] | OversizedEntry | None = None

    def _path(self) -> tuple[str | None, ...]:
        return tuple(f.key for f in self.stack if f.kind == "{")

    def _in_entries_array(self) -> bool:
        return (
            len(self.stack) == 3
            and self.stack[2].kind == "["
            and self.stack[0].key == "log"
            and self.stack[1].key == "entries"
        )

    def feed(self, text: str, final: bool) -> Iterator[dict[str, Any] | OversizedEntry]:
        self.buf += text
        while not self.done:
            match = _STRUCTURAL.search(self.buf, self.pos)
            if match is None:
                self.pos = len(self.buf)
                break
            ch, at = match.group(), match.start()
            match = None  # a match keeps the whole buffer alive while an entry is audited
            if ch == '"':
                if not self._string(at):
                    break  # wait for the rest of the string
                continue
            self.pos = at + 1
            if ch in "{[":
                self._open(ch, at)
            elif ch in "}]" and self._close(ch, at):
                # Yielded straight from the scanner: this frame keeps no reference to it.
                yield self._take()
            elif ch == "," and self.stack and self.stack[-1].kind == "{":
                self.stack[-1].expect_key = True
            self._check_entry_size()
        self._compact()
        if final and not self.done:
            raise HarError("the capture ends before its JSON does (truncated file?)")

    def _string(self, at: int) -> bool:
        end = self._string_end(at + 1)
        if end is None:
            self.pos = at
            return False
        frame = self.stack[-1] if self.stack else None
        if frame is not None and frame.kind == "{" and frame.expect_key:
            if len(self.stack) <= 2:  # only keys on the way to log.entries matter
                frame.key = json.loads(self.buf[at : end + 1])
            frame.expect_key = False
        self.pos = end + 1
        return True

    def _open(self, ch: str, at: int) -> None:
        if ch == "{" and self._in_entries_array():
            self.entry_start = at
        self.stack.append(_Frame(ch, expect_key=ch == "{"))
        if len(self.stack) == 3 and ch == "[" and self._path()[:2] == _ENTRIES_PATH:
            self.saw_entries = True

    def _close(self, ch: str, at: int) -> bool:
        """Close a container; True when it was an entry, ready for :meth:`_take`."""
        if not self.stack or self.stack[-1].kind != ("{" if ch == "}" else "["):
            raise HarError(f"malformed JSON near character {self.consumed + at}")
        self.stack.pop()
        if not self.stack:
            self.done = True
        if ch == "}" and self._in_entries_array():
            self.ready = self._finish_entry(at + 1)
            self._compact()  # the entry's text goes before the entry is audited
            return True
        return False

    def _take(self) -> dict[str, Any] | OversizedEntry:
        entry, self.ready = self.ready, None
        assert entry is not None  # _close said an entry is ready
        return entry

    def _string_end(self, start: int) -> int | None:
        pos = start
        while True:
            match = _STRING_END.search(self.buf, pos)
            if match is None:
                return None
            if match.group() == '"':
                return match.start()
            pos = match.start() + 2  # skip the escaped character
            if pos > len(self.buf):
                return None

    def _finish_entry(self, end: int) -> dict[str, Any] | OversizedEntry:
        index = self.index
        self.index += 1
        if self.skipping_from is not None:
            size = self.consumed + end - self.skipping_from
            self.skipping_from = None
            return OversizedEntry(index, size)
        assert self.entry_start is not None
        start, self.entry_start = self.entry_start, None
        try:
            # Decoded in place: a slice of the buffer would be one more copy of the entry.
            value, stop = _DECODER.raw_decode(self.buf, start)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise HarError("is not valid JSON", entry=index) from exc
        if stop != end:
            raise HarError("is not valid JSON", entry=index)
        if not isinstance(value, dict):
            raise HarError("is not an object", entry=index)
        return value

    def _check_entry_size(self) -> None:
        if self.entry_start is not None and self.pos - self.entry_start > self.max_entry_bytes:
            self.skipping_from = self.consumed + self.entry_start
            self.entry_start = None

    def _compact(self) -> None:
        keep_from = self.pos if self.entry_start is None else self.entry_start
        if keep_from > _CHUNK:
            self.buf = self.buf[keep_from:]
            self.consumed += keep_from
            self.pos -= keep_from
            if self.entry_start is not None:
                self.entry_start -= keep_from
        if self.on_progress is not None:
            self.on_progress(self.consumed)


def iter_entries(
    stream: IO[bytes],
    *,
    max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any] | OversizedEntry]:
    """Yield each element of ``log.entries``, reading ``stream`` in chunks.

    Raises :class:`HarError` for a file that is not JSON, has no
    ``log.entries`` array, or ends early. ``on_progress`` gets the number of
    characters consumed so far (for a progress bar).
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    scanner = _Scanner(max_entry_bytes, on_progress)
    while not scanner.done:
        chunk = stream.read(_CHUNK)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise HarError("the capture is not UTF-8 text") from exc
        yield from scanner.feed(text, final=not chunk)
        if not chunk:
            break
    if not scanner.saw_entries:
        raise HarError("no log.entries array: is this a HAR file?")


def _pairs(items: Any, what: str, index: int) -> tuple[tuple[str, str], ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise HarError(f"{what} is not a list", entry=index)
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise HarError(f"{what} has an item without a name", entry=index)
        value = item.get("value", "")
        out.append((item["name"], value if isinstance(value, str) else json.dumps(value)))
    return tuple(out)


def _content_bytes(content: Any, what: str, index: int) -> bytes:
    if not isinstance(content, dict):
        return b""
    text = content.get("text")
    if not isinstance(text, str):
        return b""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise HarError(f"{what} says base64 but is not", entry=index) from exc
    return _text_bytes(text)


_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _text_bytes(text: str) -> bytes:
    """The bytes behind a HAR ``text`` field, as well as they can be recovered.

    HAR 1.2 has no encoding for ``postData.text``, so exporters put binary
    bodies there as they can: mitmproxy decodes with the content type's
    charset (latin-1 when none is given) and falls back to surrogate-escaped
    UTF-8. A compressed body must come back byte for byte, or its content
    could not be inspected.
    """
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        return text.encode("utf-8", "surrogateescape")
    try:
        latin = text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    if latin.isascii():
        return latin
    # Bytes 0x80-0xFF decoded one char each: text with accents, or binary read as
    # latin-1. Control characters say binary; otherwise keep it text (UTF-8).
    return latin if _CONTROL.search(text) else text.encode("utf-8")


def _post_body(post: Any, index: int) -> bytes:
    if not isinstance(post, dict):
        return b""
    body = _content_bytes(post, "postData", index)
    if body:
        return body
    params = _pairs(post.get("params"), "postData.params", index)
    return "&".join(f"{quote_plus(n)}={quote_plus(v)}" for n, v in params).encode("ascii")


def to_exchange(entry: dict[str, Any], index: int) -> HarExchange:
    """One HAR entry as a :class:`HarExchange`; raise :class:`HarError` if malformed."""
    request = entry.get("request")
    if not isinstance(request, dict):
        raise HarError("has no request object", entry=index)
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not url:
        raise HarError("request has no method or url", entry=index)
    response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
    assert isinstance(response, dict)
    status = response.get("status")
    started = entry.get("startedDateTime")
    body = _post_body(request.get("postData"), index)
    size = request.get("bodySize")
    unrecorded: tuple[tuple[str, str], ...] = ()
    if not body and isinstance(size, int) and size > 0:
        # mitmproxy's savehar writes postData for POST, PUT and PATCH only.
        unrecorded = (("body", f"the capture recorded only the body's size ({size} bytes), "
                               "not its content"),)
    return HarExchange(
        index=index,
        method=method.upper(),
        url=url,
        headers=_pairs(request.get("headers"), "request.headers", index),
        cookies=_pairs(request.get("cookies"), "request.cookies", index),
        body=body,
        # HAR writes 0 (or -1) for "no response": an aborted or blocked request.
        status=status if isinstance(status, int) and status > 0 else None,
        response_headers=_pairs(response.get("headers"), "response.headers", index),
        response_body=_content_bytes(response.get("content"), "response.content", index),
        started=started if isinstance(started, str) else "",
        response_type=_media_type(response),
        unrecorded=unrecorded,
        frames=_frames(entry.get("_webSocketMessages"), index),
    )


_BINARY_OPCODE = 2  # RFC 6455 §5.2; Chrome and mitmproxy write binary data as base64


def _frames(messages: Any, index: int) -> tuple[WebSocketFrame, ...]:
    """HAR ``_webSocketMessages`` (Chrome, mitmproxy): ``type`` send/receive, ``data``."""
    if messages is None:
        return ()
    if not isinstance(messages, list):
        raise HarError("_webSocketMessages is not a list", entry=index)
    frames = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("type") not in ("send", "receive"):
            raise HarError(f"_webSocketMessages[{position}] has no type send or receive",
                           entry=index)
        data = message.get("data")
        if not isinstance(data, str):
            data = ""
        if message.get("opcode") == _BINARY_OPCODE:
            content = _content_bytes({"text": data, "encoding": "base64"},
                                     f"_webSocketMessages[{position}]", index)
        else:
            content = data.encode("utf-8", "surrogatepass")
        frames.append(WebSocketFrame(position, message["type"] == "send", content))
    return tuple(frames)


def _media_type(response: dict[str, Any]) -> str:
    content = response.get("content")
    mime = content.get("mimeType") if isinstance(content, dict) else None
    if not isinstance(mime, str) or not mime:
        headers = response.get("headers")
        if isinstance(headers, list):
            mime = next(
                (
                    h.get("value")
                    for h in headers
                    if isinstance(h, dict) and str(h.get("name", "")).lower() == "content-type"
                ),
                "",
            )
    return str(mime or "").split(";", 1)[0].strip().lower()
