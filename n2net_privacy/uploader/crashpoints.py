"""Named moments in the uploader where a crash test may kill the process.

The uploader calls its ``crash_point`` hook (if any) with one of these at
the matching moment; a test's hook calls ``os.kill(os.getpid(), SIGKILL)``
there, restarts, and checks the server holds every recorded event exactly
once. In production the hook is ``None`` and costs one comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

__all__ = ["CrashHook", "CrashPoint"]


class CrashPoint(StrEnum):
    """Where the uploader calls its ``crash_point`` hook."""

    RECORD_BEFORE_WRITE = "record.before_write"
    """``record_*``: normalized and encoded, not yet written."""
    RECORD_AFTER_WRITE = "record.after_write"
    """``record_*``: committed to the queue, not yet returned."""
    LEASE_BEFORE_COMMIT = "lease.before_commit"
    """Batch building: rows assigned to a new batch id, transaction open."""
    LEASE_AFTER_COMMIT = "lease.after_commit"
    """Batch building: the batch is persisted, not yet sealed."""
    POST_BEFORE_SEND = "post.before_send"
    """Sealed, headers built, the POST about to go out."""
    ACK_BEFORE_DELETE = "ack.before_delete"
    """The server answered 200; the local rows are not yet deleted."""
    ACK_BEFORE_COMMIT = "ack.before_commit"
    """Deleting the delivered rows, transaction open."""


CrashHook = Callable[[CrashPoint], None]
