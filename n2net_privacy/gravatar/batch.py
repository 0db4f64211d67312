"""A running ``fetch_many`` batch, and how a revocation cancels it from another thread.

When Gravatar is switched off, the setter's thread cancels every running
batch and waits (bounded) until the batch's event loop has run the
cancellation: from then on each task is either past the egress hand-off of
its request or cancelled before it, so no request of the batch leaves the
device after the setter returns.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from n2net_privacy.gravatar.result import AvatarResult
from n2net_privacy.redact import get_logger

if TYPE_CHECKING:
    import asyncio

__all__ = ["RunningBatch"]

_log = get_logger(__name__)


class RunningBatch:
    """The tasks of one running fetch_many, so a revocation can cancel them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread = threading.get_ident()
        self.tasks: list[asyncio.Task[AvatarResult]] = []

    def cancel(self, wait: float) -> None:
        """Cancel every task and wait (at most ``wait`` s) until the loop has done it.

        Once the loop has run the cancellation, every task sits at an await:
        either past the egress hand-off of its request, or cancelled before
        it. So no request of this batch leaves after this returns.
        """
        if threading.get_ident() == self.thread:
            self._cancel()  # called from the batch's own loop: nothing to wait for
            return
        done = threading.Event()

        def cancel_now() -> None:
            self._cancel()
            done.set()

        try:
            self.loop.call_soon_threadsafe(cancel_now)
        except RuntimeError:
            return  # a closed loop: its batch is over, nothing to cancel
        if not done.wait(wait):
            _log.warning("gravatar batch cancellation not confirmed within %.1f s", wait)

    def _cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
