"""The bytes of one queued event and of one batch's plaintext, cheaply. Pure.

One event: its id, its timestamp and its canonical v1 JSON, on the
``record_*`` hot path, so no pydantic there. The bytes are exactly
``WireEvent.model_dump_json(exclude_none=True)``; a property test
(tests/test_payload.py) proves it against the model.

One batch (:class:`Envelope`): the v1 envelope around the queued payloads,
joined by commas, so no model is built per event. Before anything leaves,
every payload is checked: :func:`is_canonical` (one regular expression) for
the exact form the recorder writes, the full pydantic validation
(:func:`~n2net_privacy.uploader.wire.models.decode_batch`, 50 at a time) for
anything else.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone

from n2net_privacy.errors import UploaderError, WireFormatError
from n2net_privacy.uploader.wire.models import EventBatch, WireEvent, decode_batch, encode_batch

__all__ = [
    "Envelope",
    "StampCache",
    "encode_event",
    "encode_with_stamp",
    "is_canonical",
    "new_event_id",
]

_VALIDATE_CHUNK = 50
_CHECK_CHUNK = 100

_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
_E164 = rb"\+[1-9][0-9]{1,14}"
_STAMP = (
    rb"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    rb"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
)
# Durations of up to 9 digits are below 2**31 - 1; longer ones take the full check.
_SECOND = timedelta(seconds=1)
_CANONICAL = re.compile(
    rb'\{"id":"' + _UUID + rb'","type":"(?:sms","number":"' + _E164 + rb'","at":"' + _STAMP
    + rb'"|call","number":"' + _E164 + rb'","at":"' + _STAMP
    + rb'","duration_s":(?:0|[1-9][0-9]{0,8}))\}'
)


def new_event_id() -> str:
    """A random version-4 UUID string, as ``str(uuid.uuid4())`` makes, in a fifth of the time."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _stamp(at: datetime) -> str:
    if at.tzinfo is None or at.utcoffset() is None:
        raise UploaderError("the clock must return timezone-aware datetimes")
    u = at.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


class StampCache:
    """The v1 timestamp of the current second, formatted once per second.

    Thread-safe: the second and its text are one tuple, replaced whole.
    """

    __slots__ = ("_cached",)

    def __init__(self) -> None:
        self._cached: tuple[datetime, datetime, str] | None = None

    def stamp(self, at: datetime) -> str:
        cached = self._cached
        # Fixed offsets only (UTC is one): two comparisons are then exact and cheaper
        # than timestamp(). A zone with DST formats every time, since datetimes of
        # one tzinfo compare by wall clock and a repeated hour would hit the cache.
        if cached is not None and type(at.tzinfo) is timezone and cached[0] <= at < cached[1]:
            return cached[2]
        text = _stamp(at)
        start = at.replace(microsecond=0)
        self._cached = (start, start + _SECOND, text)
        return text


def encode_with_stamp(event_id: str, e164: str, stamp: str, duration_s: int | None) -> bytes:
    """The canonical payload from an already formatted v1 timestamp."""
    if duration_s is None:
        text = f'{{"id":"{event_id}","type":"sms","number":"{e164}","at":"{stamp}"}}'
    else:
        text = (
            f'{{"id":"{event_id}","type":"call","number":"{e164}","at":"{stamp}",'
            f'"duration_s":{duration_s}}}'
        )
    return text.encode("ascii")


def encode_event(event_id: str, e164: str, at: datetime, duration_s: int | None) -> bytes:
    """The queued payload: byte for byte ``WireEvent.model_dump_json(exclude_none=True)``.

    Every input is already well-formed here (a uuid4, a normalizer's E.164, a
    checked duration), and the sender checks each payload against v1 before
    anything leaves, so a slip here can never put a malformed event on the wire.
    """
    return encode_with_stamp(event_id, e164, _stamp(at), duration_s)


def is_canonical(payload: bytes) -> bool:
    """True if ``payload`` is exactly the form :func:`encode_event` writes (a valid v1 event)."""
    return _CANONICAL.fullmatch(payload) is not None


def envelope() -> tuple[bytes, bytes]:
    """The bytes :func:`encode_batch` puts before and after the events' JSON."""
    sample = WireEvent.sms(
        "00000000-0000-4000-8000-000000000000", "+12015550123", datetime(2000, 1, 1, tzinfo=UTC)
    )
    event = sample.model_dump_json(exclude_none=True).encode("utf-8")
    head, found, tail = encode_batch(EventBatch.of([sample])).partition(event)
    if not found:
        raise WireFormatError("encode_batch no longer embeds the event JSON verbatim")
    return head, tail


class Envelope:
    """Builds and checks a batch's plaintext from its payloads."""

    def __init__(self, pause: Callable[[], None] = lambda: time.sleep(0)) -> None:
        self.head, self.tail = envelope()
        self.overhead = len(self.head) + len(self.tail)
        self._pause = pause
        """Called between chunks: these loops hold the GIL (the sender passes the
        queue's :meth:`~n2net_privacy.uploader.store.file.QueueFile.yield_to_writer`)."""

    def plaintext(self, payloads: Sequence[bytes]) -> bytes:
        return self.head + b",".join(payloads) + self.tail

    def valid(self, payloads: Sequence[bytes]) -> bool:
        """True if every payload is a v1 event."""
        odd: list[bytes] = []
        for start in range(0, len(payloads), _CHECK_CHUNK):
            odd += [p for p in payloads[start : start + _CHECK_CHUNK] if not is_canonical(p)]
            self._pause()
        try:
            for start in range(0, len(odd), _VALIDATE_CHUNK):
                decode_batch(self.plaintext(odd[start : start + _VALIDATE_CHUNK]))
                self._pause()
        except WireFormatError:
            return False
        return True
