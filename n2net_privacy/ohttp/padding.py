"""Size buckets for Oblivious HTTP messages: Binary HTTP padding (RFC 9292 §3.8).

Encryption hides the bytes of a request, not its length. Without padding a
relay learns the length of the number inside a one-event batch (which
narrows its country) and the number of events in every batch. So the client
pads each inner request, and the gateway each inner response, with zero
bytes up to the next bucket: ``MIN_BUCKET`` (1 KiB) and the powers of two
above it up to ``MAX_BUCKET`` (512 KiB), then whole multiples of
``MAX_BUCKET``. A relay then sees one size for every message in a bucket.

The cost is bounded: a message grows by less than 2x (at most 1023 bytes
for the smallest bucket). The decoders in :mod:`.bhttp` accept zero padding
and refuse anything else after the message.

>>> [bucket_for(n) for n in (0, 1024, 1025, 70_000)]
[1024, 1024, 2048, 131072]
>>> len(pad(b"\\x00\\x03GET"))
1024
"""

from __future__ import annotations

from n2net_privacy.errors import InvalidArgumentError

__all__ = ["MAX_BUCKET", "MIN_BUCKET", "bucket_for", "pad"]

MIN_BUCKET = 1024
MAX_BUCKET = 512 * 1024


def bucket_for(length: int) -> int:
    """The padded size of a message of ``length`` bytes."""
    if length < 0:
        raise InvalidArgumentError("a message length cannot be negative")
    if length > MAX_BUCKET:
        return -(-length // MAX_BUCKET) * MAX_BUCKET
    bucket = MIN_BUCKET
    while bucket < length:
        bucket *= 2
    return bucket


def pad(message: bytes) -> bytes:
    """``message`` followed by zero bytes up to its bucket (RFC 9292 §3.8)."""
    return message + bytes(bucket_for(len(message)) - len(message))
