"""The body of one upload: the v1 envelope around queued payloads, checked, and the flight.

The queued payloads are canonical event JSON already (see
:mod:`~n2net_privacy.uploader.wire.payload`), so a batch's plaintext is the v1
envelope around them, joined by commas: no model is built per event. Before
anything leaves, every payload is checked: one regular expression for the
exact canonical form the recorder writes, the full pydantic validation
(:func:`~n2net_privacy.uploader.wire.decode_batch`, 50 at a time) for
anything else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from n2net_privacy.errors import WireFormatError
from n2net_privacy.uploader.store.leases import QueuedBatch
from n2net_privacy.uploader.wire.models import EventBatch, WireEvent, decode_batch, encode_batch
from n2net_privacy.uploader.wire.payload import is_canonical

__all__ = ["Envelope", "Flight", "error_code"]

_VALIDATE_CHUNK = 50
_CHECK_CHUNK = 100


@dataclass(slots=True)
class Flight:
    """The batch being sent, its sealed body and the key it is sealed to."""

    batch: QueuedBatch
    body: bytes
    key_id: str
    generation: int
    attempt: int = 0


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


def error_code(body: bytes) -> str | None:
    """The ``error`` field of a JSON error reply, if there is one."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    code = value.get("error") if isinstance(value, dict) else None
    return code if isinstance(code, str) else None
