"""QUIC variable-length integers (RFC 9000 §16), the length prefix of BHTTP and OHTTP."""

from __future__ import annotations

from n2net_privacy.errors import WireFormatError

__all__ = ["MAX_VARINT", "Reader", "encode_varint"]

MAX_VARINT = (1 << 62) - 1


def encode_varint(value: int) -> bytes:
    """Encode ``value`` in the shortest QUIC variable-length form."""
    if value < 0 or value > MAX_VARINT:
        raise WireFormatError(f"integer {value} does not fit a QUIC varint")
    if value < 1 << 6:
        return value.to_bytes(1, "big")
    if value < 1 << 14:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 1 << 30:
        return (value | 0x8000_0000).to_bytes(4, "big")
    return (value | 0xC000_0000_0000_0000).to_bytes(8, "big")


class Reader:
    """A cursor over bytes that never reads past the end it was given.

    Every read checks the remaining length first and raises
    :class:`WireFormatError` naming ``what`` was being read, so a truncated
    or hostile message fails with a message instead of an ``IndexError``.
    """

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def at_end(self) -> bool:
        return self._pos >= len(self._data)

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining:
            raise WireFormatError(f"truncated {what}: needs {n} bytes, {self.remaining} left")
        chunk = bytes(self._data[self._pos : self._pos + n])
        self._pos += n
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def varint(self, what: str) -> int:
        if self.remaining < 1:
            raise WireFormatError(f"truncated {what}: no bytes left")
        first = self._data[self._pos]
        length = 1 << (first >> 6)
        raw = bytearray(self.take(length, what))
        raw[0] &= 0x3F
        return int.from_bytes(raw, "big")

    def rest(self) -> bytes:
        return self.take(self.remaining, "rest")
