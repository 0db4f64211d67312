"""Deprecated: the leases are part of :class:`~n2net_privacy.uploader.store.queue.EventQueue`.

``QueuedBatch`` is in :mod:`n2net_privacy.uploader.store.queue`, ``RowSeal`` in
:mod:`n2net_privacy.uploader.store.at_rest`. Kept for one release.
"""

from n2net_privacy._deprecated import moved
from n2net_privacy.uploader.store.at_rest import RowSeal
from n2net_privacy.uploader.store.queue import QueuedBatch

__all__ = ["QueuedBatch", "RowSeal"]

moved(__name__, "n2net_privacy.uploader.store.queue")
