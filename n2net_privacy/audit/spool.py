"""A capture's request rows on disk, so a report of any length fits in bounded memory.

``n2net-privacy audit-har`` reads captures of hundreds of thousands of
requests. :class:`RequestSpool` takes the audit log's entries as they come
(in request-id order, as audit-har reads them) and writes each as one JSON
line to a temporary file; memory keeps 8 bytes per row (its offset) and the
failed requests still waiting for a retry. :meth:`RequestSpool.rows` reads
them back as a :class:`~collections.abc.Sequence` of
:class:`~n2net_privacy.audit.report.RequestRow`, with the same outcomes
:func:`~n2net_privacy.audit.report.build_report` gives, for
:meth:`~n2net_privacy.audit.report.PrivacyReport.write_json` and
:meth:`~n2net_privacy.audit.report.PrivacyReport.write_html` to stream.
"""

from __future__ import annotations

import json
import tempfile
import threading
from array import array
from collections.abc import Iterator, Sequence
from typing import overload

from n2net_privacy.audit.report import Outcome, RequestRow, relative_time, request_failed
from n2net_privacy.egress.policy import AuditEntry

__all__ = ["RequestSpool"]

_Key = tuple[str, str, str, str]


class RequestSpool:
    """An append-only audit log on disk; thread-safe. Close it (or let it go) to delete it."""

    def __init__(self) -> None:
        # Lives as long as the spool: close() (or the collector) deletes it.
        self._file = tempfile.TemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8", prefix="n2net-requests-"
        )
        self._lock = threading.Lock()
        self._offsets = array("q")
        self._waiting: dict[_Key, list[int]] = {}  # failed, not (yet) sent again
        self._retried: set[int] = set()
        self.first_at: float | None = None
        """The earliest absolute time recorded (seconds since the epoch)."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry (the :class:`~n2net_privacy.egress.policy.AuditLog` method)."""
        line = json.dumps([entry.at, entry.purpose.value, entry.method, entry.host, entry.path,
                           entry.request_bytes, entry.status, entry.blocked, entry.request_id,
                           entry.error], ensure_ascii=False)
        key = (entry.purpose.value, entry.method, entry.host, entry.path)
        with self._lock:
            index = len(self._offsets)
            self._file.seek(0, 2)
            self._offsets.append(self._file.tell())
            self._file.write(line + "\n")
            # A failure followed later by the same request is "retried" (as build_report says).
            self._retried.update(self._waiting.pop(key, ()))
            if request_failed(entry):
                self._waiting.setdefault(key, []).append(index)
            if entry.at >= 1e8 and (self.first_at is None or entry.at < self.first_at):
                self.first_at = entry.at

    def __len__(self) -> int:
        return len(self._offsets)

    def rows(self, start: float) -> Sequence[RequestRow]:
        """The rows as the report lists them, times relative to ``start``."""
        return _Rows(self, start)

    def close(self) -> None:
        self._file.close()

    def _row(self, index: int, line: str, start: float) -> RequestRow:
        at, purpose, method, host, path, size, status, blocked, request_id, error = json.loads(line)
        if blocked:
            outcome = Outcome.BLOCKED
        elif status is not None and status < 500 and status != 429:
            outcome = Outcome.SENT
        else:
            outcome = Outcome.RETRIED if index in self._retried else Outcome.FAILED
        return RequestRow(id=request_id, at=relative_time(at, start), purpose=purpose,
                          method=method, host=host, path=path, bytes=size, status=status,
                          error=error, blocked=blocked, outcome=outcome)

    def _read(self, begin: int, end: int) -> list[str]:
        with self._lock:
            self._file.flush()
            self._file.seek(self._offsets[begin])
            return [self._file.readline() for _ in range(end - begin)]


class _Rows(Sequence[RequestRow]):
    _BATCH = 512

    def __init__(self, spool: RequestSpool, start: float) -> None:
        self._spool = spool
        self._start = start
        self._count = len(spool)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> RequestRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RequestRow]: ...

    def __getitem__(self, index: int | slice) -> RequestRow | Sequence[RequestRow]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(self._count)))
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError("request row out of range")
        (line,) = self._spool._read(index, index + 1)
        return self._spool._row(index, line, self._start)

    def __iter__(self) -> Iterator[RequestRow]:
        for begin in range(0, self._count, self._BATCH):
            end = min(begin + self._BATCH, self._count)
            for offset, line in enumerate(self._spool._read(begin, end)):
                yield self._spool._row(begin + offset, line, self._start)
