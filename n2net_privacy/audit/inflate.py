"""Undo compression, however often and whether declared or not, within a size cap. Pure.

:func:`inflate_all` undoes every layer: the declared ``Content-Encoding``
first (outermost last in the header), then whatever the magic bytes say
(gzip ``1f 8b``, a zlib header), up to 4 layers. Output is capped at
:data:`MAX_DECOMPRESSED_BYTES`; ``too_large`` says the cap cut it short, so
the auditor reports the body as not inspected instead of passing it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "Inflated",
    "decompress",
    "inflate_all",
    "inflate_once",
    "is_zlib",
]

MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024
"""A compressed body inflates to at most this much; the rest is not inspected."""
_MAX_INFLATE_ROUNDS = 4


def is_zlib(data: bytes) -> bool:
    """A zlib stream header: deflate method, a window size, and the FCHECK bits."""
    return (
        len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7
        and (data[0] << 8 | data[1]) % 31 == 0
    )


@dataclass(frozen=True, slots=True)
class Inflated:
    """What :func:`inflate_all` undid: ``rounds`` layers; None data when not compressed."""

    data: bytes | None
    rounds: int = 0
    too_large: bool = False


def inflate_once(body: bytes, wbits: int) -> tuple[bytes, bool] | None:
    """Inflate with ``wbits``; ``(data, too_large)``, or None when it is not that format."""
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error:
        return None
    if len(data) > MAX_DECOMPRESSED_BYTES or inflater.unconsumed_tail:
        return data[:MAX_DECOMPRESSED_BYTES], True
    return data, False


def inflate_all(body: bytes, content_encoding: str) -> Inflated:
    """Undo every compression layer: declared ones first, then sniffed magic bytes."""
    declared = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    data, rounds = body, 0
    while rounds < _MAX_INFLATE_ROUNDS:
        coding = declared.pop() if declared else ""
        attempts: tuple[int, ...]
        if data[:2] == b"\x1f\x8b" or coding in ("gzip", "x-gzip"):
            attempts = (zlib.MAX_WBITS | 16,)
        elif is_zlib(data) or coding == "deflate":
            attempts = (zlib.MAX_WBITS, -zlib.MAX_WBITS)
        else:
            break
        result = None
        for wbits in attempts:
            result = inflate_once(data, wbits)
            if result is not None:
                break
        if result is None:
            break
        data, rounds = result[0], rounds + 1
        if result[1]:
            return Inflated(data, rounds, too_large=True)
    else:
        # Still compressed after the last round: a bomb-shaped nest.
        if data[:2] == b"\x1f\x8b" or is_zlib(data):
            return Inflated(data, rounds, too_large=True)
    return Inflated(data if rounds else None, rounds)


def decompress(body: bytes, content_encoding: str | None = None) -> bytes | None:
    """Inflate a gzip, zlib or raw-deflate body (every layer); None when not compressed.

    Output is capped at :data:`MAX_DECOMPRESSED_BYTES`, so a bomb costs nothing;
    :func:`unwrap_body` also says when the cap cut it short.
    """
    return inflate_all(body, content_encoding or "").data
