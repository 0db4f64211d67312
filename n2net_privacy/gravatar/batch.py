"""A running ``fetch_many`` batch: its lanes, and how a revocation cancels it from another thread.

When Gravatar is switched off, the setter's thread cancels every running
batch and waits (bounded) until the batch's event loop has run the
cancellation: from then on each task is either past the egress hand-off of
its request or cancelled before it, so no request of the batch leaves the
device after the setter returns.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from n2net_privacy.gravatar.result import AvatarResult
from n2net_privacy.ohttp.client import AsyncRelayClient
from n2net_privacy.redact import get_logger

if TYPE_CHECKING:
    import asyncio

__all__ = ["Lanes", "RunningBatch"]

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


class Lanes:
    """At most ``size`` requests at once, each on a client of its own lane.

    A lane's client (made on first need, reused after: its connection stays
    alive) carries one request at a time, so a pool never holds more than
    one connection. One client with ``size`` connections cost more CPU than
    the requests themselves: httpcore's pool walks every connection (and,
    for each idle one, all of them again) on each request and each reply.
    """

    def __init__(self, size: int, new_client: Callable[[], AsyncRelayClient]) -> None:
        import asyncio  # only batches need it: importing the module stays cheap

        self._slots = asyncio.Semaphore(size)
        self._new_client = new_client
        self._free: list[AsyncRelayClient] = []
        self._made: list[AsyncRelayClient] = []

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[AsyncRelayClient]:
        """Wait for a free lane; its client is the caller's until the block ends."""
        async with self._slots:
            if self._free:
                client = self._free.pop()  # the most recently used: its connection is warm
            else:
                client = self._new_client()
                self._made.append(client)
            try:
                yield client
            finally:
                self._free.append(client)

    async def aclose(self) -> None:
        """Close every client made (once the batch is over)."""
        for client in self._made:
            await client.aclose()
