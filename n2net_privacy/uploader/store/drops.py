"""Why events were thrown away on the device: the reasons, the callback, the tally.

Small and pure, so an app (or the facade) can name a :class:`DropReason`
without loading the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

__all__ = ["DropReason", "Drops", "OnDrop"]


class DropReason(StrEnum):
    """Why events were thrown away on the device."""

    MAX_EVENTS = "max_events"
    """The queue already held ``max_events`` events."""
    MAX_BYTES = "max_bytes"
    """The queue already held ``max_bytes`` sealed bytes."""
    UNDECRYPTABLE = "undecryptable"
    """The at-rest key changed (e.g. Android invalidated it), or the row is corrupt,
    was copied from another queue file or was moved to another row."""
    STORAGE_ERROR = "storage_error"
    """The write itself failed (disk full, I/O error)."""


#: Told of each drop: the reason and how many events.
OnDrop = Callable[[DropReason, int], None]
#: Drops collected inside a transaction, reported once it commits.
Drops = list[tuple[DropReason, int]]
